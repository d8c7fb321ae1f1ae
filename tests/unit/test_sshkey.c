/* Unit tests for lib/crypto/eic_sshkey.c. The fixtures in tests/data/sshkey/ were made by
 * ssh-keygen (make_fixtures.sh there); each has the `ssh-keygen -lf` output beside it, so
 * the fingerprints are checked against OpenSSH itself. Malformed keys are built here from
 * the wire format. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_sshkey.h"
#include "unit_support.h"

#define DATA TEST_DATA_DIR "/sshkey/"
#define RFC4716_TEST_BEGIN "---- BEGIN SSH2 PUBLIC KEY ----"
#define RFC4716_TEST_END "---- END SSH2 PUBLIC KEY ----"

static char *read_file(const char *name, size_t *len)
{
    char path[512];
    char *text;

    assert_true((size_t)snprintf(path, sizeof(path), DATA "%s", name) < sizeof(path));
    text = unit_read_file(path, len);
    assert_non_null(text);
    return text;
}

/* The ssh-keygen -lf line: "BITS SHA256:... COMMENT (TYPE)". */
struct fp_line {
    unsigned int bits;
    char fingerprint[64];
    char type[32];
};

static void read_fp(const char *name, struct fp_line *fp)
{
    size_t len;
    char *text = read_file(name, &len);
    char *open_paren = strrchr(text, '(');

    assert_int_equal(sscanf(text, "%u %63s", &fp->bits, fp->fingerprint), 2);
    assert_non_null(open_paren);
    assert_int_equal(sscanf(open_paren, "(%31[^)])", fp->type), 1);
    free(text);
}

static const struct {
    const char *file;
    const char *fp_file;
    enum eic_sshkey_type type;
    const char *type_name;
    const char *comment; /* NULL: the file's own comment is not checked here */
} fixtures[] = {
    {"ed25519.pub", "ed25519.fp", EIC_SSHKEY_ED25519, "ssh-ed25519", "ed25519@eic-test"},
    {"rsa1024.pub", "rsa1024.fp", EIC_SSHKEY_RSA, "ssh-rsa", "rsa1024@eic-test"},
    {"rsa2048.pub", "rsa2048.fp", EIC_SSHKEY_RSA, "ssh-rsa", "rsa2048@eic-test"},
    {"rsa3072.pub", "rsa3072.fp", EIC_SSHKEY_RSA, "ssh-rsa", "rsa3072@eic-test"},
    {"rsa4096.pub", "rsa4096.fp", EIC_SSHKEY_RSA, "ssh-rsa", "rsa4096@eic-test"},
    {"ecdsa256.pub", "ecdsa256.fp", EIC_SSHKEY_ECDSA, "ecdsa-sha2-nistp256", "ecdsa256@eic-test"},
    {"ecdsa384.pub", "ecdsa384.fp", EIC_SSHKEY_ECDSA, "ecdsa-sha2-nistp384", "ecdsa384@eic-test"},
    {"ecdsa521.pub", "ecdsa521.fp", EIC_SSHKEY_ECDSA, "ecdsa-sha2-nistp521", "ecdsa521@eic-test"},
    {"ed25519-cert.pub", "ed25519-cert.fp", EIC_SSHKEY_OTHER, "ssh-ed25519-cert-v01@openssh.com",
     "ed25519@eic-test"},
    {"ed25519.ssh2", "ed25519.ssh2.fp", EIC_SSHKEY_ED25519, "ssh-ed25519", NULL},
    {"rsa2048.ssh2", "rsa2048.ssh2.fp", EIC_SSHKEY_RSA, "ssh-rsa", NULL},
    {"rsa4096.ssh2", "rsa4096.ssh2.fp", EIC_SSHKEY_RSA, "ssh-rsa", NULL},
    {"rsa2048-headers.ssh2", "rsa2048-headers.ssh2.fp", EIC_SSHKEY_RSA, "ssh-rsa",
     "This is an example of a comment that is long enough to be split over two lines by a backslash, "
     "as RFC 4716 allows"},
};

static void test_fixtures_match_ssh_keygen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        struct eic_sshkey key;
        struct fp_line fp;
        char fingerprint[64];
        size_t len;
        char *text = read_file(fixtures[i].file, &len);

        print_message("# %s\n", fixtures[i].file);
        read_fp(fixtures[i].fp_file, &fp);
        assert_int_equal(eic_sshkey_parse_any(text, len, &key), 0);
        assert_int_equal(key.type, fixtures[i].type);
        assert_string_equal(key.type_name, fixtures[i].type_name);
        if (key.type != EIC_SSHKEY_OTHER) {
            assert_int_equal(key.bits, fp.bits);
        }
        if (fixtures[i].comment != NULL) {
            assert_non_null(key.comment);
            assert_string_equal(key.comment, fixtures[i].comment);
        }
        assert_int_equal(eic_sshkey_fingerprint(&key, fingerprint), 0);
        if (key.type != EIC_SSHKEY_OTHER) {
            assert_string_equal(fingerprint, fp.fingerprint);
        } else {
            /* For a certificate ssh-keygen -l prints the certified key's fingerprint; ours is
             * of the blob as given (the whole certificate), so it must differ. */
            assert_string_not_equal(fingerprint, fp.fingerprint);
            assert_int_equal(strlen(fingerprint), 7 + 43);
        }
        eic_sshkey_free(&key);
        free(text);
    }
}

/* The one-line files parse with parse_openssh too, and print back exactly as written. */
static void test_openssh_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        struct eic_sshkey key, again;
        size_t len;
        char *text, *line = NULL;

        if (strstr(fixtures[i].file, ".pub") == NULL) {
            continue;
        }
        text = read_file(fixtures[i].file, &len);
        assert_int_equal(eic_sshkey_parse_openssh(text, len, &key), 0);
        assert_int_equal(eic_sshkey_to_openssh(&key, &line), 0);
        assert_true(len > 0 && text[len - 1] == '\n');
        text[len - 1] = '\0';
        assert_string_equal(line, text);
        assert_int_equal(eic_sshkey_parse_openssh(line, strlen(line), &again), 0);
        assert_int_equal(again.blob_len, key.blob_len);
        assert_memory_equal(again.blob, key.blob, key.blob_len);
        eic_sshkey_free(&again);
        eic_sshkey_free(&key);
        free(line);
        free(text);
    }
}

/* The SSH2 export of a key is the same key as its OpenSSH form. */
static void test_ssh2_equals_openssh(void **state)
{
    const char *pairs[][2] = {{"ed25519.pub", "ed25519.ssh2"}, {"rsa2048.pub", "rsa2048.ssh2"},
                              {"rsa4096.pub", "rsa4096.ssh2"}};
    (void)state;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct eic_sshkey a, b;
        size_t la, lb;
        char *ta = read_file(pairs[i][0], &la);
        char *tb = read_file(pairs[i][1], &lb);
        char *line = NULL;

        assert_int_equal(eic_sshkey_parse_any(ta, la, &a), 0);
        assert_int_equal(eic_sshkey_parse_any(tb, lb, &b), 0);
        assert_int_equal(a.blob_len, b.blob_len);
        assert_memory_equal(a.blob, b.blob, a.blob_len);
        assert_non_null(b.comment);
        assert_non_null(strstr(b.comment, "converted by"));
        assert_null(strchr(b.comment, '"')); /* quotes removed */
        assert_int_equal(eic_sshkey_to_openssh(&b, &line), 0);
        assert_true(strncmp(line, b.type_name, strlen(b.type_name)) == 0);
        free(line);
        eic_sshkey_free(&a);
        eic_sshkey_free(&b);
        free(ta);
        free(tb);
    }
}

/* Replace every "\n" of text by "\r\n" (RFC 4716 allows CR LF, CR or LF line ends). */
static char *with_line_ends(const char *text, const char *eol)
{
    struct eic_buf buf;

    eic_buf_init(&buf, 1 << 20);
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            assert_int_equal(eic_buf_append_str(&buf, eol), 0);
        } else {
            assert_int_equal(eic_buf_append(&buf, p, 1), 0);
        }
    }
    return eic_buf_steal(&buf);
}

static void test_rfc4716_line_ends_and_space(void **state)
{
    const char *eols[] = {"\r\n", "\r", "\n"};
    struct fp_line fp;
    size_t len;
    char *text = read_file("rsa2048-headers.ssh2", &len);

    (void)state;
    read_fp("rsa2048-headers.ssh2.fp", &fp);
    for (size_t i = 0; i < sizeof(eols) / sizeof(eols[0]); i++) {
        char *variant = with_line_ends(text, eols[i]);
        char *padded = NULL;
        struct eic_sshkey key;
        char fingerprint[64];

        assert_int_equal(eic_sshkey_parse_any(variant, strlen(variant), &key), 0);
        assert_int_equal(eic_sshkey_fingerprint(&key, fingerprint), 0);
        assert_string_equal(fingerprint, fp.fingerprint);
        assert_string_equal(key.comment, fixtures[12].comment);
        eic_sshkey_free(&key);
        /* Blank space around the block is fine. */
        assert_true(asprintf(&padded, "\n  \n%s\n\n ", variant) > 0);
        assert_int_equal(eic_sshkey_parse_any(padded, strlen(padded), &key), 0);
        eic_sshkey_free(&key);
        free(padded);
        free(variant);
    }
    free(text);
}

/* ---- malformed keys, built from the wire format ---- */

static void put_u32(struct eic_buf *b, uint32_t v)
{
    unsigned char be[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v};

    assert_int_equal(eic_buf_append(b, be, 4), 0);
}

static void put_string(struct eic_buf *b, const void *data, size_t len)
{
    put_u32(b, (uint32_t)len);
    assert_int_equal(eic_buf_append(b, data, len), 0);
}

static void put_cstring(struct eic_buf *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* "TYPE base64(blob) comment" and parse it; returns parse_openssh's result. */
static int parse_line_with_blob(const char *type, const struct eic_buf *blob)
{
    struct eic_sshkey key;
    char *b64 = NULL, *line = NULL;
    int ret;

    assert_int_equal(eic_base64_encode(blob->data, blob->len, &b64), 0);
    assert_true(asprintf(&line, "%s %s test", type, b64) > 0);
    ret = eic_sshkey_parse_openssh(line, strlen(line), &key);
    if (ret != 0) {
        /* A failed parse leaves nothing allocated behind. */
        assert_null(key.blob);
        assert_null(key.type_name);
        assert_null(key.comment);
    }
    eic_sshkey_free(&key);
    free(line);
    free(b64);
    return ret;
}

static const unsigned char ed_pk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void ed25519_blob(struct eic_buf *b)
{
    eic_buf_init(b, 1 << 16);
    put_cstring(b, "ssh-ed25519");
    put_string(b, ed_pk, sizeof(ed_pk));
}

static void test_malformed_blobs(void **state)
{
    struct eic_buf b;
    unsigned char n[257], e3[1] = {3}, e_even[1] = {4}, e_zero[1] = {0};

    (void)state;
    /* A well-formed one first, so that the failures below are about what they change. */
    ed25519_blob(&b);
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), 0);
    /* Type in front differs from the type inside. */
    assert_int_equal(parse_line_with_blob("ssh-rsa", &b), EBADMSG);
    assert_int_equal(parse_line_with_blob("ssh-ed25519x", &b), EBADMSG);
    /* Trailing bytes. */
    assert_int_equal(eic_buf_append(&b, "\0", 1), 0);
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    /* Truncated: every shorter prefix is refused. */
    for (size_t cut = 1; cut < 4 + 11 + 4 + 32; cut++) {
        b.len = 4 + 11 + 4 + 32 - cut;
        assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    }
    eic_buf_free(&b);
    /* Key of the wrong size. */
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ssh-ed25519");
    put_string(&b, ed_pk, 31);
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    eic_buf_free(&b);
    /* Huge length fields, in the type and in the key. */
    eic_buf_init(&b, 1 << 16);
    put_u32(&b, 0xffffffffu);
    assert_int_equal(eic_buf_append_str(&b, "ssh-ed25519"), 0);
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    eic_buf_free(&b);
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ssh-ed25519");
    put_u32(&b, 0x7fffffffu);
    assert_int_equal(eic_buf_append(&b, ed_pk, 32), 0);
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    eic_buf_free(&b);
    /* An empty type. */
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "");
    assert_int_equal(parse_line_with_blob("ssh-ed25519", &b), EBADMSG);
    eic_buf_free(&b);

    /* RSA: a 2048-bit modulus (top bit set, so it needs a leading zero byte). */
    memset(n, 0xab, sizeof(n));
    n[0] = 0;
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ssh-rsa");
    put_string(&b, e3, 1);
    put_string(&b, n, sizeof(n));
    assert_int_equal(parse_line_with_blob("ssh-rsa", &b), 0);
    eic_buf_free(&b);
    {
        /* Negative modulus (no leading zero), non-minimal, zero and even exponents, nothing after e. */
        struct {
            const unsigned char *e;
            size_t e_len;
            const unsigned char *n;
            size_t n_len;
        } bad[] = {
            {e3, 1, n + 1, sizeof(n) - 1},
            {e3, 1, (const unsigned char[]){0, 0, 0xab}, 3},
            {e3, 1, (const unsigned char[]){0, 0x12}, 2},
            {e_zero, 1, n, sizeof(n)},
            {e_even, 1, n, sizeof(n)},
            {(const unsigned char[]){1}, 1, n, sizeof(n)},
            {e3, 0, n, sizeof(n)},
            {e3, 1, n, 0},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            print_message("# bad rsa %zu\n", i);
            eic_buf_init(&b, 1 << 16);
            put_cstring(&b, "ssh-rsa");
            put_string(&b, bad[i].e, bad[i].e_len);
            put_string(&b, bad[i].n, bad[i].n_len);
            assert_int_equal(parse_line_with_blob("ssh-rsa", &b), EBADMSG);
            eic_buf_free(&b);
        }
    }
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ssh-rsa");
    put_string(&b, e3, 1);
    assert_int_equal(parse_line_with_blob("ssh-rsa", &b), EBADMSG); /* no modulus */
    eic_buf_free(&b);
}

static void test_malformed_ecdsa(void **state)
{
    size_t len;
    char *text = read_file("ecdsa256.pub", &len);
    struct eic_sshkey key;
    struct eic_buf b;
    const unsigned char *q;

    (void)state;
    assert_int_equal(eic_sshkey_parse_openssh(text, len, &key), 0);
    /* blob = string type(19) string curve(8) string Q(65) */
    assert_int_equal(key.blob_len, 4 + 19 + 4 + 8 + 4 + 65);
    q = key.blob + 4 + 19 + 4 + 8 + 4;
    {
        unsigned char off_curve[65];

        memcpy(off_curve, q, 65);
        off_curve[64] ^= 1;
        eic_buf_init(&b, 1 << 16);
        put_cstring(&b, "ecdsa-sha2-nistp256");
        put_cstring(&b, "nistp256");
        put_string(&b, off_curve, 65);
        assert_int_equal(parse_line_with_blob("ecdsa-sha2-nistp256", &b), EBADMSG);
        eic_buf_free(&b);
        /* Compressed form (0x02 X) is not what OpenSSH writes. */
        off_curve[0] = 0x02;
        eic_buf_init(&b, 1 << 16);
        put_cstring(&b, "ecdsa-sha2-nistp256");
        put_cstring(&b, "nistp256");
        put_string(&b, off_curve, 33);
        assert_int_equal(parse_line_with_blob("ecdsa-sha2-nistp256", &b), EBADMSG);
        eic_buf_free(&b);
    }
    /* Curve name that does not match the type. */
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ecdsa-sha2-nistp256");
    put_cstring(&b, "nistp384");
    put_string(&b, q, 65);
    assert_int_equal(parse_line_with_blob("ecdsa-sha2-nistp256", &b), EBADMSG);
    eic_buf_free(&b);
    /* The genuine point passes when rebuilt the same way. */
    eic_buf_init(&b, 1 << 16);
    put_cstring(&b, "ecdsa-sha2-nistp256");
    put_cstring(&b, "nistp256");
    put_string(&b, q, 65);
    assert_int_equal(parse_line_with_blob("ecdsa-sha2-nistp256", &b), 0);
    eic_buf_free(&b);
    eic_sshkey_free(&key);
    free(text);
}

static void test_malformed_text(void **state)
{
    size_t len;
    char *ed = read_file("ed25519.pub", &len);
    char *ssh2 = read_file("ed25519.ssh2", &len);
    char *b64 = strchr(ed, ' ') + 1;
    char *two_lines = NULL, *nul = NULL, *ctrl = NULL, *bad_b64 = NULL, *no_end = NULL, *after_end = NULL;
    char *header_after_body = NULL, *bad_body = NULL, *open_continuation = NULL, *long_tag = NULL;
    char *long_comment = NULL;
    const char *bad[16];
    size_t n_bad = 0;
    const char *body_line = strchr(strchr(ssh2, '\n') + 1, '\n') + 1; /* the base64 line */
    char body[128];
    char big[1300];

    (void)state;
    *strchr(ed, '\n') = '\0';
    *strchr(b64, ' ') = '\0'; /* ed is now "ssh-ed25519", b64 the base64 */
    snprintf(body, sizeof(body), "%.*s", (int)(strchr(body_line, '\n') - body_line), body_line);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    assert_true(asprintf(&two_lines, "ssh-ed25519 %s a\nssh-ed25519 %s b\n", b64, b64) > 0);
    assert_true(asprintf(&ctrl, "ssh-ed25519 %s com\033ment", b64) > 0);
    assert_true(asprintf(&bad_b64, "ssh-ed25519 %.20s!%s", b64, b64 + 21) > 0);
    assert_true(asprintf(&no_end, RFC4716_TEST_BEGIN "\n%s\n", body) > 0);
    assert_true(asprintf(&after_end, RFC4716_TEST_BEGIN "\n%s\n" RFC4716_TEST_END "\nmore\n", body) > 0);
    assert_true(asprintf(&header_after_body, RFC4716_TEST_BEGIN "\n%s\nComment: x\n" RFC4716_TEST_END "\n",
                         body) > 0);
    assert_true(asprintf(&bad_body, RFC4716_TEST_BEGIN "\n%.10s*%s\n" RFC4716_TEST_END "\n", body, body + 11) >
                0);
    assert_true(asprintf(&open_continuation, RFC4716_TEST_BEGIN "\nComment: \"x\\") > 0);
    assert_true(asprintf(&long_tag, RFC4716_TEST_BEGIN "\n%.65s: v\n%s\n" RFC4716_TEST_END "\n", big, body) > 0);
    assert_true(asprintf(&long_comment, RFC4716_TEST_BEGIN "\nComment: %s\n%s\n" RFC4716_TEST_END "\n", big,
                         body) > 0);
    bad[n_bad++] = "";
    bad[n_bad++] = "   \n";
    bad[n_bad++] = "ssh-ed25519";
    bad[n_bad++] = "ssh-ed25519 ";
    bad[n_bad++] = two_lines;
    bad[n_bad++] = ctrl;
    bad[n_bad++] = bad_b64;
    bad[n_bad++] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI";
    bad[n_bad++] = no_end;
    bad[n_bad++] = after_end;
    bad[n_bad++] = header_after_body;
    bad[n_bad++] = bad_body;
    bad[n_bad++] = open_continuation;
    bad[n_bad++] = long_tag;
    bad[n_bad++] = long_comment;
    bad[n_bad++] = RFC4716_TEST_BEGIN "\n" RFC4716_TEST_END "\n";
    for (size_t i = 0; i < n_bad; i++) {
        struct eic_sshkey key;

        print_message("# bad text %zu\n", i);
        assert_int_equal(eic_sshkey_parse_any(bad[i], strlen(bad[i]), &key), EBADMSG);
        assert_null(key.blob);
        assert_null(key.type_name);
        assert_null(key.comment);
    }
    /* A NUL inside the given length. */
    assert_true(asprintf(&nul, "ssh-ed25519 %s x", b64) > 0);
    {
        struct eic_sshkey key;
        size_t nul_len = strlen(nul);

        nul[nul_len - 2] = '\0';
        assert_int_equal(eic_sshkey_parse_any(nul, nul_len, &key), EBADMSG);
        assert_int_equal(eic_sshkey_parse_openssh(nul, nul_len, &key), EBADMSG);
        /* ... and the same text without the NUL is fine (a key without comment). */
        assert_int_equal(eic_sshkey_parse_openssh(nul, nul_len - 2, &key), 0);
        assert_null(key.comment);
        eic_sshkey_free(&key);
    }
    assert_int_equal(eic_sshkey_parse_any(NULL, 0, &(struct eic_sshkey){0}), EBADMSG);
    free(two_lines);
    free(nul);
    free(ctrl);
    free(bad_b64);
    free(no_end);
    free(after_end);
    free(header_after_body);
    free(bad_body);
    free(open_continuation);
    free(long_tag);
    free(long_comment);
    free(ed);
    free(ssh2);
}

static void test_fingerprint_needs_blob(void **state)
{
    struct eic_sshkey key = {0};
    char out[64];
    char *line = NULL;

    (void)state;
    assert_int_equal(eic_sshkey_fingerprint(&key, out), EINVAL);
    assert_int_equal(eic_sshkey_to_openssh(&key, &line), EINVAL);
    assert_null(line);
    eic_sshkey_free(&key);
    eic_sshkey_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_match_ssh_keygen),
        cmocka_unit_test(test_openssh_roundtrip),
        cmocka_unit_test(test_ssh2_equals_openssh),
        cmocka_unit_test(test_rfc4716_line_ends_and_space),
        cmocka_unit_test(test_malformed_blobs),
        cmocka_unit_test(test_malformed_ecdsa),
        cmocka_unit_test(test_malformed_text),
        cmocka_unit_test(test_fingerprint_needs_blob),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
