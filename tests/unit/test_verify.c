/* The signer-chain and key-record verifiers, driven from fixture files made by the openssl command
 * line (tests/data/verify/make-fixtures.sh), evaluated at the fixed time in tests/data/verify/NOW.
 * Every rejection path has a case here. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

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

static FILE *open_fixture(const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    f = fopen(path, "r");
    assert_non_null(f);
    return f;
}

static X509 *fixture_cert(const char *name)
{
    FILE *f = open_fixture(name);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);

    fclose(f);
    assert_non_null(cert);
    return cert;
}

static EVP_PKEY *fixture_key(const char *name)
{
    FILE *f = open_fixture(name);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);

    fclose(f);
    assert_non_null(key);
    return key;
}

/* basic signed by responder (flags: OCSP_basic_sign's), wrapped as a successful response, as
 * DER (caller frees). */
static unsigned char *signed_response_der(OCSP_BASICRESP *basic, X509 *responder, EVP_PKEY *responder_key,
                                          unsigned long flags, size_t *der_len)
{
    OCSP_RESPONSE *resp;
    unsigned char *der = NULL;
    int n;

    assert_int_equal(OCSP_basic_sign(basic, responder, responder_key, EVP_sha256(), NULL, flags), 1);
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    assert_non_null(resp);
    n = i2d_OCSP_RESPONSE(resp, &der);
    assert_true(n > 0);
    *der_len = (size_t)n;
    OCSP_RESPONSE_free(resp);
    return der;
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

/* How long a verified signer may be relied on (eicd keeps it): the earliest of the chain's
 * notAfter dates (the fixture CA's, 2126-11-01 16:32:09 UTC, a second before the intermediate's and
 * the signer's) and the OCSP responses' nextUpdate (16:32:11 and :12); 0 when it does not verify. */
static void test_signer_valid_until(void **state)
{
    struct ocsp_set set;
    X509_STORE *store = anchors_from("pki/ca.pem");
    EVP_PKEY *key = NULL;
    long long until = -1;
    char reason[256];
    size_t len;
    char *pem = read_fixture("chain-good.pem", &len);

    (void)state;
    load_ocsp_set("good", &set);
    assert_int_equal(eic_signer_verify_until(pem, len, store, EXPECTED_CN, set.blobs, set.n, fixture_now, &key, &until,
                                             reason, sizeof(reason)),
                     0);
    assert_int_equal(until, 4949224329LL);
    EVP_PKEY_free(key);
    key = NULL;
    assert_int_equal(eic_signer_verify_until(pem, len, store, "managed-ssh-signer.eu-west-1.amazonaws.com", set.blobs,
                                             set.n, fixture_now, &key, &until, reason, sizeof(reason)),
                     EACCES);
    assert_int_equal(until, 0);
    free_ocsp_set(&set);
    free(pem);
    X509_STORE_free(store);
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
    /* ... also when the anchor carries OpenSSL's "trusted for OCSP signing" setting, whose
     * fallback would accept any responder under it (regression: OCSP_NOEXPLICIT). */
    expect_signer("chain-good.pem", "good", "pki/ca-ocsp-trusted.pem", 0, NULL);
    expect_signer("chain-good.pem", "badsig-signer", "pki/ca-ocsp-trusted.pem", EACCES, "not signed by");
    expect_signer("chain-good.pem", "stale-signer", "pki/ca.pem", EACCES, "has expired");
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate with model's name and key (a fixture certificate), issued by the fixture
 * intermediate with the OCSP-signing EKU: a delegated responder; or, for a signer certificate,
 * what a CA would issue by mistake (or an attacker ask for) to make one that may answer for
 * itself. */
static X509 *ocsp_signing_cert(const char *model_name, long serial, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *model = fixture_cert(model_name);
    X509 *cert = X509_new();
    time_t now = (time_t)fixture_now;

    assert_non_null(cert);
    assert_int_equal(X509_set_version(cert, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial), 1);
    assert_int_equal(X509_set_issuer_name(cert, X509_get_subject_name(issuer)), 1);
    assert_int_equal(X509_set_subject_name(cert, X509_get_subject_name(model)), 1);
    assert_int_equal(X509_set_pubkey(cert, X509_get0_pubkey(model)), 1);
    /* Ten years before NOW to a hundred after, like the fixtures: OCSP_basic_verify() checks a
     * delegated responder at the wall clock, not at the fixtures' NOW. */
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(cert), -3650, 0, &now));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(cert), 36500, 0, &now));
    add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert, issuer, NID_ext_key_usage, "OCSPSigning");
    add_ext(cert, issuer, NID_subject_key_identifier, "hash");
    add_ext(cert, issuer, NID_authority_key_identifier, "keyid");
    assert_true(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
    X509_free(model);
    return cert;
}

/* A "good" response about cert (issued by issuer), signed by responder, which it carries. */
static unsigned char *good_ocsp(X509 *cert, X509 *issuer, X509 *responder, EVP_PKEY *responder_key, size_t *der_len)
{
    OCSP_BASICRESP *basic = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    ASN1_TIME *this_update = ASN1_TIME_set(NULL, (time_t)fixture_now - 3600);
    ASN1_TIME *next_update = ASN1_TIME_set(NULL, (time_t)fixture_now + 86400);
    unsigned char *der;

    assert_non_null(OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, this_update, next_update));
    der = signed_response_der(basic, responder, responder_key, 0, der_len);
    OCSP_BASICRESP_free(basic);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next_update);
    return der;
}

/* Verify the chain (signer, the fixture intermediate) with the intermediate's good fixture
 * response and, for signer, a good response signed by responder. */
static int verify_with_responder(X509 *signer, X509 *responder, EVP_PKEY *responder_key, char *reason,
                                 size_t reason_len)
{
    X509 *issuer = fixture_cert("pki/intermediate.pem");
    X509_STORE *store = anchors_from("pki/ca.pem");
    BIO *chain = BIO_new(BIO_s_mem());
    struct ocsp_set set;
    struct eic_ocsp_blob blobs[9];
    char signer_name[41];
    EVP_PKEY *key = NULL;
    unsigned char *der;
    size_t der_len;
    char *pem;
    long pem_len;
    int ret;

    assert_non_null(chain);
    assert_int_equal(PEM_write_bio_X509(chain, signer), 1);
    assert_int_equal(PEM_write_bio_X509(chain, issuer), 1);
    pem_len = BIO_get_mem_data(chain, &pem);
    assert_true(pem_len > 0);
    load_ocsp_set("missing-signer", &set); /* the intermediate's response alone */
    memcpy(blobs, set.blobs, set.n * sizeof(blobs[0]));
    der = good_ocsp(signer, issuer, responder, responder_key, &der_len);
    assert_int_equal(eic_cert_sha1_name(signer, signer_name), 0);
    blobs[set.n] = (struct eic_ocsp_blob){.name = signer_name, .der = der, .der_len = der_len};
    ret = eic_signer_verify(pem, (size_t)pem_len, store, EXPECTED_CN, blobs, set.n + 1, fixture_now, &key, reason,
                            reason_len);
    assert_true((ret == 0) == (key != NULL));
    EVP_PKEY_free(key);
    free(der);
    free_ocsp_set(&set);
    BIO_free(chain);
    X509_STORE_free(store);
    X509_free(issuer);
    return ret;
}

/* Regression: a signer certificate with the OCSP-signing EKU passed OpenSSL's delegated-responder
 * check for its own status, so its key (stolen, the certificate revoked) could keep it "good". */
static void test_signer_ocsp_not_self_signed(void **state)
{
    X509 *issuer = fixture_cert("pki/intermediate.pem");
    EVP_PKEY *issuer_key = fixture_key("pki/intermediate.key");
    EVP_PKEY *signer_key = fixture_key("pki/signer.key");
    EVP_PKEY *other_key = fixture_key("pki/signer-wrongcn.key");
    X509 *signer = ocsp_signing_cert("pki/signer.pem", 0x5e1f1, issuer, issuer_key);
    X509 *delegated = ocsp_signing_cert("pki/signer-wrongcn.pem", 0x5e1f2, issuer, issuer_key);
    char reason[256] = "";

    (void)state;
    /* Controls: the certificate is fine when its issuer answers for it ... */
    assert_int_equal(verify_with_responder(signer, issuer, issuer_key, reason, sizeof(reason)), 0);
    /* ... or a responder the issuer delegated, with a key of its own. */
    assert_int_equal(verify_with_responder(signer, delegated, other_key, reason, sizeof(reason)), 0);
    /* Answering for itself: refused. */
    assert_int_equal(verify_with_responder(signer, signer, signer_key, reason, sizeof(reason)), EACCES);
    assert_non_null(strstr(reason, "signed by the certificate's own key"));
    X509_free(delegated);
    X509_free(signer);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(signer_key);
    EVP_PKEY_free(issuer_key);
    X509_free(issuer);
}

/* "YYYYMMDDHHMMSS" + suffix for t (UTC). */
static void generalized_time(long long t, const char *suffix, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    assert_non_null(gmtime_r(&tt, &tm));
    assert_true(strftime(out, len, "%Y%m%d%H%M%S", &tm) > 0);
    strncat(out, suffix, len - strlen(out) - 1);
}

/* A "good" OCSP response about the fixture signer, signed by its issuer, whose thisUpdate and
 * nextUpdate (NULL: none) hold exactly the given text: forms openssl ocsp does not write
 * (fractional seconds, offsets, garbage). Returns the DER (caller frees). */
static unsigned char *signer_ocsp_with_times(const char *this_update, const char *next_update, size_t *der_len)
{
    X509 *signer = fixture_cert("pki/signer.pem");
    X509 *issuer = fixture_cert("pki/intermediate.pem");
    EVP_PKEY *issuer_key = fixture_key("pki/intermediate.key");
    OCSP_BASICRESP *basic = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), signer, issuer);
    ASN1_TIME *placeholder = ASN1_TIME_set(NULL, (time_t)fixture_now);
    ASN1_GENERALIZEDTIME *this_slot = NULL;
    ASN1_GENERALIZEDTIME *next_slot = NULL;
    OCSP_SINGLERESP *single;
    unsigned char *der;

    assert_non_null(basic);
    assert_non_null(id);
    single = OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, placeholder,
                                    next_update != NULL ? placeholder : NULL);
    assert_non_null(single);
    /* add1_status normalises the times it is given: write the wanted text over them. */
    OCSP_single_get0_status(single, NULL, NULL, &this_slot, &next_slot);
    assert_int_equal(ASN1_STRING_set(this_slot, this_update, -1), 1);
    if (next_update != NULL) {
        assert_int_equal(ASN1_STRING_set(next_slot, next_update, -1), 1);
    }
    der = signed_response_der(basic, issuer, issuer_key, OCSP_NOCERTS, der_len);
    OCSP_BASICRESP_free(basic);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(placeholder);
    EVP_PKEY_free(issuer_key);
    X509_free(issuer);
    X509_free(signer);
    return der;
}

/* The good chain and OCSP set, the signer's response replaced by one with these times. */
static void expect_signer_ocsp_times(const char *this_update, const char *next_update, int want,
                                     const char *reason_part)
{
    struct ocsp_set set;
    X509_STORE *store = anchors_from("pki/ca.pem");
    X509 *signer = fixture_cert("pki/signer.pem");
    EVP_PKEY *key = NULL;
    char signer_name[41];
    char reason[256] = "";
    size_t der_len;
    unsigned char *der = signer_ocsp_with_times(this_update, next_update, &der_len);
    size_t len;
    char *pem = read_fixture("chain-good.pem", &len);
    bool replaced = false;
    int ret;

    assert_int_equal(eic_cert_sha1_name(signer, signer_name), 0);
    load_ocsp_set("good", &set);
    for (size_t i = 0; i < set.n; i++) {
        if (strcmp(set.blobs[i].name, signer_name) == 0) {
            set.blobs[i].der = der;
            set.blobs[i].der_len = der_len;
            replaced = true;
        }
    }
    assert_true(replaced);
    ret = eic_signer_verify(pem, len, store, EXPECTED_CN, set.blobs, set.n, fixture_now, &key, reason, sizeof(reason));
    if (ret != want || (reason_part != NULL && strstr(reason, reason_part) == NULL)) {
        fail_msg("thisUpdate %s, nextUpdate %s: got %d (%s), want %d (%s)", this_update,
                 next_update != NULL ? next_update : "(none)", ret, reason, want, reason_part ? reason_part : "");
    }
    EVP_PKEY_free(key);
    free_ocsp_set(&set);
    free(der);
    free(pem);
    X509_free(signer);
    X509_STORE_free(store);
}

/* Regression: X509_cmp_time() said "the same time" for dates it could not read, so a long
 * expired response with fractional seconds, an offset or garbage dates passed as current; and a
 * response without nextUpdate passed however old it was. */
static void test_signer_ocsp_times(void **state)
{
    char hour_ago[32] = "";
    char in_a_month[32] = "";
    char eight_days_ago[32] = "";

    (void)state;
    /* The helper's own control: plain dates around now pass. */
    generalized_time(fixture_now - 3600, "Z", hour_ago, sizeof(hour_ago));
    generalized_time(fixture_now + 30 * 86400, "Z", in_a_month, sizeof(in_a_month));
    expect_signer_ocsp_times(hour_ago, in_a_month, 0, NULL);
    /* Fractional seconds are read, not refused and not waved through. */
    hour_ago[0] = in_a_month[0] = '\0';
    generalized_time(fixture_now - 3600, ".5Z", hour_ago, sizeof(hour_ago));
    generalized_time(fixture_now + 30 * 86400, ".5Z", in_a_month, sizeof(in_a_month));
    expect_signer_ocsp_times(hour_ago, in_a_month, 0, NULL);
    expect_signer_ocsp_times("20200101000000.5Z", "20200102000000.5Z", EACCES, "has expired");
    expect_signer_ocsp_times("20200101000000+0000", "20200102000000+0000", EACCES, NULL);
    expect_signer_ocsp_times("2020010100000XZ", "2020010200000XZ", EACCES, "cannot be read");
    expect_signer_ocsp_times(hour_ago, "not a time at all", EACCES, "cannot be read");
    /* No nextUpdate: good for EIC_OCSP_MAX_AGE_SECONDS after thisUpdate, not for ever. */
    expect_signer_ocsp_times(hour_ago, NULL, 0, NULL);
    generalized_time(fixture_now - 8 * 86400, "Z", eight_days_ago, sizeof(eight_days_ago));
    expect_signer_ocsp_times(eight_days_ago, NULL, EACCES, "no nextUpdate");
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
    X509 *cert = fixture_cert("pki/signer.pem");
    EVP_PKEY *key = X509_get_pubkey(cert);

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
    /* sshd's %f: only the records of that key get a verdict. */
    expect_records("three", fp_rsa, "accepted");
    expect_records("three", fp_ed, "accepted,expired");
    expect_records("three", "SHA256:nothing", "");
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
    char *fp_rsa = read_line_fixture("rsa2048.fp");
    char *three;
    size_t three_len;
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
    /* Regression: with sshd's %f, records of other keys counted against the cap, so whoever may
     * push for this user could crowd out the owner's key with 64 of their own. */
    three = read_fixture("records/three.txt", &three_len);
    body = realloc(body, off + three_len + big_len + 2);
    assert_non_null(body);
    memcpy(body + off, three, three_len);
    ctx.fingerprint = fp_rsa;
    assert_int_equal(eic_keyrecords_verify(body, off + three_len, &ctx, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].status, EIC_RECORD_ACCEPTED);
    assert_string_equal(v[0].fingerprint, fp_rsa);
    eic_keyrecords_free(v, n);
    ctx.fingerprint = NULL;
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
    free(three);
    free(fp_rsa);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_good),
        cmocka_unit_test(test_signer_valid_until),
        cmocka_unit_test(test_signer_wrong_cn),
        cmocka_unit_test(test_signer_untrusted_chain),
        cmocka_unit_test(test_signer_chain_expired_or_not_yet_valid),
        cmocka_unit_test(test_signer_ocsp),
        cmocka_unit_test(test_signer_ocsp_not_self_signed),
        cmocka_unit_test(test_signer_ocsp_times),
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
