/* Reading whole files whose size someone else chose.
 *
 * Every reader of untrusted files (models, tensors, images, configs) goes
 * through here so the size cap is checked from fstat before any allocation
 * and only regular files are read (a FIFO or /dev/zero cannot hang or
 * exhaust us). */
#ifndef FC_FILE_H
#define FC_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fc_status.h"

/* Reads the whole regular file `path` into a new buffer (*out, caller frees
 * with fc_free; one extra NUL byte is appended so text parsers may treat it
 * as a string, not counted in *len).  Files over `cap` bytes fail with
 * FC_ERR_LIMIT; `what` ("model", "image") names the file's role in messages. */
fc_status fc_file_read_all(const char *path, uint64_t cap, const char *what, uint8_t **out,
                           size_t *len, fc_err *err);

/* Writes len bytes to path (replacing it).  FC_ERR_IO naming the file. */
fc_status fc_file_write_all(const char *path, const void *data, size_t len, fc_err *err);

/* Same, but through a temporary file in the same folder renamed over path,
 * so a reader (or a crash half-way) never sees half a file. */
fc_status fc_file_write_atomic(const char *path, const void *data, size_t len, fc_err *err);

/* mkdir -p: creates path and its missing parents. */
fc_status fc_file_mkdirs(const char *path, fc_err *err);

#endif
