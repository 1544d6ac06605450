/* The report text buffer, HTML/XML escaping, base64 and the results.json
 * accessors.  Escaping decodes UTF-8 strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF) so a model name of stray bytes can
 * neither break the page's markup nor make junit.xml ill-formed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "report_internal.h"

void rp_init(rp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void rp_free(rp_buf *b)
{
    fc_free(b->data);
    rp_init(b);
}

static bool reserve(rp_buf *b, size_t more)
{
    if (b->failed)
        return false;
    size_t need;
    if (!fc_add_size(b->len, more, &need) || !fc_add_size(need, 1, &need)) {
        b->failed = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (!fc_mul_size(cap, 2, &cap)) {
            b->failed = true;
            return false;
        }
    }
    char *p = fc_realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void rp_putn(rp_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rp_put(rp_buf *b, const char *s)
{
    rp_putn(b, s, strlen(s));
}

void rp_printf(rp_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        rp_putn(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and
 * sets *cp, or returns 1 with *cp = -1 for an invalid byte. */
static size_t utf8_next(const unsigned char *s, size_t n, long *cp)
{
    unsigned c = s[0];
    size_t len;
    long v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = -1;
        return 1;
    }
    if (len > n) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return len;
}

static void escape(rp_buf *b, const char *s, bool xml)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        long cp;
        size_t len = utf8_next(p, n, &cp);
        if (cp < 0 || (xml && (cp == 0xFFFE || cp == 0xFFFF))) {
            rp_put(b, "\xEF\xBF\xBD");
        } else if (cp == '&') {
            rp_put(b, "&amp;");
        } else if (cp == '<') {
            rp_put(b, "&lt;");
        } else if (cp == '>') {
            rp_put(b, "&gt;");
        } else if (cp == '"') {
            rp_put(b, "&quot;");
        } else if (cp == '\'') {
            rp_put(b, "&#39;");
        } else if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F ||
                   (cp >= 0x80 && cp < 0xA0)) {
            /* control characters: dropped (a CR would only confuse diffs) */
        } else {
            rp_putn(b, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
}

void rp_text(rp_buf *b, const char *s)
{
    escape(b, s, false);
}

void rp_xml(rp_buf *b, const char *s)
{
    escape(b, s, true);
}

void rp_num(rp_buf *b, double v, int digits)
{
    if (!isfinite(v))
        rp_put(b, "n/a");
    else
        rp_printf(b, "%.*g", digits, v);
}

void rp_base64(rp_buf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out;
    if (!fc_mul_size(n / 3 + 1, 4, &out) || !reserve(b, out))
        return;
    char *d = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = tab[v >> 18];
        *d++ = tab[(v >> 12) & 63];
        *d++ = tab[(v >> 6) & 63];
        *d++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *d++ = tab[v >> 18];
        *d++ = tab[(v >> 12) & 63];
        *d++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *d++ = '=';
    }
    b->len = (size_t)(d - b->data);
    b->data[b->len] = '\0';
}

const cJSON *rp_get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const char *rp_str(const cJSON *o, const char *key)
{
    const cJSON *v = rp_get(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

bool rp_numv(const cJSON *o, const char *key, double *v)
{
    const cJSON *j = rp_get(o, key);
    if (!cJSON_IsNumber(j))
        return false;
    *v = j->valuedouble;
    return true;
}

double rp_num_or(const cJSON *o, const char *key, double def)
{
    double v;
    return rp_numv(o, key, &v) ? v : def;
}
