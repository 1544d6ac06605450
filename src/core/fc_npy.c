#include "fc_npy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fc_alloc.h"
#include "fc_limits.h"

/* Data is copied between file and tensor byte for byte, which is only right
 * on a little-endian host (every host flipcheck targets). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fc_npy.c assumes a little-endian host"
#endif

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
#define NPY_PREFIX_MAX 12 /* magic 6 + version 2 + header length 2 or 4 */

typedef struct npy_header {
    fc_dtype dtype;
    int rank;
    int64_t dims[FC_MAX_RANK];
    size_t numel;
    size_t data_bytes;
} npy_header;

/* ---- preamble ------------------------------------------------------------ */

/* Checks magic and version in the first n bytes (n may be short) and
 * returns the header length and where the header starts. */
static fc_status parse_prefix(const uint8_t *b, size_t n, const char *label,
                              size_t *hlen, size_t *hoff, fc_err *err)
{
    size_t m = n < sizeof npy_magic ? n : sizeof npy_magic;
    if (n == 0 || memcmp(b, npy_magic, m) != 0)
        return fc_err_set(err, FC_ERR_PARSE,
                          "%s: not a .npy file (bad magic, expected \\x93NUMPY)", label);
    if (n < 8)
        return fc_err_set(err, FC_ERR_PARSE,
                          "%s: truncated: %zu bytes, shorter than the .npy preamble", label, n);
    unsigned major = b[6], minor = b[7];
    size_t lb;
    if (major == 1 && minor == 0)
        lb = 2;
    else if ((major == 2 || major == 3) && minor == 0)
        lb = 4; /* 3.0 differs from 2.0 only in allowing UTF-8 in the header */
    else
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: .npy format version %u.%u is not supported (1.0, 2.0, 3.0 are)",
                          label, major, minor);
    if (n < 8 + lb)
        return fc_err_set(err, FC_ERR_PARSE,
                          "%s: truncated: %zu bytes, shorter than the .npy preamble", label, n);
    uint32_t len = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (lb == 4)
        len |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (len > FC_MAX_NPY_HEADER)
        return fc_err_set(err, FC_ERR_LIMIT,
                          "%s: header length %lu over the cap of %d bytes (FC_MAX_NPY_HEADER)",
                          label, (unsigned long)len, FC_MAX_NPY_HEADER);
    *hlen = len;
    *hoff = 8 + lb;
    return FC_OK;
}

/* ---- header dict: a strict tokenizer for NumPy's Python literal ----------- */

typedef struct tok {
    const char *start, *p, *end;
    const char *label;
} tok;

static void skip_ws(tok *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static size_t tok_off(const tok *t) { return (size_t)(t->p - t->start); }

static fc_status tok_fail(const tok *t, const char *field, const char *expected, fc_err *err)
{
    if (field)
        return fc_err_set(err, FC_ERR_PARSE, "%s: header field '%s': expected %s at offset %zu",
                          t->label, field, expected, tok_off(t));
    return fc_err_set(err, FC_ERR_PARSE, "%s: header: expected %s at offset %zu", t->label,
                      expected, tok_off(t));
}

static bool accept(tok *t, char c)
{
    skip_ws(t);
    if (t->p < t->end && *t->p == c) {
        t->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (NumPy never writes any); fits in cap. */
static fc_status parse_str(tok *t, char *buf, size_t cap, const char *field, fc_err *err)
{
    skip_ws(t);
    if (t->p >= t->end || (*t->p != '\'' && *t->p != '"'))
        return tok_fail(t, field, "a quoted string", err);
    char q = *t->p++;
    size_t n = 0;
    while (t->p < t->end && *t->p != q) {
        if (*t->p == '\\' || *t->p == '\0' || n + 1 >= cap)
            return tok_fail(t, field, "a short string without escapes", err);
        buf[n++] = *t->p++;
    }
    if (t->p >= t->end)
        return tok_fail(t, field, "a closing quote", err);
    t->p++;
    buf[n] = '\0';
    return FC_OK;
}

static bool accept_word(tok *t, const char *w)
{
    skip_ws(t);
    size_t n = strlen(w);
    if ((size_t)(t->end - t->p) >= n && memcmp(t->p, w, n) == 0) {
        t->p += n;
        return true;
    }
    return false;
}

static fc_status parse_descr(tok *t, npy_header *h, fc_err *err)
{
    skip_ws(t);
    if (t->p < t->end && *t->p == '[')
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: header field 'descr': structured dtypes are not supported", t->label);
    char d[32];
    fc_status st = parse_str(t, d, sizeof d, "descr", err);
    if (st)
        return st;
    static const struct { const char *code; fc_dtype dt; } codes[] = {
        {"f4", FC_DT_F32}, {"f8", FC_DT_F64}, {"u1", FC_DT_U8}, {"i1", FC_DT_I8},
        {"i4", FC_DT_I32}, {"i8", FC_DT_I64}, {"b1", FC_DT_BOOL},
    };
    char order = d[0];
    const char *code = (order == '<' || order == '>' || order == '|' || order == '=') ? d + 1 : d;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(code, codes[i].code) != 0)
            continue;
        bool one_byte = fc_dtype_size(codes[i].dt) == 1;
        /* Byte order means nothing for one-byte types; wider ones must be
         * little-endian ('<', or '=' / none: native on our host). */
        if (order == '>' && !one_byte)
            return fc_err_set(err, FC_ERR_UNSUPPORTED,
                              "%s: header field 'descr': big-endian dtype '%s' is not supported "
                              "(save it little-endian, e.g. arr.astype('<%s'))",
                              t->label, d, code);
        if (order == '|' && !one_byte)
            break;
        h->dtype = codes[i].dt;
        return FC_OK;
    }
    return fc_err_set(err, FC_ERR_UNSUPPORTED,
                      "%s: header field 'descr': dtype '%s' is not supported "
                      "(supported: <f4 <f8 |u1 |i1 <i4 <i8 |b1)", t->label, d);
}

static fc_status parse_fortran(tok *t, fc_err *err)
{
    if (accept_word(t, "False"))
        return FC_OK;
    if (accept_word(t, "True"))
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: header field 'fortran_order' is True: Fortran-order arrays are "
                          "not supported (save np.ascontiguousarray(a))", t->label);
    return tok_fail(t, "fortran_order", "True or False", err);
}

static fc_status parse_dim(tok *t, int axis, int64_t *out, fc_err *err)
{
    skip_ws(t);
    bool neg = false;
    if (t->p < t->end && *t->p == '-') {
        neg = true;
        t->p++;
    }
    if (t->p >= t->end || *t->p < '0' || *t->p > '9')
        return tok_fail(t, "shape", "an integer", err);
    int64_t v = 0;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9') {
        int digit = *t->p++ - '0';
        if (v > (INT64_MAX - digit) / 10)
            return fc_err_set(err, FC_ERR_LIMIT,
                              "%s: header field 'shape': dimension at axis %d does not fit in "
                              "64 bits", t->label, axis);
        v = v * 10 + digit;
    }
    if (t->p < t->end && *t->p == 'L') /* Python 2 longs, seen in old files */
        t->p++;
    *out = neg ? -v : v;
    return FC_OK;
}

static fc_status parse_shape(tok *t, npy_header *h, fc_err *err)
{
    if (!accept(t, '('))
        return tok_fail(t, "shape", "'('", err);
    h->rank = 0;
    if (accept(t, ')'))
        return FC_OK;
    for (;;) {
        if (h->rank == FC_MAX_RANK)
            return fc_err_set(err, FC_ERR_LIMIT,
                              "%s: header field 'shape': more than %d dimensions (FC_MAX_RANK)",
                              t->label, FC_MAX_RANK);
        fc_status st = parse_dim(t, h->rank, &h->dims[h->rank], err);
        if (st)
            return st;
        h->rank++;
        if (accept(t, ')'))
            return FC_OK;
        if (!accept(t, ','))
            return tok_fail(t, "shape", "',' or ')'", err);
        if (accept(t, ')'))
            return FC_OK;
    }
}

static fc_status parse_dict(const char *text, size_t len, const char *label, npy_header *h,
                            fc_err *err)
{
    tok t = {text, text, text + len, label};
    enum { F_DESCR = 1, F_FORTRAN = 2, F_SHAPE = 4 };
    unsigned seen = 0;
    if (!accept(&t, '{'))
        return tok_fail(&t, NULL, "'{' starting the header dict", err);
    while (!accept(&t, '}')) {
        char key[32];
        fc_status st = parse_str(&t, key, sizeof key, NULL, err);
        if (st)
            return st;
        unsigned bit = !strcmp(key, "descr") ? F_DESCR
                       : !strcmp(key, "fortran_order") ? F_FORTRAN
                       : !strcmp(key, "shape") ? F_SHAPE : 0;
        if (!bit)
            return fc_err_set(err, FC_ERR_PARSE, "%s: header has unknown field '%s'", label, key);
        if (seen & bit)
            return fc_err_set(err, FC_ERR_PARSE, "%s: header field '%s' appears twice", label, key);
        seen |= bit;
        if (!accept(&t, ':'))
            return tok_fail(&t, key, "':'", err);
        st = bit == F_DESCR ? parse_descr(&t, h, err)
             : bit == F_FORTRAN ? parse_fortran(&t, err) : parse_shape(&t, h, err);
        if (st)
            return st;
        if (!accept(&t, ',')) {
            if (!accept(&t, '}'))
                return tok_fail(&t, NULL, "',' or '}'", err);
            break;
        }
    }
    skip_ws(&t);
    if (t.p != t.end)
        return tok_fail(&t, NULL, "only whitespace after the header dict", err);
    static const char *const names[] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++)
        if (!(seen & (1u << i)))
            return fc_err_set(err, FC_ERR_PARSE, "%s: header has no '%s' field", label, names[i]);

    char what[FC_ERR_MSG_MAX];
    snprintf(what, sizeof what, "%s: header field 'shape'", label);
    fc_status st = fc_shape_numel(h->rank, h->dims, &h->numel, what, err);
    if (st)
        return st;
    if (!fc_mul_size(h->numel, fc_dtype_size(h->dtype), &h->data_bytes) ||
        h->data_bytes > FC_MAX_TENSOR_BYTES)
        return fc_err_set(err, FC_ERR_LIMIT,
                          "%s: header field 'shape': data over %llu bytes (FC_MAX_TENSOR_BYTES)",
                          label, (unsigned long long)FC_MAX_TENSOR_BYTES);
    return FC_OK;
}

/* The data must be exactly as long as the header says. */
static fc_status check_data_len(const npy_header *h, size_t avail, const char *label,
                                fc_err *err)
{
    if (avail == h->data_bytes)
        return FC_OK;
    char dims[128];
    fc_dims_str(h->rank, h->dims, dims, sizeof dims);
    if (avail < h->data_bytes)
        return fc_err_set(err, FC_ERR_PARSE,
                          "%s: truncated data: header field 'shape' %s of %s needs %zu bytes, "
                          "only %zu follow the header", label, dims, fc_dtype_name(h->dtype),
                          h->data_bytes, avail);
    return fc_err_set(err, FC_ERR_PARSE,
                      "%s: %zu bytes after the data: header field 'shape' %s of %s needs only "
                      "%zu bytes", label, avail - h->data_bytes, dims, fc_dtype_name(h->dtype),
                      h->data_bytes);
}

fc_status fc_npy_read_bytes(const uint8_t *bytes, size_t len, const char *label,
                            fc_tensor *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!label)
        label = "<npy bytes>";
    if (!bytes && len)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: NULL bytes", label);
    size_t hlen, hoff;
    fc_status st = parse_prefix(bytes, len, label, &hlen, &hoff, err);
    if (st)
        return st;
    if (len - hoff < hlen)
        return fc_err_set(err, FC_ERR_PARSE,
                          "%s: truncated header: header length says %zu bytes, only %zu follow",
                          label, hlen, len - hoff);
    npy_header h;
    memset(&h, 0, sizeof h);
    st = parse_dict((const char *)bytes + hoff, hlen, label, &h, err);
    if (st)
        return st;
    st = check_data_len(&h, len - hoff - hlen, label, err);
    if (st)
        return st;
    st = fc_tensor_alloc(out, h.dtype, h.rank, h.dims, err);
    if (st) {
        fc_err_prefix(err, "%s: ", label);
        return st;
    }
    if (h.data_bytes)
        memcpy(out->data, bytes + hoff + hlen, h.data_bytes);
    return FC_OK;
}

/* ---- files ---------------------------------------------------------------- */

static fc_status read_file_body(FILE *f, const char *path, fc_tensor *out, fc_err *err)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return fc_err_set(err, FC_ERR_IO, "%s: is a directory, not a .npy file", path);

    uint8_t pre[NPY_PREFIX_MAX];
    size_t n = fread(pre, 1, sizeof pre, f);
    if (ferror(f))
        return fc_err_set(err, FC_ERR_IO, "%s: read error", path);
    size_t hlen, hoff;
    fc_status st = parse_prefix(pre, n, path, &hlen, &hoff, err);
    if (st)
        return st;
    char *text = fc_malloc(hlen ? hlen : 1);
    if (!text)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for the header", path);
    /* The prefix read may already hold the first header bytes. */
    size_t have = n - hoff < hlen ? n - hoff : hlen;
    memcpy(text, pre + hoff, have);
    size_t got = have + fread(text + have, 1, hlen - have, f);
    npy_header h;
    memset(&h, 0, sizeof h);
    if (got < hlen)
        st = fc_err_set(err, FC_ERR_PARSE,
                        "%s: truncated header: header length says %zu bytes, only %zu follow",
                        path, hlen, got);
    else
        st = parse_dict(text, hlen, path, &h, err);
    size_t leftover = n - hoff - have; /* data bytes the prefix read took */
    fc_free(text);
    if (st)
        return st;
    /* For a regular file the size tells us, before allocating anything,
     * that a tiny file claims a huge shape. */
    if (S_ISREG(sb.st_mode)) {
        size_t off = hoff + hlen, fsize = (size_t)sb.st_size;
        st = check_data_len(&h, fsize > off ? fsize - off : 0, path, err);
        if (st)
            return st;
    }
    if (leftover > h.data_bytes)
        return check_data_len(&h, leftover, path, err);
    st = fc_tensor_alloc(out, h.dtype, h.rank, h.dims, err);
    if (st) {
        fc_err_prefix(err, "%s: ", path);
        return st;
    }
    uint8_t *dst = out->data;
    memcpy(dst, pre + hoff + have, leftover);
    size_t rd = leftover + fread(dst + leftover, 1, h.data_bytes - leftover, f);
    if (ferror(f)) {
        fc_tensor_release(out);
        return fc_err_set(err, FC_ERR_IO, "%s: read error", path);
    }
    /* Checked again after reading: the file may not be regular, or may
     * have changed since fstat. */
    size_t extra = (rd == h.data_bytes && fgetc(f) != EOF) ? 1 : 0;
    if (rd != h.data_bytes || extra) {
        fc_tensor_release(out);
        return check_data_len(&h, rd + extra, path, err);
    }
    return FC_OK;
}

fc_status fc_npy_read(const char *path, fc_tensor *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_npy_read: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fc_status st = read_file_body(f, path, out, err);
    fclose(f);
    return st;
}

static const char *descr_of(fc_dtype dt)
{
    switch (dt) {
    case FC_DT_F32: return "<f4";
    case FC_DT_F64: return "<f8";
    case FC_DT_U8: return "|u1";
    case FC_DT_I8: return "|i1";
    case FC_DT_I32: return "<i4";
    case FC_DT_I64: return "<i8";
    case FC_DT_BOOL: return "|b1";
    case FC_DT_UNDEFINED: break;
    }
    return NULL;
}

fc_status fc_npy_write(const char *path, const fc_tensor *t, fc_err *err)
{
    if (!path || !t)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_npy_write: NULL argument");
    const char *descr = descr_of(t->dtype);
    if (!descr)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: cannot write dtype %d as .npy", path,
                          (int)t->dtype);
    size_t numel;
    fc_status st = fc_shape_numel(t->rank, t->dims, &numel, path, err);
    if (st)
        return st;
    if (numel != t->numel || (numel && !t->data))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: tensor numel does not match its shape",
                          path);

    /* 8 ranks of 20 digits fit comfortably; +64 for padding. */
    char hdr[512];
    int len = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    for (int i = 0; i < t->rank; i++)
        len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s%lld", i ? ", " : "",
                        (long long)t->dims[i]);
    len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s), }", t->rank == 1 ? "," : "");
    /* NumPy pads with spaces and ends with '\n' so the data starts on a
     * 64-byte boundary (preamble is 10 bytes in version 1.0). */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + len, ' ', pad);
    len += (int)pad;
    hdr[len++] = '\n';
    uint8_t pre[10];
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (uint8_t)(len & 0xff);
    pre[9] = (uint8_t)(len >> 8);

    FILE *f = fopen(path, "wb");
    if (!f)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t bytes = fc_tensor_bytes(t);
    bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
              fwrite(hdr, 1, (size_t)len, f) == (size_t)len &&
              (bytes == 0 || fwrite(t->data, 1, bytes, f) == bytes);
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        remove(path);
        return fc_err_set(err, FC_ERR_IO, "%s: write failed: %s", path, strerror(saved));
    }
    return FC_OK;
}
