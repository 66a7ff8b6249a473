/* Test helper for check_roundtrip.py: re-saves a HF checkpoint directory
 * through libqat's readers and writers.
 *
 *   formats_tool copy IN_DIR OUT_DIR ARCHITECTURE
 *     reads IN_DIR (config.json + any weights layout) and writes
 *     OUT_DIR/config.json and OUT_DIR/model.safetensors. */
#include <stdio.h>
#include <string.h>

#include "formats/hf_config.h"
#include "formats/hf_dir.h"
#include "formats/safetensors.h"

int main(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[1], "copy") != 0) {
        fprintf(stderr, "usage: %s copy IN_DIR OUT_DIR ARCHITECTURE\n", argv[0]);
        return 2;
    }
    qat_model_dims dims;
    qat_hf_labels labels;
    qat_tensor_set *set;
    if (qat_formats_hf_dir_read(argv[2], 0, &dims, &labels, &set) != QAT_OK) {
        fprintf(stderr, "read: %s\n", qat_last_error());
        return 1;
    }
    char path[4096];
    int rc = 0;
    snprintf(path, sizeof path, "%s/config.json", argv[3]);
    if (qat_hf_config_write(path, &dims, argv[4], &labels) != QAT_OK) {
        fprintf(stderr, "config: %s\n", qat_last_error());
        rc = 1;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", argv[3]);
    if (rc == 0 && qat_safetensors_write(path, set, NULL, 0) != QAT_OK) {
        fprintf(stderr, "safetensors: %s\n", qat_last_error());
        rc = 1;
    }
    qat_tensor_set_free(set);
    qat_hf_labels_clear(&labels);
    return rc;
}
