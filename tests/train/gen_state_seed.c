/* Writes the training-state fuzz target's seed: a state of its model after
 * two steps (so the moments and activation steps are set).
 * usage: gen_state_seed OUT.state */
#include <stdio.h>
#include <string.h>

#include "state_fuzz_model.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_state_seed OUT.state\n");
        return 2;
    }
    qat_trainer *t = state_fuzz_trainer();
    int32_t ids[12] = {0, 5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1}, labels[12];
    for (int i = 0; i < 12; i++)
        labels[i] = i % 3 == 0 ? ids[i] : -100;
    float loss;
    for (int s = 0; s < 2 && t; s++)
        if (qat_trainer_step(t, ids, NULL, labels, 2, 6, &loss) != QAT_OK)
            t = NULL;
    uint64_t pos[2] = {1, 2};
    if (!t || qat_trainer_save(t, argv[1], pos) != QAT_OK) {
        fprintf(stderr, "gen_state_seed: %s\n", qat_last_error());
        return 1;
    }
    return 0;
}
