/* Unit tests for the bounded buffer, base64/hex/digest helpers and the JSON wrapper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_json.h"

static void test_buf_cap(void **state)
{
    struct eic_buf buf;

    (void)state;
    eic_buf_init(&buf, 8);
    assert_int_equal(eic_buf_append_str(&buf, "12345"), 0);
    assert_int_equal(eic_buf_append_str(&buf, "6789"), EMSGSIZE);
    assert_int_equal(buf.len, 5); /* unchanged by the refused append */
    assert_string_equal(buf.data, "12345");
    assert_int_equal(eic_buf_printf(&buf, "%d", 678), 0);
    assert_string_equal(buf.data, "12345678");
    assert_int_equal(eic_buf_printf(&buf, "x"), EMSGSIZE);
    eic_buf_free(&buf);
}

static void test_base64_roundtrip(void **state)
{
    const char *vectors[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *enc = NULL;
        unsigned char *dec = NULL;
        size_t dec_len = 0;

        assert_int_equal(eic_base64_encode(vectors[i][0], strlen(vectors[i][0]), &enc), 0);
        assert_string_equal(enc, vectors[i][1]);
        assert_int_equal(eic_base64_decode(enc, strlen(enc), &dec, &dec_len), 0);
        assert_int_equal(dec_len, strlen(vectors[i][0]));
        assert_memory_equal(dec, vectors[i][0], dec_len);
        free(enc);
        free(dec);
    }
}

static void test_base64_rejects_garbage(void **state)
{
    const char *bad[] = {"Zg=", "Zm9v!", "Z===", "=Zm9", "Zg==Zg==", "Zm9vY"};
    unsigned char *dec = NULL;
    size_t dec_len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eic_base64_decode(bad[i], strlen(bad[i]), &dec, &dec_len), EBADMSG);
        assert_null(dec);
    }
    /* Line breaks inside (PEM-style bodies) are fine. */
    assert_int_equal(eic_base64_decode("Zm9v\nYmFy\n", 10, &dec, &dec_len), 0);
    assert_int_equal(dec_len, 6);
    assert_memory_equal(dec, "foobar", 6);
    free(dec);
}

static void test_digests(void **state)
{
    char hex[65];
    unsigned char mac[EIC_SHA256_LEN];

    (void)state;
    assert_int_equal(eic_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 4231 test case 2 */
    assert_int_equal(eic_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    eic_hex_encode(mac, sizeof(mac), hex, false);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    eic_hex_encode("\xab\x01", 2, hex, true);
    assert_string_equal(hex, "AB01");
    assert_true(eic_str_equal_ct("abc", "abc"));
    assert_false(eic_str_equal_ct("abc", "abd"));
    assert_false(eic_str_equal_ct("abc", "ab"));
}

/* 0-9, a-f and A-F have their values; the neighbours of those ranges and the other bytes are not
 * digits (22 of the 256 bytes are). */
static void test_hex_digit_value(void **state)
{
    int n_digits = 0;

    (void)state;
    assert_int_equal(eic_hex_digit_value('0'), 0);
    assert_int_equal(eic_hex_digit_value('9'), 9);
    assert_int_equal(eic_hex_digit_value('a'), 10);
    assert_int_equal(eic_hex_digit_value('f'), 15);
    assert_int_equal(eic_hex_digit_value('A'), 10);
    assert_int_equal(eic_hex_digit_value('F'), 15);
    assert_int_equal(eic_hex_digit_value('/'), -1);
    assert_int_equal(eic_hex_digit_value(':'), -1);
    assert_int_equal(eic_hex_digit_value('`'), -1);
    assert_int_equal(eic_hex_digit_value('g'), -1);
    assert_int_equal(eic_hex_digit_value('@'), -1);
    assert_int_equal(eic_hex_digit_value('G'), -1);
    assert_int_equal(eic_hex_digit_value('\0'), -1);
    assert_int_equal(eic_hex_digit_value(0xff), -1);
    for (int c = 0; c < 256; c++) {
        n_digits += eic_hex_digit_value((unsigned char)c) >= 0;
    }
    assert_int_equal(n_digits, 22);
}

static void test_json(void **state)
{
    json_object *obj = NULL;
    const char *good = "{\"InstanceId\":\"i-0123\",\"n\":1} \n";
    const char *bad[] = {"{", "{\"a\":1} x", "[1,]", "", "{\"a\":\"\\x\"}"};
    char deep[64];

    (void)state;
    assert_int_equal(eic_json_parse(good, strlen(good), 1024, &obj), 0);
    assert_string_equal(eic_json_get_string(obj, "InstanceId"), "i-0123");
    assert_null(eic_json_get_string(obj, "n"));
    assert_null(eic_json_get_string(obj, "missing"));
    json_object_put(obj);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eic_json_parse(bad[i], strlen(bad[i]), 1024, &obj), EBADMSG);
        assert_null(obj);
    }
    assert_int_equal(eic_json_parse(good, strlen(good), 4, &obj), EMSGSIZE);
    /* Nesting beyond EIC_JSON_MAX_DEPTH is refused, not recursed into. */
    memset(deep, '[', 40);
    memset(deep + 40, ']', 20);
    assert_int_equal(eic_json_parse(deep, 60, 1024, &obj), EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_base64_rejects_garbage),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_hex_digit_value),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
