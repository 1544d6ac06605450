/* The "test-faulty" engine: the f32 engine plus two deliberate faults, so
 * the suites can prove that a crash or a hang inside one test is recorded
 * as such and loses no other result.  It exists only when the environment
 * sets FLIPCHECK_TEST_FAULTS=1 (the project's own tests do); a normal run
 * cannot select it. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_engine_internal.h"
#include "fc_kernel.h"

const fc_kernel_table fc_kernels_test_faulty = {
    .engine = "test-faulty", .defs = NULL, .count = 0, .fallback = &fc_kernels_f32};

bool fc_engine_faults_enabled(void)
{
    const char *v = getenv("FLIPCHECK_TEST_FAULTS");
    return v && !strcmp(v, "1");
}

/* A batch whose first value is NaN crashes (SIGSEGV), one whose first value
 * is +Inf hangs: the boundary-value cases contain both. */
void fc_engine_fault_inject(const fc_tensor *input)
{
    if (input->dtype != FC_DT_F32 || input->numel == 0)
        return;
    float v = ((const float *)input->data)[0];
    if (isnan(v)) {
        /* The default action, not a sanitizer's handler: a plain crash. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (isinf(v) && v > 0)
        for (;;)
            pause();
}
