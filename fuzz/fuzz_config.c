/* libFuzzer harness: config text -> fc_config_parse -> fc_config_free.
 * The bytes are copied into a NUL-terminated buffer (the parser takes a C
 * string), so an embedded NUL simply ends the text early. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/fc_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    fc_err err;
    if (fc_config_parse(text, "fuzz.json", "/nonexistent-fuzz-dir", &cfg, &err) == FC_OK)
        fc_config_free(&cfg);
    free(text);
    return 0;
}
