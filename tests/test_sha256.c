/* SHA-256 against the FIPS 180-4 examples and against sha256sum. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_file.h"
#include "core/fc_sha256.h"

static void hex_of(const void *data, size_t len, size_t split, char out[65])
{
    fc_sha256 s;
    fc_sha256_init(&s);
    /* Fed in two parts, so block boundaries inside update are exercised. */
    fc_sha256_update(&s, data, split);
    fc_sha256_update(&s, (const char *)data + split, len - split);
    uint8_t d[32];
    fc_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

START_TEST(fips_examples)
{
    char h[65];
    hex_of("abc", 3, 1, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t split = 0; split <= strlen(two); split += 7) {
        hex_of(two, strlen(two), split, h);
        ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    static char million[1000000];
    memset(million, 'a', sizeof million);
    hex_of(million, sizeof million, 12345, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* Files: the same digest as coreutils' sha256sum, and a clear error. */
START_TEST(files_match_sha256sum)
{
    const char *path = FC_SOURCE_DIR "/models/cnn.onnx";
    char h[65], cmd[512], want[80] = "";
    ck_assert_int_eq(fc_sha256_file(path, h, NULL), FC_OK);
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(want, sizeof want, p));
    pclose(p);
    want[64] = '\0';
    ck_assert_str_eq(h, want);
    fc_err err = {0};
    ck_assert_int_eq(fc_sha256_file("/nonexistent/x.onnx", h, &err), FC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.onnx"));
    ck_assert_int_eq(fc_sha256_file("/tmp", h, &err), FC_ERR_IO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, fips_examples);
    tcase_add_test(tc, files_match_sha256sum);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
