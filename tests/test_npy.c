/* .npy reading and writing (src/core/fc_npy.c): round trips for every dtype,
 * byte-identical output to NumPy's, and malformed files (bad magic,
 * truncations, bad dicts, huge/negative dims, Fortran order, big-endian,
 * header over the cap, ...) each giving a named error, never a crash,
 * including when allocations fail. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_npy.h"

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/fc_npy_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    /* Only files this test wrote live here; remove them one by one. */
    static const char *const names[] = {"t.npy", "u8.npy", "bad.npy", "short.npy", "huge.npy"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s", tmpdir, names[i]);
        unlink(cmd);
    }
    rmdir(tmpdir);
}

static const char *tmp(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* ---- building files in memory ------------------------------------------- */

typedef struct blob {
    uint8_t data[4096];
    size_t len;
} blob;

/* Preamble of version `major` + the header text as given + `ndata` bytes. */
static blob make(int major, const char *header, size_t ndata)
{
    blob b;
    memset(&b, 0, sizeof b);
    memcpy(b.data, "\x93NUMPY", 6);
    b.data[6] = (uint8_t)major;
    b.data[7] = 0;
    size_t hl = strlen(header), off;
    if (major == 1) {
        b.data[8] = (uint8_t)hl;
        b.data[9] = (uint8_t)(hl >> 8);
        off = 10;
    } else {
        for (int i = 0; i < 4; i++)
            b.data[8 + i] = (uint8_t)(hl >> (8 * i));
        off = 12;
    }
    ck_assert_uint_le(off + hl + ndata, sizeof b.data);
    memcpy(b.data + off, header, hl);
    for (size_t i = 0; i < ndata; i++)
        b.data[off + hl + i] = (uint8_t)i;
    b.len = off + hl + ndata;
    return b;
}

/* Reads the blob and expects failure with `st` and every `needles` part
 * (separated by '|') in the message. */
static void expect_err(const blob *b, fc_status st, const char *needles)
{
    fc_err err;
    fc_tensor t;
    fc_status got = fc_npy_read_bytes(b->data, b->len, "case.npy", &t, &err);
    ck_assert_msg(got == st, "want %s got %s: %s", fc_status_name(st), fc_status_name(got),
                  got ? err.msg : "(ok)");
    ck_assert_ptr_null(t.data);
    ck_assert_msg(strncmp(err.msg, "case.npy: ", 10) == 0, "no file name: %s", err.msg);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", needles);
    for (char *tokp = strtok(buf, "|"); tokp; tokp = strtok(NULL, "|"))
        ck_assert_msg(strstr(err.msg, tokp), "'%s' not in: %s", tokp, err.msg);
}

#define HDR(descr, fortran, shape) \
    "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }\n"

/* ---- round trips ---------------------------------------------------------- */

START_TEST(round_trip_every_dtype_and_rank)
{
    static const fc_dtype dts[] = {FC_DT_F32, FC_DT_F64, FC_DT_U8, FC_DT_I8,
                                   FC_DT_I32, FC_DT_I64, FC_DT_BOOL};
    static const int64_t shapes[][4] = {{0}, {5}, {2, 3}, {2, 0, 3}, {1, 2, 3, 4}};
    static const int ranks[] = {0, 1, 2, 3, 4};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (size_t s = 0; s < 5; s++) {
            fc_err err;
            fc_tensor a, b;
            ck_assert_int_eq(fc_tensor_alloc(&a, dts[d], ranks[s], shapes[s], &err), FC_OK);
            uint8_t *p = a.data;
            for (size_t i = 0; i < fc_tensor_bytes(&a); i++)
                p[i] = dts[d] == FC_DT_BOOL ? (uint8_t)(i % 2) : (uint8_t)(i * 37 + 11);
            ck_assert_msg(fc_npy_write(tmp("t.npy"), &a, &err) == FC_OK, "%s", err.msg);
            ck_assert_msg(fc_npy_read(tmp("t.npy"), &b, &err) == FC_OK, "%s", err.msg);
            ck_assert_int_eq(b.dtype, dts[d]);
            ck_assert(fc_tensor_same_shape(&a, &b));
            ck_assert_uint_eq(a.numel, b.numel);
            ck_assert_int_eq(memcmp(a.data, b.data, fc_tensor_bytes(&a)), 0);
            /* The header of what we write is 64-byte aligned like NumPy's. */
            struct stat sb;
            ck_assert_int_eq(stat(tmp("t.npy"), &sb), 0);
            ck_assert_uint_eq(((size_t)sb.st_size - fc_tensor_bytes(&a)) % 64, 0);
            fc_tensor_release(&a);
            fc_tensor_release(&b);
        }
    }
}
END_TEST

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = fc_malloc((size_t)n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

START_TEST(numpy_file_reads_and_rewrites_byte_identical)
{
    fc_err err;
    fc_tensor t;
    const char *src = FC_TEST_DATA "/peers/test_images_u8.npy";
    ck_assert_msg(fc_npy_read(src, &t, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(t.dtype, FC_DT_U8);
    ck_assert_int_eq(t.rank, 4);
    ck_assert_int_eq(t.dims[0], 512);
    ck_assert_int_eq(t.dims[3], 28);
    ck_assert_int_eq(fc_npy_write(tmp("u8.npy"), &t, &err), FC_OK);
    size_t la, lb;
    uint8_t *a = slurp(src, &la), *b = slurp(tmp("u8.npy"), &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(a, b, la), 0);
    /* The bytes variant agrees with the file reader. */
    fc_tensor t2;
    ck_assert_int_eq(fc_npy_read_bytes(a, la, "mem", &t2, &err), FC_OK);
    ck_assert_int_eq(memcmp(t.data, t2.data, t.numel), 0);
    fc_free(a);
    fc_free(b);
    fc_tensor_release(&t);
    fc_tensor_release(&t2);
}
END_TEST

START_TEST(versions_2_and_3_and_lenient_spellings_read)
{
    const char *hdrs[] = {
        HDR("<f4", "False", "(2,)"),
        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,)}",
        "{'shape': (2L,), 'fortran_order': False, 'descr': '<f4'}   \n",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (2)}",
    };
    for (int major = 1; major <= 3; major++) {
        for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
            blob b = make(major, hdrs[i], 8);
            fc_err err;
            fc_tensor t;
            ck_assert_msg(fc_npy_read_bytes(b.data, b.len, "v.npy", &t, &err) == FC_OK,
                          "v%d '%s': %s", major, hdrs[i], err.msg);
            ck_assert_int_eq(t.dtype, FC_DT_F32);
            ck_assert_int_eq(t.rank, 1);
            ck_assert_int_eq(t.dims[0], 2);
            fc_tensor_release(&t);
        }
    }
    /* One-byte types take any byte-order mark. */
    blob b = make(1, HDR(">u1", "False", "(3,)"), 3);
    fc_err err;
    fc_tensor t;
    ck_assert_int_eq(fc_npy_read_bytes(b.data, b.len, "v.npy", &t, &err), FC_OK);
    ck_assert_int_eq(t.dtype, FC_DT_U8);
    fc_tensor_release(&t);
}
END_TEST

/* ---- malformed ------------------------------------------------------------ */

START_TEST(bad_magic_version_and_truncated_preamble_are_named)
{
    blob b = make(1, HDR("<f4", "False", "(2,)"), 8);
    b.data[1] = 'X';
    expect_err(&b, FC_ERR_PARSE, "bad magic");
    blob e = {{0}, 0};
    expect_err(&e, FC_ERR_PARSE, "bad magic");
    b = make(1, HDR("<f4", "False", "(2,)"), 8);
    b.len = 7;
    expect_err(&b, FC_ERR_PARSE, "truncated|preamble");
    b = make(2, HDR("<f4", "False", "(2,)"), 8);
    b.len = 10;
    expect_err(&b, FC_ERR_PARSE, "truncated|preamble");
    b = make(4, HDR("<f4", "False", "(2,)"), 8);
    expect_err(&b, FC_ERR_UNSUPPORTED, "version 4.0");
    b = make(1, HDR("<f4", "False", "(2,)"), 8);
    b.len = 30;
    expect_err(&b, FC_ERR_PARSE, "truncated header");
}
END_TEST

START_TEST(data_shorter_or_longer_than_the_header_says_is_named)
{
    blob b = make(1, HDR("<f4", "False", "(2, 3)"), 23);
    expect_err(&b, FC_ERR_PARSE, "truncated data|'shape'|[2,3]|24 bytes|23");
    b = make(1, HDR("<f4", "False", "(2, 3)"), 25);
    expect_err(&b, FC_ERR_PARSE, "1 bytes after the data|'shape'");
    b = make(1, HDR("<f4", "False", "()"), 0);
    expect_err(&b, FC_ERR_PARSE, "truncated data");
}
END_TEST

START_TEST(bad_header_dicts_are_named)
{
    const struct { const char *hdr; fc_status st; const char *needles; } cases[] = {
        {"", FC_ERR_PARSE, "'{'"},
        {"['descr', '<f4']", FC_ERR_PARSE, "'{'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", FC_ERR_PARSE, "',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False}", FC_ERR_PARSE, "no 'shape' field"},
        {"{'fortran_order': False, 'shape': (2,)}", FC_ERR_PARSE, "no 'descr' field"},
        {"{'descr': '<f4', 'shape': (2,)}", FC_ERR_PARSE, "no 'fortran_order' field"},
        {"{'descr': '<f4', 'descr': '<f4'}", FC_ERR_PARSE, "'descr' appears twice"},
        {"{'descr': '<f4', 'colour': 'red'}", FC_ERR_PARSE, "unknown field 'colour'"},
        {"{'descr': '<f4', 'fortran_order' False}", FC_ERR_PARSE, "'fortran_order'|':'"},
        {"{'descr': '<f4", FC_ERR_PARSE, "'descr'|closing quote"},
        {"{'descr': '<\\f4'}", FC_ERR_PARSE, "'descr'|without escapes"},
        {"{'descr': <f4}", FC_ERR_PARSE, "'descr'|quoted string"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", FC_ERR_PARSE,
         "'fortran_order'|True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", FC_ERR_PARSE, "'shape'|'('"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", FC_ERR_PARSE,
         "'shape'|integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", FC_ERR_PARSE, "'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", FC_ERR_PARSE,
         "after the header dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", FC_ERR_PARSE, "',' or '}'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        blob b = make(1, cases[i].hdr, 8);
        expect_err(&b, cases[i].st, cases[i].needles);
    }
}
END_TEST

START_TEST(unsupported_layouts_and_dtypes_are_named)
{
    blob b = make(1, HDR("<f4", "True", "(2, 2)"), 16);
    expect_err(&b, FC_ERR_UNSUPPORTED, "'fortran_order' is True");
    b = make(1, HDR(">f4", "False", "(2,)"), 8);
    expect_err(&b, FC_ERR_UNSUPPORTED, "'descr'|big-endian|'>f4'");
    b = make(1, HDR(">i8", "False", "(1,)"), 8);
    expect_err(&b, FC_ERR_UNSUPPORTED, "big-endian");
    b = make(1, HDR("<f2", "False", "(4,)"), 8);
    expect_err(&b, FC_ERR_UNSUPPORTED, "'descr'|'<f2'");
    b = make(1, HDR("|f4", "False", "(2,)"), 8);
    expect_err(&b, FC_ERR_UNSUPPORTED, "'|f4'");
    b = make(1, HDR("<U8", "False", "(1,)"), 32);
    expect_err(&b, FC_ERR_UNSUPPORTED, "'<U8'");
    b = make(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4);
    expect_err(&b, FC_ERR_UNSUPPORTED, "structured");
}
END_TEST

START_TEST(huge_negative_and_too_many_dims_are_named)
{
    blob b = make(1, HDR("|u1", "False", "(99999999999, 99999999999)"), 0);
    expect_err(&b, FC_ERR_LIMIT, "'shape'|FC_MAX_TENSOR_ELEMS");
    b = make(1, HDR("|u1", "False", "(123456789012345678901234567890,)"), 0);
    expect_err(&b, FC_ERR_LIMIT, "'shape'|64 bits");
    b = make(1, HDR("|u1", "False", "(9223372036854775807, 0)"), 0);
    expect_err(&b, FC_ERR_LIMIT, "'shape'");
    b = make(1, HDR("<f8", "False", "(200000000,)"), 0);
    expect_err(&b, FC_ERR_LIMIT, "'shape'|FC_MAX_TENSOR_BYTES");
    b = make(1, HDR("|u1", "False", "(2, -3)"), 0);
    expect_err(&b, FC_ERR_SHAPE, "'shape'|negative dimension -3");
    b = make(1, HDR("|u1", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 1);
    expect_err(&b, FC_ERR_LIMIT, "'shape'|FC_MAX_RANK");
}
END_TEST

START_TEST(header_length_over_the_cap_is_refused_before_reading_it)
{
    blob b = make(2, HDR("<f4", "False", "(2,)"), 8);
    uint32_t hl = FC_MAX_NPY_HEADER + 1;
    for (int i = 0; i < 4; i++)
        b.data[8 + i] = (uint8_t)(hl >> (8 * i));
    expect_err(&b, FC_ERR_LIMIT, "header length 65537|FC_MAX_NPY_HEADER");
    b.data[11] = 0xff;
    expect_err(&b, FC_ERR_LIMIT, "FC_MAX_NPY_HEADER");
}
END_TEST

/* ---- files ---------------------------------------------------------------- */

static void write_blob(const char *path, const blob *b)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

static void expect_file_err(const char *path, fc_status st, const char *needle)
{
    fc_err err;
    fc_tensor t;
    fc_status got = fc_npy_read(path, &t, &err);
    ck_assert_msg(got == st, "%s: want %s got %s: %s", path, fc_status_name(st),
                  fc_status_name(got), got ? err.msg : "ok");
    ck_assert_ptr_null(t.data);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "no file name: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle), "'%s' not in: %s", needle, err.msg);
}

START_TEST(file_errors_name_the_file)
{
    expect_file_err(tmp("missing.npy"), FC_ERR_IO, "cannot open");
    expect_file_err(tmpdir, FC_ERR_IO, "directory");
    blob b = make(1, HDR("<f4", "False", "(2, 3)"), 20);
    write_blob(tmp("short.npy"), &b);
    expect_file_err(tmp("short.npy"), FC_ERR_PARSE, "truncated data");
    b = make(1, HDR("<f4", "False", "(2, 3)"), 30);
    write_blob(tmp("bad.npy"), &b);
    expect_file_err(tmp("bad.npy"), FC_ERR_PARSE, "6 bytes after the data");
    /* A tiny file claiming 200 MB is refused from its size, not by
     * allocating first. */
    b = make(1, HDR("|u1", "False", "(200000000,)"), 3);
    write_blob(tmp("huge.npy"), &b);
    fc_alloc_fail_after(1); /* the header buffer, not the 200 MB */
    expect_file_err(tmp("huge.npy"), FC_ERR_PARSE, "truncated data");
    fc_alloc_fail_reset();
    b = make(1, HDR("<f4", "False", "(2,)"), 8);
    b.len = 9;
    write_blob(tmp("bad.npy"), &b);
    expect_file_err(tmp("bad.npy"), FC_ERR_PARSE, "truncated");
    b.len = 40;
    write_blob(tmp("bad.npy"), &b);
    expect_file_err(tmp("bad.npy"), FC_ERR_PARSE, "truncated header");
    fc_err err;
    fc_tensor t;
    int64_t two = 2;
    ck_assert_int_eq(fc_tensor_alloc(&t, FC_DT_F32, 1, &two, &err), FC_OK);
    ck_assert_int_eq(fc_npy_write(tmp("nodir/x.npy"), &t, &err), FC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "nodir/x.npy"));
    fc_tensor_release(&t);
}
END_TEST

START_TEST(every_truncation_and_header_bit_flip_fails_cleanly)
{
    blob good = make(1, HDR("<i4", "False", "(3, 2)"), 24);
    for (size_t n = 0; n < good.len; n++) {
        blob b = good;
        b.len = n;
        fc_err err;
        fc_tensor t;
        ck_assert_int_ne(fc_npy_read_bytes(b.data, b.len, "cut.npy", &t, &err), FC_OK);
        ck_assert_ptr_null(t.data);
    }
    /* Flipped header bytes must never crash; most are errors. */
    for (size_t i = 0; i < good.len - 24; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blob b = good;
            b.data[i] ^= (uint8_t)(1u << bit);
            fc_err err;
            fc_tensor t;
            if (fc_npy_read_bytes(b.data, b.len, "flip.npy", &t, &err) == FC_OK)
                ck_assert_uint_eq(fc_tensor_bytes(&t), 24);
            fc_tensor_release(&t);
        }
    }
}
END_TEST

START_TEST(allocation_failures_give_nomem_without_leaks)
{
    const char *src = FC_TEST_DATA "/onnx/reshape_export.x.npy";
    int nomem = 0;
    for (long k = 0; k < 8; k++) {
        fc_err err;
        fc_tensor t;
        fc_alloc_fail_after(k);
        fc_status st = fc_npy_read(src, &t, &err);
        fc_alloc_fail_reset();
        if (st == FC_OK) {
            fc_tensor_release(&t);
            break;
        }
        ck_assert_int_eq(st, FC_ERR_NOMEM);
        ck_assert_msg(strstr(err.msg, src), "%s", err.msg);
        ck_assert_ptr_null(t.data);
        nomem++;
    }
    ck_assert_int_ge(nomem, 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip_every_dtype_and_rank);
    tcase_add_test(tc, numpy_file_reads_and_rewrites_byte_identical);
    tcase_add_test(tc, versions_2_and_3_and_lenient_spellings_read);
    tcase_add_test(tc, bad_magic_version_and_truncated_preamble_are_named);
    tcase_add_test(tc, data_shorter_or_longer_than_the_header_says_is_named);
    tcase_add_test(tc, bad_header_dicts_are_named);
    tcase_add_test(tc, unsupported_layouts_and_dtypes_are_named);
    tcase_add_test(tc, huge_negative_and_too_many_dims_are_named);
    tcase_add_test(tc, header_length_over_the_cap_is_refused_before_reading_it);
    tcase_add_test(tc, file_errors_name_the_file);
    tcase_add_test(tc, every_truncation_and_header_bit_flip_fails_cleanly);
    tcase_add_test(tc, allocation_failures_give_nomem_without_leaks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
