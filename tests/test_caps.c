/* Each documented cap (docs/limits.md) at the cap and one past it.
 *
 * At the cap the input must not be refused for the cap (it may still be
 * refused for something else: a header that declares 2^28 elements but
 * carries no data is a parse error, not limit_exceeded); one past it must be
 * refused with FC_ERR_LIMIT.  Inputs declare their sizes without the test
 * allocating them: big sizes come from headers, sparse files and untouched
 * anonymous mappings.  The PNG caps are tested through the caller's
 * fc_png_limits (the same code path as the defaults, which are also checked
 * one past). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_limits.h"
#include "hostile_craft.h"
#include "io/fc_config.h"
#include "io/fc_png.h"
#include "onnx/fc_onnx.h"

static char tmp[64];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/fc-caps-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void) { hc_remove_tree(tmp); }

/* Not refused for a cap (FC_OK or another error). */
#define ck_not_limit(st, err)                                                                 \
    ck_assert_msg((st) != FC_ERR_LIMIT, "refused at the cap: %s", (err).msg)
#define ck_limit(st, err)                                                                     \
    ck_assert_msg((st) == FC_ERR_LIMIT, "not refused one past the cap: %s (%s)",             \
                  fc_status_name(st), (err).msg)

static fc_status load_model(Onnx__ModelProto *m, fc_err *err)
{
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load_bytes(bytes, len, NULL, "caps.onnx", &g, err);
    free(bytes);
    fc_graph_free(g);
    return st;
}

/* ---- FC_MAX_MODEL_BYTES ------------------------------------------------------ */

START_TEST(model_bytes)
{
    /* A sparse file one byte longer than the cap (no disk, no memory). */
    size_t cap = (size_t)FC_MAX_MODEL_BYTES;
    char *path = hc_path(tmp, "big.onnx");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)cap + 1), 0);

    /* In memory, mapped: zeros are not a protobuf (tag 0), so at the cap
     * it is a parse error; one past it is refused before decoding. */
    uint8_t *p = mmap(NULL, cap + 1, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    close(fd);
    fc_err err;
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load_bytes(p, cap, NULL, "at-cap.onnx", &g, &err);
    ck_not_limit(st, err);
    ck_assert_int_eq(st, FC_ERR_PARSE);
    st = fc_onnx_load_bytes(p, cap + 1, NULL, "past-cap.onnx", &g, &err);
    ck_limit(st, err);
    ck_assert_ptr_null(g);
    munmap(p, cap + 1);

    /* From the file: one past the cap is refused from its size, before
     * anything is read.  (At the cap the file would be read whole: the
     * boundary of that size check is tested below with a small cap.) */
    st = fc_onnx_load(path, &g, &err);
    ck_limit(st, err);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    free(path);

    /* fc_file_read_all, which applies the cap to every file flipcheck
     * reads: at the cap and one past. */
    path = hc_write_file(tmp, "hundred.bin", tmp, 0);
    ck_assert_int_eq(truncate(path, 100), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = fc_file_read_all(path, 100, "test", &buf, &len, &err);
    ck_assert_msg(st == FC_OK, "%s", err.msg);
    ck_assert_uint_eq(len, 100);
    fc_free(buf);
    st = fc_file_read_all(path, 99, "test", &buf, &len, &err);
    ck_limit(st, err);
    free(path);
}
END_TEST

/* ---- FC_MAX_TENSOR_ELEMS (and FC_MAX_RANK) ------------------------------------ */

/* 2^28 = 16 * 2^24 and 2^28 + 1 = 17 * 15790321: the product, not only
 * each dim, is capped. */
static const int64_t at_cap[2] = {16, 16777216}, past_cap[2] = {17, 15790321};

START_TEST(tensor_elements)
{
    fc_err err;
    size_t n;
    ck_assert_int_eq(fc_shape_numel(2, at_cap, &n, "t", &err), FC_OK);
    ck_assert_uint_eq(n, (size_t)FC_MAX_TENSOR_ELEMS);
    ck_limit(fc_shape_numel(2, past_cap, &n, "t", &err), err);
    const int64_t one[1] = {(int64_t)FC_MAX_TENSOR_ELEMS}, one_past[1] = {one[0] + 1};
    ck_assert_int_eq(fc_shape_numel(1, one, &n, "t", &err), FC_OK);
    ck_limit(fc_shape_numel(1, one_past, &n, "t", &err), err);

    /* Through the loader: a graph input declared at the cap loads, one past
     * is refused (nothing of that size is allocated either way). */
    for (int past = 0; past < 2; past++) {
        Onnx__ModelProto *m = hc_bare_model(13, "x");
        hc_set_vi_dims(m->graph->input[0], 2, past ? past_cap : at_cap);
        fc_status st = load_model(m, &err);
        if (past)
            ck_limit(st, err);
        else
            ck_assert_msg(st == FC_OK, "%s", err.msg);
    }
    /* An initializer whose dims claim the cap but whose data is one float:
     * a parse error (size mismatch), never an allocation of 1 GiB; one past
     * the cap is limit_exceeded. */
    for (int past = 0; past < 2; past++) {
        Onnx__ModelProto *m = hc_conv_model();
        hc_set_dims(hc_find_init(m->graph, "W"), 2, past ? past_cap : at_cap);
        fc_status st = load_model(m, &err);
        if (past) {
            ck_limit(st, err);
        } else {
            ck_not_limit(st, err);
            ck_assert_int_ne(st, FC_OK);
        }
    }
}
END_TEST

START_TEST(tensor_rank)
{
    int64_t dims[FC_MAX_RANK + 1];
    for (int i = 0; i <= FC_MAX_RANK; i++)
        dims[i] = 1;
    fc_err err;
    Onnx__ModelProto *m = hc_bare_model(13, "x");
    hc_set_vi_dims(m->graph->input[0], FC_MAX_RANK, dims);
    fc_status st = load_model(m, &err);
    ck_assert_msg(st == FC_OK, "%s", err.msg);
    m = hc_bare_model(13, "x");
    hc_set_vi_dims(m->graph->input[0], FC_MAX_RANK + 1, dims);
    ck_limit(load_model(m, &err), err);
}
END_TEST

/* ---- FC_MAX_NODES -------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* x -> Identity -> v1 -> ... -> Identity -> y, n nodes.  Built directly
 * (hc_add_node grows the array one by one, quadratic for 10^5 nodes). */
static Onnx__ModelProto *chain_model(size_t n)
{
    Onnx__ModelProto *m = hc_bare_model(13, "y");
    Onnx__GraphProto *g = m->graph;
    ck_assert_uint_eq(g->n_node, 0);
    g->node = malloc(n * sizeof *g->node);
    ck_assert_ptr_nonnull(g->node);
    char name[32];
    for (size_t i = 0; i < n; i++) {
        Onnx__NodeProto *node = malloc(sizeof *node);
        ck_assert_ptr_nonnull(node);
        onnx__node_proto__init(node);
        node->op_type = xstrdup("Identity");
        node->n_input = node->n_output = 1;
        node->input = malloc(sizeof *node->input);
        node->output = malloc(sizeof *node->output);
        ck_assert(node->input && node->output);
        snprintf(name, sizeof name, "v%zu", i);
        node->input[0] = xstrdup(i ? name : "x");
        snprintf(name, sizeof name, "v%zu", i + 1);
        node->output[0] = xstrdup(i + 1 == n ? "y" : name);
        g->node[g->n_node++] = node;
    }
    return m;
}

START_TEST(nodes)
{
    fc_err err;
    fc_status st = load_model(chain_model(FC_MAX_NODES), &err);
    ck_assert_msg(st == FC_OK, "%d nodes: %s", FC_MAX_NODES, err.msg);
    st = load_model(chain_model(FC_MAX_NODES + 1), &err);
    ck_limit(st, err);
    ck_assert_msg(strstr(err.msg, "nodes") != NULL, "%s", err.msg);
}
END_TEST

/* ---- PNG: pixels and inflated bytes --------------------------------------------- */

/* A w x h gray 8-bit PNG. */
static uint8_t *gray_png(uint32_t w, uint32_t h, size_t *len)
{
    uint8_t *px = calloc((size_t)w * h, 1);
    ck_assert_ptr_nonnull(px);
    for (size_t i = 0; i < (size_t)w * h; i++)
        px[i] = (uint8_t)(i * 7);
    uint8_t *out = NULL;
    fc_err err;
    ck_assert_msg(fc_png_encode_u8(px, w, h, 1, &out, len, &err) == FC_OK, "%s", err.msg);
    free(px);
    return out;
}

/* Rewrites IHDR's width and height (and its CRC): a header that declares a
 * size the file does not hold. */
static void set_ihdr(uint8_t *png, uint32_t w, uint32_t h)
{
    ck_assert_int_eq(memcmp(png + 12, "IHDR", 4), 0);
    const uint32_t v[2] = {w, h};
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 4; b++)
            png[16 + 4 * k + b] = (uint8_t)(v[k] >> (24 - 8 * b));
    uLong crc = crc32(0L, png + 12, 17);
    for (int b = 0; b < 4; b++)
        png[29 + b] = (uint8_t)(crc >> (24 - 8 * b));
}

static fc_status read_png(const uint8_t *png, size_t len, uint64_t max_pixels,
                          uint64_t max_inflated, fc_err *err)
{
    fc_png_limits lim = {.max_pixels = max_pixels, .max_inflated = max_inflated};
    fc_tensor t = {0};
    fc_status st = fc_png_read_bytes(png, len, "caps.png", 1, &lim, &t, NULL, err);
    fc_tensor_release(&t);
    return st;
}

START_TEST(png_pixels)
{
    size_t len;
    uint8_t *png = gray_png(12, 10, &len);
    fc_err err;
    ck_assert_msg(read_png(png, len, 120, 0, &err) == FC_OK, "%s", err.msg);
    ck_limit(read_png(png, len, 119, 0, &err), err);
    /* The default cap, one past: refused from the header alone. */
    set_ihdr(png, 8192, 8193);
    ck_assert_uint_eq(8192ull * 8192ull, FC_PNG_DEFAULT_MAX_PIXELS);
    ck_limit(read_png(png, len, 0, 0, &err), err);
    free(png);
}
END_TEST

START_TEST(png_inflated_bytes)
{
    /* Gray 8-bit: one byte per pixel after transforms, 12 x 10 = 120. */
    size_t len;
    uint8_t *png = gray_png(12, 10, &len);
    fc_err err;
    ck_assert_msg(read_png(png, len, 0, 120, &err) == FC_OK, "%s", err.msg);
    ck_limit(read_png(png, len, 0, 119, &err), err);
    /* Default cap, one past: 2^29 + 8192 bytes of rows declared by a tiny
     * file (under the pixel cap when that is lifted to 2^30). */
    set_ihdr(png, 8192, 65537);
    ck_limit(read_png(png, len, 1ull << 30, 0, &err), err);
    ck_assert_msg(strstr(err.msg, "decompression") != NULL,
                  "not the inflated-size cap: %s", err.msg);
    free(png);
}
END_TEST

/* A chunk's declared length is checked against the file before libpng
 * allocates the chunk: fuzz_png found a 72-byte file declaring a 2 GB tEXt
 * chunk that made libpng allocate 2 GB (fuzz/regress/png/). */
START_TEST(png_chunk_longer_than_the_file)
{
    size_t len;
    uint8_t *png = gray_png(12, 10, &len);
    /* A tEXt chunk right after IHDR (8 + 25 bytes) claiming 0x7e00000c
     * bytes, followed by the rest of the file. */
    static const uint8_t text[] = {0x7e, 0x00, 0x00, 0x0c, 't', 'E', 'X', 't', 'C', 'o', 'm', 0};
    uint8_t *bad = malloc(len + sizeof text);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, png, 33);
    memcpy(bad + 33, text, sizeof text);
    memcpy(bad + 33 + sizeof text, png + 33, len - 33);
    unsigned long before = fc_alloc_count();
    fc_err err;
    fc_status st = read_png(bad, len + sizeof text, 0, 0, &err);
    ck_assert_msg(st == FC_ERR_PARSE && strstr(err.msg, "tEXt") && strstr(err.msg, "declares"),
                  "%s: %s", fc_status_name(st), err.msg);
    /* Refused before libpng starts (it allocates its structs first). */
    ck_assert_uint_eq(fc_alloc_count(), before);
    free(bad);
    free(png);
}
END_TEST

/* ---- config JSON depth -------------------------------------------------------- */

/* {"models": [[...[0]...]]}: nesting depth `depth` counting the root object
 * and the innermost number (how fc_config counts). */
static char *nested_config(int depth)
{
    size_t cap = 64 + 2 * (size_t)depth;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t n = (size_t)snprintf(s, cap, "{\"models\": ");
    for (int i = 0; i < depth - 2; i++)
        s[n++] = '[';
    s[n++] = '0';
    for (int i = 0; i < depth - 2; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

START_TEST(config_json_depth)
{
    fc_config cfg;
    fc_err err;
    char *text = nested_config(FC_CONFIG_MAX_DEPTH);
    fc_status st = fc_config_parse(text, "deep.json", tmp, &cfg, &err);
    free(text);
    ck_not_limit(st, err);
    ck_assert_int_ne(st, FC_OK);   /* models[0] is not an object */
    text = nested_config(FC_CONFIG_MAX_DEPTH + 1);
    st = fc_config_parse(text, "deep.json", tmp, &cfg, &err);
    free(text);
    ck_limit(st, err);
    /* Far past it (cJSON's own nesting limit is 1000): still our error. */
    text = nested_config(900);
    st = fc_config_parse(text, "deep.json", tmp, &cfg, &err);
    free(text);
    ck_limit(st, err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("caps");
    TCase *tc = tcase_create("caps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_bytes);
    tcase_add_test(tc, tensor_elements);
    tcase_add_test(tc, tensor_rank);
    tcase_add_test(tc, png_pixels);
    tcase_add_test(tc, png_inflated_bytes);
    tcase_add_test(tc, png_chunk_longer_than_the_file);
    tcase_add_test(tc, config_json_depth);
    suite_add_tcase(s, tc);
    /* 10^5 nodes: its own case (and timeout) for the sanitizer build. */
    TCase *big = tcase_create("nodes");
    tcase_set_timeout(big, 300);
    tcase_add_test(big, nodes);
    suite_add_tcase(s, big);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
