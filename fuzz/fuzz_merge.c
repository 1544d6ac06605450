/* libFuzzer harness: `flipcheck merge` of sweep JSON (fc_sweep_merge).
 *
 * The input is split at lines "----" into up to 4 shard documents, each
 * written to a file in a private temporary folder (fc_sweep_merge reads
 * files, as the command does), then merged.  A merged document is also
 * compared with the first shard as baseline (fc_sweep_compare), which is
 * what a nightly job does next. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep/fc_sweep.h"

#define MAX_SHARDS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fc-fuzz-merge-XXXXXX");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return 0;
        }
    }
    static const char sep[] = "\n----\n";
    char paths[MAX_SHARDS][96];
    const char *pp[MAX_SHARDS];
    int n = 0;
    size_t start = 0;
    while (n < MAX_SHARDS) {
        size_t end = size;
        if (n < MAX_SHARDS - 1) {
            for (size_t i = start; i + sizeof sep - 1 <= size; i++)
                if (memcmp(data + i, sep, sizeof sep - 1) == 0) {
                    end = i;
                    break;
                }
        }
        snprintf(paths[n], sizeof paths[n], "%s/shard%d.json", dir, n);
        if (write_file(paths[n], data + start, end - start) != 0)
            return 0;
        pp[n] = paths[n];
        n++;
        if (end == size)
            break;
        start = end + sizeof sep - 1;
    }
    fc_err err;
    cJSON *doc = NULL;
    if (fc_sweep_merge(pp, n, &doc, &err) == FC_OK) {
        cJSON *base = NULL;
        if (fc_sweep_load(pp[0], &base, &err) == FC_OK) {
            int count = 0;
            (void)fc_sweep_compare(doc, base, 0.01, 0.01, &count, &err);
            cJSON_Delete(base);
        }
        cJSON_Delete(doc);
    }
    return 0;
}
