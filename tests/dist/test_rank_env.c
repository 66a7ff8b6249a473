/* The rank environment (lib/dist/rank_env.c): torchrun's and srun's
 * variables, the rendezvous settings, and every bad or inconsistent value
 * refused with a message naming the variable. */
#include <string.h>

#include "core/error.h"
#include "dist/rank_env.h"
#include "test_main.h"

/* An environment as NULL-terminated "NAME=value" strings. */
static const char *lookup(void *user, const char *name)
{
    const size_t len = strlen(name);
    for (const char *const *v = user; *v; v++)
        if (strncmp(*v, name, len) == 0 && (*v)[len] == '=')
            return *v + len + 1;
    return NULL;
}

static qat_status parse(const char *const *vars, qat_rank_env *e)
{
    return qat_rank_env_parse(lookup, (void *)vars, e);
}

START_TEST(test_no_variables_is_one_rank)
{
    const char *vars[] = {"HOME=/root", NULL};
    qat_rank_env e;
    QAT_ASSERT_OK(parse(vars, &e));
    ck_assert_int_eq(e.rank, 0);
    ck_assert_int_eq(e.world, 1);
    ck_assert_int_eq(e.local_rank, 0);
    ck_assert_int_eq(e.source, QAT_RANK_SOURCE_NONE);
    ck_assert(e.timeout_s == 300.0);
}
END_TEST

START_TEST(test_torchrun)
{
    const char *vars[] = {"RANK=3", "WORLD_SIZE=8", "LOCAL_RANK=1", "MASTER_ADDR=node7", "MASTER_PORT=29500",
                          "QAT_DIST_TIMEOUT=2.5", NULL};
    qat_rank_env e;
    QAT_ASSERT_OK(parse(vars, &e));
    ck_assert_int_eq(e.rank, 3);
    ck_assert_int_eq(e.world, 8);
    ck_assert_int_eq(e.local_rank, 1);
    ck_assert_int_eq(e.source, QAT_RANK_SOURCE_TORCHRUN);
    ck_assert_str_eq(e.master_addr, "node7");
    ck_assert_int_eq(e.master_port, 29500);
    ck_assert_str_eq(e.file, "");
    ck_assert(e.timeout_s == 2.5);
    /* without LOCAL_RANK: one node, the local rank is the rank */
    const char *one_node[] = {"RANK=2", "WORLD_SIZE=4", "QAT_DIST_FILE=/shared/job/rdzv", NULL};
    QAT_ASSERT_OK(parse(one_node, &e));
    ck_assert_int_eq(e.local_rank, 2);
    ck_assert_str_eq(e.file, "/shared/job/rdzv");
    ck_assert_str_eq(e.master_addr, "");
}
END_TEST

START_TEST(test_slurm_and_precedence)
{
    const char *srun[] = {"SLURM_PROCID=5", "SLURM_NTASKS=6", "SLURM_LOCALID=1", "QAT_DIST_FILE=/s/f", NULL};
    qat_rank_env e;
    QAT_ASSERT_OK(parse(srun, &e));
    ck_assert_int_eq(e.rank, 5);
    ck_assert_int_eq(e.world, 6);
    ck_assert_int_eq(e.local_rank, 1);
    ck_assert_int_eq(e.source, QAT_RANK_SOURCE_SLURM);
    /* an sbatch script's single task: SLURM's variables, one rank, no rendezvous needed */
    const char *batch[] = {"SLURM_PROCID=0", "SLURM_NTASKS=1", NULL};
    QAT_ASSERT_OK(parse(batch, &e));
    ck_assert_int_eq(e.world, 1);
    /* torchrun inside an srun allocation: torchrun's variables win */
    const char *both[] = {"SLURM_PROCID=0", "SLURM_NTASKS=1", "RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=h",
                          "MASTER_PORT=1", NULL};
    QAT_ASSERT_OK(parse(both, &e));
    ck_assert_int_eq(e.rank, 1);
    ck_assert_int_eq(e.world, 2);
    ck_assert_int_eq(e.source, QAT_RANK_SOURCE_TORCHRUN);
}
END_TEST

typedef struct bad_case {
    const char *vars[7];
    const char *needle;
} bad_case;

START_TEST(test_bad_values_refused)
{
    static const bad_case cases[] = {
        {{"RANK=2", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK=2 is not below WORLD_SIZE=2"},
        {{"RANK=-1", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK=-1 is out of range"},
        {{"RANK=0", "WORLD_SIZE=0", "QAT_DIST_FILE=/f"}, "WORLD_SIZE=0 is out of range"},
        {{"RANK=one", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK='one' is not an integer"},
        {{"RANK=1x", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK='1x' is not an integer"},
        {{"RANK=", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK='' is not an integer"},
        {{"RANK= 1", "WORLD_SIZE=2", "QAT_DIST_FILE=/f"}, "RANK=' 1' is not an integer"},
        {{"RANK=0", "WORLD_SIZE=99999999999", "QAT_DIST_FILE=/f"}, "WORLD_SIZE="},
        {{"RANK=0"}, "RANK is set but WORLD_SIZE is not"},
        {{"WORLD_SIZE=2"}, "WORLD_SIZE is set but RANK is not"},
        {{"SLURM_NTASKS=4"}, "SLURM_NTASKS is set but SLURM_PROCID is not"},
        {{"SLURM_PROCID=4", "SLURM_NTASKS=4", "QAT_DIST_FILE=/f"}, "SLURM_PROCID=4 is not below SLURM_NTASKS=4"},
        {{"RANK=0", "WORLD_SIZE=2", "LOCAL_RANK=2", "QAT_DIST_FILE=/f"}, "LOCAL_RANK=2 is not below WORLD_SIZE=2"},
        {{"RANK=0", "WORLD_SIZE=2", "LOCAL_RANK=-3", "QAT_DIST_FILE=/f"}, "LOCAL_RANK=-3 is out of range"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=host"}, "MASTER_ADDR=host is set but MASTER_PORT is not"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_PORT=29500"}, "MASTER_PORT=29500 is set but MASTER_ADDR is not"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=0"}, "MASTER_PORT=0 is out of range [1, 65535]"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=70000"}, "MASTER_PORT=70000 is out of range"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=http"}, "MASTER_PORT='http' is not an integer"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=", "MASTER_PORT=1"}, "MASTER_ADDR is empty"},
        {{"RANK=0", "WORLD_SIZE=2", "QAT_DIST_FILE="}, "QAT_DIST_FILE is empty"},
        {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=1", "QAT_DIST_FILE=/f"}, "choose one rendezvous"},
        {{"RANK=0", "WORLD_SIZE=2"}, "RANK/WORLD_SIZE gives 2 ranks but no rendezvous"},
        {{"SLURM_PROCID=0", "SLURM_NTASKS=2"}, "SLURM_PROCID/SLURM_NTASKS gives 2 ranks but no rendezvous"},
        {{"QAT_DIST_TIMEOUT=0"}, "QAT_DIST_TIMEOUT='0' is not a positive number"},
        {{"QAT_DIST_TIMEOUT=soon"}, "QAT_DIST_TIMEOUT='soon'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qat_rank_env e;
        qat_status st = parse(cases[i].vars, &e);
        ck_assert_msg(st == QAT_ERR_INVALID_ARGUMENT, "case %zu accepted", i);
        ck_assert_msg(strstr(qat_last_error(), cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i,
                      qat_last_error(), cases[i].needle);
        ck_assert_msg(strstr(qat_last_error(), "the data-parallel environment") != NULL, "case %zu: '%s'", i,
                      qat_last_error());
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rank_env");
    TCase *tc = tcase_create("rank_env");
    tcase_add_test(tc, test_no_variables_is_one_rank);
    tcase_add_test(tc, test_torchrun);
    tcase_add_test(tc, test_slurm_and_precedence);
    tcase_add_test(tc, test_bad_values_refused);
    suite_add_tcase(s, tc);
    return s;
}
