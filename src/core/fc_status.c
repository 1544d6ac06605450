#include "fc_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *fc_status_name(fc_status s)
{
    static const char *const names[FC_STATUS_COUNT] = {
        [FC_OK] = "ok",
        [FC_ERR_INVALID_ARG] = "invalid_argument",
        [FC_ERR_IO] = "io_error",
        [FC_ERR_PARSE] = "parse_error",
        [FC_ERR_UNSUPPORTED] = "unsupported",
        [FC_ERR_SHAPE] = "shape_error",
        [FC_ERR_LIMIT] = "limit_exceeded",
        [FC_ERR_NOMEM] = "out_of_memory",
        [FC_ERR_SECURITY] = "security_error",
        [FC_ERR_INTERNAL] = "internal_error",
    };
    _Static_assert(FC_STATUS_COUNT == 10, "name every status");
    if ((unsigned)s >= FC_STATUS_COUNT)
        return "unknown_status";
    return names[s];
}

void fc_err_clear(fc_err *err)
{
    if (!err)
        return;
    err->status = FC_OK;
    err->msg[0] = '\0';
}

fc_status fc_err_set(fc_err *err, fc_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

void fc_err_prefix(fc_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[FC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Truncation keeps the start (the prefix names the file) on purpose. */
    size_t plen = strlen(prefix);
    size_t mlen = strlen(err->msg);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    if (plen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}
