/* SHA-256, base64 and SSH fingerprints in libc only (lib/base/eic_sha256.c): FIPS 180-4's examples,
 * agreement with OpenSSL on every length across block boundaries, the fixture keys' fingerprints
 * as ssh-keygen printed them, and base64 that is not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "eic_sha256.h"
#include "unit_support.h"

static void hex(const uint8_t *d, char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static void expect_sha256(const char *msg, size_t len, const char *want)
{
    struct eic_sha256_ctx c;
    uint8_t d[EIC_SHA256_LEN];
    char got[65];

    eic_sha256_ctx_init(&c);
    eic_sha256_ctx_update(&c, msg, len);
    eic_sha256_ctx_final(&c, d);
    hex(d, got);
    assert_string_equal(got, want);
}

/* FIPS 180-4's examples (NIST's "SHA256.pdf", CSRC example values). */
static void test_fips_examples(void **state)
{
    struct eic_sha256_ctx c;
    uint8_t d[EIC_SHA256_LEN];
    char got[65];
    char block[1000];

    (void)state;
    expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a', fed in pieces. */
    memset(block, 'a', sizeof(block));
    eic_sha256_ctx_init(&c);
    for (int i = 0; i < 1000; i++) {
        eic_sha256_ctx_update(&c, block, sizeof(block));
    }
    eic_sha256_ctx_final(&c, d);
    hex(d, got);
    assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length from 0 to 300 bytes (every padding case, one and two final blocks) and pieces of
 * every size agree with OpenSSL. */
static void test_agrees_with_openssl(void **state)
{
    uint8_t msg[300];
    uint8_t mine[EIC_SHA256_LEN];
    uint8_t theirs[SHA256_DIGEST_LENGTH];

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t)(i * 131 + 7);
    }
    for (size_t len = 0; len <= sizeof(msg); len++) {
        for (size_t piece = 1; piece <= 67; piece += 11) {
            struct eic_sha256_ctx c;

            eic_sha256_ctx_init(&c);
            for (size_t off = 0; off < len; off += piece) {
                eic_sha256_ctx_update(&c, msg + off, len - off < piece ? len - off : piece);
            }
            eic_sha256_ctx_final(&c, mine);
            SHA256(msg, len, theirs);
            assert_memory_equal(mine, theirs, EIC_SHA256_LEN);
        }
    }
}

/* The fingerprint of a public key line's base64 word, as ssh-keygen -l printed it for the fixtures. */
static void test_ssh_fingerprint(void **state)
{
    static const char *const keys[] = {"ed25519", "rsa2048"};
    char path[512];
    char fp[64];

    (void)state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t len;
        char *pub;
        char *want;
        char *b64;

        snprintf(path, sizeof(path), "%s/verify/%s.pub", TEST_DATA_DIR, keys[i]);
        pub = unit_read_file(path, &len);
        snprintf(path, sizeof(path), "%s/verify/%s.fp", TEST_DATA_DIR, keys[i]);
        want = unit_read_file(path, &len);
        assert_non_null(pub);
        assert_non_null(want);
        want[strcspn(want, "\n")] = '\0';
        b64 = strchr(pub, ' ') + 1;
        assert_int_equal(eic_ssh_fingerprint_libc(b64, strcspn(b64, " \n"), fp), 0);
        assert_string_equal(fp, want);
        free(pub);
        free(want);
    }
}

static void test_base64(void **state)
{
    static const char *const bad[] = {"YQ=", "Y===", "Y", "YQ=a", "Y Q==", "YR==", "YWJ=", "=", "YWJj\n", "YW*j"};
    uint8_t *out;
    size_t len;

    (void)state;
    assert_int_equal(eic_base64_decode_libc("YQ==", 4, &out, &len), 0);
    assert_int_equal(len, 1);
    assert_memory_equal(out, "a", 1);
    free(out);
    assert_int_equal(eic_base64_decode_libc("YWI", 3, &out, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "ab", 2);
    free(out);
    assert_int_equal(eic_base64_decode_libc("YWJj", 4, &out, &len), 0);
    assert_int_equal(len, 3);
    free(out);
    assert_int_equal(eic_base64_decode_libc("", 0, &out, &len), 0);
    assert_int_equal(len, 0);
    free(out);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = (uint8_t *)"x";
        if (eic_base64_decode_libc(bad[i], strlen(bad[i]), &out, &len) != EINVAL) {
            fail_msg("'%s' decoded", bad[i]);
        }
        assert_null(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_examples),
        cmocka_unit_test(test_agrees_with_openssl),
        cmocka_unit_test(test_ssh_fingerprint),
        cmocka_unit_test(test_base64),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
