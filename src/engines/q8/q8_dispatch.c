/* Which int8 GEMM the q8 engine runs: chosen once from the CPU's features,
 * overridable by FLIPCHECK_Q8_ISA (for tests and benchmarks) or by
 * fc_q8_set_isa.  Every implementation gives the same bits, so the choice
 * only ever changes speed.
 *
 * The library never prints: a FLIPCHECK_Q8_ISA naming an unknown ISA or one
 * the CPU lacks is ignored, and callers who want to report it compare
 * fc_q8_isa() with the variable or call fc_q8_set_isa themselves. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "q8_gemm.h"

typedef struct isa_entry {
    const char *name;
    fc_q8_gemm_fn fn;
} isa_entry;

/* Worst to best: the automatic choice is the last one the CPU supports. */
static const isa_entry isas[] = {
    {"ref", fc_q8_gemm_ref},
    {"portable", fc_q8_gemm_portable},
    {"avx2", fc_q8_gemm_avx2},
    {"avx512", fc_q8_gemm_avx512},
};
#define N_ISAS ((int)(sizeof isas / sizeof isas[0]))

/* Index into isas, -1 until the first use.  Atomic so that concurrent first
 * calls are well-defined; they compute the same value. */
static atomic_int chosen = -1;

static bool cpu_has(int i)
{
    const char *name = isas[i].name;
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    return true; /* ref and portable are plain C */
}

static int find(const char *name)
{
    for (int i = 0; i < N_ISAS; i++)
        if (strcmp(isas[i].name, name) == 0)
            return i;
    return -1;
}

static int choose(void)
{
    int i = atomic_load(&chosen);
    if (i >= 0)
        return i;
    __builtin_cpu_init();
    const char *env = getenv("FLIPCHECK_Q8_ISA");
    i = env ? find(env) : -1;
    if (i < 0 || !cpu_has(i)) {
        i = N_ISAS - 1;
        while (i > 0 && !cpu_has(i))
            i--;
    }
    int expected = -1;
    /* a concurrent fc_q8_set_isa wins over the automatic choice */
    if (!atomic_compare_exchange_strong(&chosen, &expected, i))
        i = expected;
    return i;
}

fc_q8_gemm_fn fc_q8_gemm(void)
{
    return isas[choose()].fn;
}

const char *fc_q8_isa(void)
{
    return isas[choose()].name;
}

fc_status fc_q8_set_isa(const char *name, fc_err *err)
{
    if (name && strcmp(name, "auto") == 0) {
        atomic_store(&chosen, -1);
        return FC_OK;
    }
    const int i = name ? find(name) : -1;
    if (i < 0)
        return fc_err_set(err, FC_ERR_INVALID_ARG,
                          "unknown int8 GEMM ISA '%s' (expected ref, portable, avx2, avx512 "
                          "or auto)",
                          name ? name : "(null)");
    __builtin_cpu_init();
    if (!cpu_has(i))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "this CPU cannot run the %s int8 GEMM",
                          isas[i].name);
    atomic_store(&chosen, i);
    return FC_OK;
}
