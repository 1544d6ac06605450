/* libFuzzer harness: PNG bytes -> fc_png_read_bytes, for each channel
 * conversion (file's own, gray, RGB).  Caps are lowered (1 Mi pixels,
 * 16 MiB inflated) so a hostile header cannot make the fuzzer spend its
 * memory budget on legitimate-but-large images; the caps themselves are
 * tested in tests/test_caps.c. */
#include <stddef.h>
#include <stdint.h>

#include "io/fc_png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int want[] = {0, 1, 3};
    fc_png_limits lim = {.max_pixels = 1u << 20, .max_inflated = 16u << 20};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        fc_err err;
        fc_tensor t = {0};
        fc_png_info info;
        if (fc_png_read_bytes(data, size, "fuzz.png", want[i], &lim, &t, &info, &err) == FC_OK)
            fc_tensor_release(&t);
        else if (i == 0)
            break;   /* the same bytes fail the same way whatever the channels */
    }
    return 0;
}
