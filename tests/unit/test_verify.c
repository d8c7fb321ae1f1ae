/* The signer-chain and key-record verifiers, driven from fixture files made by the openssl command
 * line (tests/data/verify/make-fixtures.sh), evaluated at the fixed time in tests/data/verify/NOW.
 * Every rejection path has a case here. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "eic_codec.h"
#include "eic_keyrecords.h"
#include "eic_signer.h"
#include "unit_support.h"

#define FIXTURES TEST_DATA_DIR "/verify"
#define INSTANCE "i-0123456789abcdef0"
#define EXPECTED_CN "managed-ssh-signer.us-east-1.amazonaws.com"

static long long fixture_now;

static char *read_fixture(const char *name, size_t *len)
{
    char path[1024];
    char *text;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    text = unit_read_file(path, len);
    assert_non_null(text);
    return text;
}

static char *read_line_fixture(const char *name)
{
    size_t len;
    char *s = read_fixture(name, &len);

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        s[--len] = '\0';
    }
    return s;
}

/* The OCSP responses of one fixture set: every file in ocsp/<set>/, decoded. */
struct ocsp_set {
    struct eic_ocsp_blob blobs[8];
    char names[8][64];
    unsigned char *der[8];
    size_t n;
};

static void load_ocsp_set(const char *set, struct ocsp_set *out)
{
    char dir_path[512];
    DIR *dir;
    struct dirent *ent;

    memset(out, 0, sizeof(*out));
    snprintf(dir_path, sizeof(dir_path), "%s/ocsp/%s", FIXTURES, set);
    dir = opendir(dir_path);
    assert_non_null(dir);
    while ((ent = readdir(dir)) != NULL) {
        char rel[400];
        size_t len;
        char *b64;

        if (ent->d_name[0] == '.') {
            continue;
        }
        assert_true(out->n < 8);
        snprintf(rel, sizeof(rel), "ocsp/%.64s/%.255s", set, ent->d_name);
        b64 = read_fixture(rel, &len);
        snprintf(out->names[out->n], sizeof(out->names[0]), "%.63s", ent->d_name);
        assert_int_equal(eic_base64_decode(b64, len, &out->der[out->n], &out->blobs[out->n].der_len), 0);
        out->blobs[out->n].name = out->names[out->n];
        out->blobs[out->n].der = out->der[out->n];
        out->n++;
        free(b64);
    }
    closedir(dir);
}

static void free_ocsp_set(struct ocsp_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->der[i]);
    }
}

static X509_STORE *anchors_from(const char *pem_name)
{
    char path[512];
    X509_STORE *store = NULL;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, pem_name);
    assert_int_equal(eic_signer_load_anchors(path, NULL, &store), 0);
    return store;
}

/* Run the signer verifier; returns its code and copies the reason. */
static int verify_signer(const char *chain, const char *ocsp_set, const char *anchor, long long now, char *reason,
                         size_t reason_len)
{
    struct ocsp_set set;
    X509_STORE *store = anchors_from(anchor);
    EVP_PKEY *key = NULL;
    size_t len;
    char *pem = read_fixture(chain, &len);
    int ret;

    load_ocsp_set(ocsp_set, &set);
    ret = eic_signer_verify(pem, len, store, EXPECTED_CN, set.blobs, set.n, now, &key, reason, reason_len);
    if (ret == 0) {
        assert_non_null(key);
    } else {
        assert_null(key);
        assert_true(reason[0] != '\0');
    }
    EVP_PKEY_free(key);
    free_ocsp_set(&set);
    free(pem);
    X509_STORE_free(store);
    return ret;
}

static void expect_signer(const char *chain, const char *ocsp_set, const char *anchor, int want,
                          const char *reason_part)
{
    char reason[256];
    int ret = verify_signer(chain, ocsp_set, anchor, fixture_now, reason, sizeof(reason));

    if (ret != want || (reason_part != NULL && strstr(reason, reason_part) == NULL)) {
        fail_msg("%s + ocsp/%s: got %d (%s), want %d (%s)", chain, ocsp_set, ret, reason, want,
                 reason_part ? reason_part : "");
    }
}

static void test_signer_good(void **state)
{
    (void)state;
    expect_signer("chain-good.pem", "good", "pki/ca.pem", 0, NULL);
}

static void test_signer_wrong_cn(void **state)
{
    (void)state;
    expect_signer("chain-wrongcn.pem", "signer-wrongcn", "pki/ca.pem", EACCES, "commonName is not");
    expect_signer("chain-twocn.pem", "signer-twocn", "pki/ca.pem", EACCES, "more than one commonName");
}

static void test_signer_untrusted_chain(void **state)
{
    (void)state;
    /* A root of the same name served in the chain is never an anchor. */
    expect_signer("chain-rogue.pem", "good", "pki/ca.pem", EACCES, "does not verify");
    /* The intermediate missing from the served chain: no path to the anchor. */
    expect_signer("chain-no-intermediate.pem", "good", "pki/ca.pem", EACCES, "does not verify");
    /* The right chain against other anchors. */
    expect_signer("chain-good.pem", "good", "pki/rogue-ca.pem", EACCES, "does not verify");
}

static void test_signer_chain_expired_or_not_yet_valid(void **state)
{
    char reason[256];

    (void)state;
    assert_int_equal(verify_signer("chain-good.pem", "good", "pki/ca.pem", 1000000000LL, reason, sizeof(reason)),
                     EACCES);
    assert_non_null(strstr(reason, "does not verify"));
    assert_int_equal(verify_signer("chain-good.pem", "good", "pki/ca.pem", 5000000000LL, reason, sizeof(reason)),
                     EACCES);
}

static void test_signer_ocsp(void **state)
{
    (void)state;
    expect_signer("chain-good.pem", "revoked-signer", "pki/ca.pem", EACCES, "is revoked");
    expect_signer("chain-good.pem", "revoked-intermediate", "pki/ca.pem", EACCES, "is revoked");
    expect_signer("chain-good.pem", "missing-signer", "pki/ca.pem", EACCES, "no OCSP response");
    /* Signed by the signer itself: neither its issuer nor a responder delegated by the issuer. */
    expect_signer("chain-good.pem", "badsig-signer", "pki/ca.pem", EACCES, "not signed by");
    expect_signer("chain-good.pem", "stale-signer", "pki/ca.pem", EACCES, "has expired");
}

static void test_signer_ocsp_garbage(void **state)
{
    struct ocsp_set set;
    X509_STORE *store = anchors_from("pki/ca.pem");
    EVP_PKEY *key = NULL;
    char reason[256];
    size_t len;
    char *pem = read_fixture("chain-good.pem", &len);
    unsigned char garbage[] = {0x30, 0x03, 0x0a, 0x01, 0x00};

    (void)state;
    load_ocsp_set("good", &set);
    /* Replace every response by a truncated or meaningless DER blob, one at a time. */
    for (size_t i = 0; i < set.n; i++) {
        const unsigned char *saved = set.blobs[i].der;
        size_t saved_len = set.blobs[i].der_len;

        set.blobs[i].der_len = saved_len / 2;
        assert_int_equal(eic_signer_verify(pem, len, store, EXPECTED_CN, set.blobs, set.n, fixture_now, &key, reason,
                                           sizeof(reason)),
                         EACCES);
        set.blobs[i].der = garbage;
        set.blobs[i].der_len = sizeof(garbage);
        assert_int_equal(eic_signer_verify(pem, len, store, EXPECTED_CN, set.blobs, set.n, fixture_now, &key, reason,
                                           sizeof(reason)),
                         EACCES);
        set.blobs[i].der = saved;
        set.blobs[i].der_len = saved_len;
    }
    assert_null(key);
    free_ocsp_set(&set);
    free(pem);
    X509_STORE_free(store);
}

static void test_signer_malformed_chain(void **state)
{
    X509_STORE *store = anchors_from("pki/ca.pem");
    EVP_PKEY *key = NULL;
    char reason[256];
    const char *not_pem = "hello\n";
    size_t len;
    char *pem = read_fixture("chain-good.pem", &len);

    (void)state;
    assert_int_equal(eic_signer_verify("", 0, store, EXPECTED_CN, NULL, 0, fixture_now, &key, reason, sizeof(reason)),
                     EBADMSG);
    assert_int_equal(eic_signer_verify(not_pem, strlen(not_pem), store, EXPECTED_CN, NULL, 0, fixture_now, &key, reason,
                                       sizeof(reason)),
                     EBADMSG);
    /* Truncated in the middle of the first certificate. */
    assert_int_not_equal(
        eic_signer_verify(pem, len / 4, store, EXPECTED_CN, NULL, 0, fixture_now, &key, reason, sizeof(reason)), 0);
    assert_null(key);
    free(pem);
    X509_STORE_free(store);
}

/* --- key records --- */

static EVP_PKEY *fixture_signer_key(void)
{
    char path[512];
    FILE *f;
    X509 *cert;
    EVP_PKEY *key;

    snprintf(path, sizeof(path), "%s/pki/signer.pem", FIXTURES);
    f = fopen(path, "r");
    assert_non_null(f);
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(cert);
    key = X509_get_pubkey(cert);
    X509_free(cert);
    assert_non_null(key);
    return key;
}

/* Verify records/<name>.txt and compare the verdicts with want ("accepted,expired"). */
static void expect_records(const char *name, const char *fingerprint, const char *want)
{
    struct eic_keyrecords_context ctx = {INSTANCE, fixture_now, fixture_signer_key(), fingerprint};
    struct eic_record_verdict *v = NULL;
    size_t n = 0;
    char rel[256];
    char got[512] = "";
    size_t len;
    char *body;

    snprintf(rel, sizeof(rel), "records/%s.txt", name);
    body = read_fixture(rel, &len);
    assert_int_equal(eic_keyrecords_verify(body, len, &ctx, &v, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            strncat(got, ",", sizeof(got) - strlen(got) - 1);
        }
        strncat(got, eic_record_status_name(v[i].status), sizeof(got) - strlen(got) - 1);
        if (v[i].status == EIC_RECORD_ACCEPTED) {
            assert_non_null(v[i].key);
            assert_non_null(strstr(v[i].key, "AAAA"));
            assert_null(strchr(v[i].key, '\n'));
            assert_memory_equal(v[i].fingerprint, "SHA256:", 7);
        }
    }
    if (strcmp(got, want) != 0) {
        fail_msg("records/%s: got '%s', want '%s'", name, got, want);
    }
    eic_keyrecords_free(v, n);
    EVP_PKEY_free(ctx.signer_key);
    free(body);
}

static void test_records_accepted(void **state)
{
    struct eic_keyrecords_context ctx = {INSTANCE, 0, NULL, NULL};
    struct eic_record_verdict *v = NULL;
    size_t n = 0;
    size_t len;
    char *body = read_fixture("records/good.txt", &len);
    char *fp = read_line_fixture("ed25519.fp");

    (void)state;
    expect_records("good", NULL, "accepted");
    expect_records("minimal", NULL, "accepted");
    expect_records("unknown-field", NULL, "accepted");
    expect_records("multiline-signature", NULL, "accepted");

    ctx.now = fixture_now;
    ctx.signer_key = fixture_signer_key();
    assert_int_equal(eic_keyrecords_verify(body, len, &ctx, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].caller, "arn:aws:iam::111122223333:user/alice");
    assert_string_equal(v[0].request_id, "2d1b0a6e-1111-4222-8333-444455556666");
    assert_string_equal(v[0].fingerprint, fp);
    assert_int_equal(v[0].expires, fixture_now + 60);
    /* Printed without the comment. */
    assert_null(strstr(v[0].key, "fixture key"));
    assert_memory_equal(v[0].key, "ssh-ed25519 AAAA", 16);
    eic_keyrecords_free(v, n);
    EVP_PKEY_free(ctx.signer_key);
    free(body);
    free(fp);
}

static void test_records_rejected(void **state)
{
    (void)state;
    expect_records("expired", NULL, "expired");
    expect_records("expires-now", NULL, "expired");
    expect_records("wrong-instance", NULL, "wrong-instance");
    expect_records("no-instance", NULL, "no-instance");
    expect_records("no-timestamp", NULL, "no-timestamp");
    expect_records("wrong-signer", NULL, "bad-signature");
    expect_records("tampered-caller", NULL, "bad-signature");
    expect_records("tampered-timestamp", NULL, "bad-signature");
    expect_records("no-signature", NULL, "malformed");
    expect_records("garbage-signature", NULL, "bad-signature");
    expect_records("no-key-line", NULL, "malformed");
    expect_records("repeated-instance", NULL, "malformed");
    expect_records("bad-field", NULL, "malformed");
    expect_records("crlf", NULL, "malformed");
    expect_records("bad-key", NULL, "bad-key");
}

static void test_records_several(void **state)
{
    char *fp_ed = read_line_fixture("ed25519.fp");
    char *fp_rsa = read_line_fixture("rsa2048.fp");

    (void)state;
    expect_records("three", NULL, "accepted,expired,accepted");
    /* sshd's %f: only the record with that key. */
    expect_records("three", fp_rsa, "fingerprint-mismatch,fingerprint-mismatch,accepted");
    expect_records("three", fp_ed, "accepted,expired,fingerprint-mismatch");
    expect_records("three", "SHA256:nothing", "fingerprint-mismatch,fingerprint-mismatch,fingerprint-mismatch");
    expect_records("empty", NULL, "");
    expect_records("blank-lines", NULL, "");
    free(fp_ed);
    free(fp_rsa);
}

static void test_records_limits(void **state)
{
    struct eic_keyrecords_context ctx = {INSTANCE, 0, NULL, NULL};
    struct eic_record_verdict *v = NULL;
    size_t n = 0;
    size_t len;
    size_t big_len = 100 * 1024;
    char *good = read_fixture("records/good.txt", &len);
    char *body = malloc((EIC_KEYRECORDS_MAX + 5) * (len + 1) + big_len + 2);
    size_t off = 0;

    (void)state;
    ctx.now = fixture_now;
    ctx.signer_key = fixture_signer_key();
    assert_non_null(body);
    /* More records than the cap: the extra ones are refused, not processed. */
    for (int i = 0; i < EIC_KEYRECORDS_MAX + 5; i++) {
        memcpy(body + off, good, len);
        off += len;
        body[off++] = '\n';
    }
    assert_int_equal(eic_keyrecords_verify(body, off, &ctx, &v, &n), 0);
    assert_int_equal(n, EIC_KEYRECORDS_MAX + 1);
    assert_int_equal(v[0].status, EIC_RECORD_ACCEPTED);
    assert_int_equal(v[EIC_KEYRECORDS_MAX].status, EIC_RECORD_TOO_MANY);
    eic_keyrecords_free(v, n);
    /* One overlong line. */
    memset(body, 'A', big_len);
    memcpy(body, "#Timestamp=", 11);
    body[big_len] = '\n';
    assert_int_equal(eic_keyrecords_verify(body, big_len + 1, &ctx, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].status, EIC_RECORD_MALFORMED);
    eic_keyrecords_free(v, n);
    /* Every truncation of a good record is refused and never over-reads (valgrind shows the
     * latter); only dropping the final newline leaves it whole. */
    for (size_t cut = 0; cut + 1 < len; cut++) {
        assert_int_equal(eic_keyrecords_verify(good, cut, &ctx, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_not_equal(v[i].status, EIC_RECORD_ACCEPTED);
        }
        eic_keyrecords_free(v, n);
    }
    EVP_PKEY_free(ctx.signer_key);
    free(body);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_good),
        cmocka_unit_test(test_signer_wrong_cn),
        cmocka_unit_test(test_signer_untrusted_chain),
        cmocka_unit_test(test_signer_chain_expired_or_not_yet_valid),
        cmocka_unit_test(test_signer_ocsp),
        cmocka_unit_test(test_signer_ocsp_garbage),
        cmocka_unit_test(test_signer_malformed_chain),
        cmocka_unit_test(test_records_accepted),
        cmocka_unit_test(test_records_rejected),
        cmocka_unit_test(test_records_several),
        cmocka_unit_test(test_records_limits),
    };
    char *now = read_line_fixture("NOW");

    fixture_now = atoll(now);
    free(now);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
