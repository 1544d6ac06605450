/* SHA-256 (FIPS 180-4) of files and buffers: the fingerprint `flipcheck
 * info` prints and the config can pin per model file, so a verdict is tied
 * to the exact bytes that were tested.
 *
 * Written from the standard (no library on the project's dependency list
 * provides it; see docs/limits.md) and checked against the NIST example
 * vectors and sha256sum in tests/test_sha256.c. */
#ifndef FC_SHA256_H
#define FC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "fc_status.h"

typedef struct fc_sha256 {
    uint32_t h[8];
    uint64_t total;        /* bytes fed so far */
    uint8_t block[64];
    size_t used;           /* bytes waiting in block */
} fc_sha256;

void fc_sha256_init(fc_sha256 *s);
void fc_sha256_update(fc_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; the state must be re-initialised to reuse it. */
void fc_sha256_final(fc_sha256 *s, uint8_t digest[32]);

/* Digest of a whole regular file as 64 lower-case hex digits + NUL, read in
 * chunks (any size).  FC_ERR_IO names the file. */
fc_status fc_sha256_file(const char *path, char hex[65], fc_err *err);

#endif
