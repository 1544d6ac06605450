/* Status codes and the error context every fallible function fills.
 *
 * Every function that can fail returns fc_status and, on failure, writes one
 * precise message into an fc_err owned by the caller (stack or struct member;
 * nothing to free).  Messages name the file, node or field at fault. */
#ifndef FC_STATUS_H
#define FC_STATUS_H

#include <stddef.h>

typedef enum fc_status {
    FC_OK = 0,
    FC_ERR_INVALID_ARG,  /* caller passed something unusable (usage error) */
    FC_ERR_IO,           /* a file could not be opened, read or written */
    FC_ERR_PARSE,        /* a file's bytes are malformed */
    FC_ERR_UNSUPPORTED,  /* well-formed but outside what flipcheck implements */
    FC_ERR_SHAPE,        /* shapes or types that do not fit together */
    FC_ERR_LIMIT,        /* a size over a documented cap, or an overflow */
    FC_ERR_NOMEM,        /* an allocation failed */
    FC_ERR_SECURITY,     /* a file tried to reach outside where it may (paths) */
    FC_ERR_INTERNAL,     /* a broken invariant of ours: a bug */
    FC_STATUS_COUNT
} fc_status;

#define FC_ERR_MSG_MAX 512

typedef struct fc_err {
    fc_status status;
    char msg[FC_ERR_MSG_MAX];
} fc_err;

/* Stable lower-case name ("parse_error", ...) for messages and JSON. */
const char *fc_status_name(fc_status s);

/* Clears the context to FC_OK with an empty message. NULL is allowed. */
void fc_err_clear(fc_err *err);

/* Records status and a printf-style message; returns status so callers can
 * write `return fc_err_set(err, FC_ERR_PARSE, "...", ...)`.  err may be NULL. */
fc_status fc_err_set(fc_err *err, fc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("model.onnx: ") to an existing message, keeping the
 * status.  Used when a lower layer did not know the file name. */
void fc_err_prefix(fc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
