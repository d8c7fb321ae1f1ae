/* Unit tests for the emulator's signer PKI (emu_pki.c) and key records (emu_records.c).
 * Everything is checked with OpenSSL directly, never through the code under test: the chain
 * with X509_verify_cert (strict) against ca.pem read from disk, the OCSP responses with
 * OCSP_basic_verify, record signatures with EVP_DigestVerify (RSA-PSS, salt 32). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_log.h"
#include "emu_pki.h"
#include "emu_records.h"
#include "unit_support.h"

#define REGION "us-east-1"
#define DOMAIN "amazonaws.com"
#define GOOD_CN "managed-ssh-signer." REGION "." DOMAIN
#define WRONG_CN "managed-ssh-signer." REGION ".example.com"
#define ED25519_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDnT0ZQXzv0KJ1bNfJGk1VgnWuQ2xL3q1v4x5cWJj2mC alice@laptop"
#define ALICE_ARN "arn:aws:iam::111122223333:user/alice"

/* Shared across the tests: one temporary directory (removed at the end) and one PKI loaded
 * from "<tmp>/state", so the RSA key generation is paid once. */
struct fixture {
    char tmp[64];
    char state[128];
    char log_path[128];
    struct emu_pki *pki;
};

static struct fixture fx;

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < len);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fputs(data, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int file_contains(const char *path, const char *needle)
{
    char *data = unit_read_file(path, NULL);
    int found = data != NULL && strstr(data, needle) != NULL;

    free(data);
    return found;
}

static X509 *load_cert_file(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *cert;

    assert_non_null(f);
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(cert);
    return cert;
}

static void load_pki(const char *state_dir, const char *region, int wrong_cn, enum emu_ocsp_fault fault,
                     enum emu_ocsp_target target, struct emu_pki **out)
{
    struct emu_pki_options opts = {
        .state_dir = state_dir,
        .region = region,
        .domain = DOMAIN,
        .wrong_signer_cn = wrong_cn,
        .ocsp_fault = fault,
        .ocsp_fault_target = target,
    };

    assert_int_equal(emu_pki_load(&opts, out), 0);
    assert_non_null(*out);
}

static int setup_group(void **state)
{
    (void)state;
    snprintf(fx.tmp, sizeof(fx.tmp), "/tmp/test_emu_records.XXXXXX");
    if (mkdtemp(fx.tmp) == NULL) {
        return -1;
    }
    snprintf(fx.state, sizeof(fx.state), "%s/state", fx.tmp);
    snprintf(fx.log_path, sizeof(fx.log_path), "%s/test.log", fx.tmp);
    if (eic_log_open("test_emu_records", fx.log_path, 0) != 0) {
        return -1;
    }
    eic_log_set_level(LOG_DEBUG);
    struct emu_pki_options opts = {.state_dir = fx.state, .region = REGION, .domain = DOMAIN};

    return emu_pki_load(&opts, &fx.pki) == 0 ? 0 : -1;
}

static int teardown_group(void **state)
{
    (void)state;
    emu_pki_free(fx.pki);
    eic_log_close();
    /* The directory is ours (mkdtemp) and holds only what this test made; depth first, no
     * symlinks followed. */
    return unit_remove_tree(fx.tmp);
}

/* The served chain split into its certificates (exactly two expected). */
static void parse_chain(const char *pem, X509 **signer, X509 **intermediate)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);

    assert_non_null(bio);
    *signer = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    *intermediate = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(*signer);
    assert_non_null(*intermediate);
    assert_null(PEM_read_bio_X509(bio, NULL, NULL, NULL));
    ERR_clear_error();
    BIO_free(bio);
}

/* X509_verify_cert(strict) of leaf with untrusted intermediate against ca.pem of state_dir. */
static int verify_chain(const char *state_dir, X509 *leaf, X509 *intermediate, X509 **root_out)
{
    char path[256];
    X509 *root;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok;

    path_in(path, sizeof(path), state_dir, "ca.pem");
    root = load_cert_file(path);
    assert_non_null(store);
    assert_non_null(ctx);
    assert_non_null(untrusted);
    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    assert_true(sk_X509_push(untrusted, intermediate) > 0);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    ok = X509_verify_cert(ctx);
    if (ok != 1) {
        print_message("# verify: %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted);
    if (root_out != NULL) {
        *root_out = root;
    } else {
        X509_free(root);
    }
    return ok == 1;
}

static char *subject_cn(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    char *cn;

    assert_true(idx >= 0);
    assert_int_equal(X509_NAME_get_index_by_NID(name, NID_commonName, idx), -1); /* exactly one */
    assert_true(ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx))) >= 0);
    cn = strdup((char *)utf8);
    OPENSSL_free(utf8);
    return cn;
}

static void sha1_name(X509 *cert, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_int_equal(X509_digest(cert, EVP_sha1(), md, &len), 1);
    assert_int_equal(len, 20);
    eic_hex_encode(md, len, out, true);
}

static const struct emu_ocsp_entry *find_entry(const struct emu_pki *pki, X509 *cert)
{
    char name[41];

    sha1_name(cert, name);
    for (size_t i = 0; i < pki->n_ocsp; i++) {
        if (strcmp(pki->ocsp[i].name, name) == 0) {
            return &pki->ocsp[i];
        }
    }
    return NULL;
}

struct ocsp_result {
    int verified;        /* OCSP_basic_verify against the root store */
    int signer_is_issuer; /* the response names and carries exactly the issuer */
    int status;
    int reason;
    int sha256;          /* signature algorithm sha256WithRSAEncryption */
    long this_update_age; /* seconds before now */
    long next_update_in;  /* seconds after now */
};

static void check_ocsp(const struct emu_ocsp_entry *entry, X509 *cert, X509 *issuer, X509 *root,
                       struct ocsp_result *res)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *basic;
    OCSP_CERTID *id;
    X509_STORE *store = X509_STORE_new();
    X509 *responder = NULL;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    const ASN1_OCTET_STRING *key_id = NULL;
    const X509_NAME *by_name = NULL;
    int day = 0, sec = 0;

    memset(res, 0, sizeof(*res));
    assert_int_equal(eic_base64_decode(entry->der_b64, strlen(entry->der_b64), &der, &der_len), 0);
    p = der;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der_len);
    assert_non_null(resp);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    basic = OCSP_response_get1_basic(resp);
    assert_non_null(basic);
    assert_non_null(store);
    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    res->verified = OCSP_basic_verify(basic, NULL, store, 0) == 1;
    ERR_clear_error();

    assert_int_equal(OCSP_resp_get0_id(basic, &key_id, &by_name), 1);
    assert_non_null(by_name);
    res->signer_is_issuer = X509_NAME_cmp(by_name, X509_get_subject_name(issuer)) == 0 &&
                            OCSP_resp_get0_signer(basic, &responder, NULL) == 1 && X509_cmp(responder, issuer) == 0;
    res->sha256 = OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(basic)->algorithm) == NID_sha256WithRSAEncryption;

    id = OCSP_cert_to_id(NULL, cert, issuer); /* SHA-1 CertID, as `openssl ocsp` builds it */
    assert_non_null(id);
    assert_int_equal(OCSP_resp_find_status(basic, id, &res->status, &res->reason, &rev, &thisupd, &nextupd), 1);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, thisupd, NULL), 1);
    res->this_update_age = day * 86400L + sec;
    assert_int_equal(ASN1_TIME_diff(&day, &sec, NULL, nextupd), 1);
    res->next_update_in = day * 86400L + sec;

    OCSP_CERTID_free(id);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    free(der);
}

static void assert_ocsp_good(const struct emu_pki *pki, X509 *cert, X509 *issuer, X509 *root)
{
    const struct emu_ocsp_entry *entry = find_entry(pki, cert);
    struct ocsp_result res;

    assert_non_null(entry);
    check_ocsp(entry, cert, issuer, root, &res);
    assert_true(res.verified);
    assert_true(res.signer_is_issuer);
    assert_true(res.sha256);
    assert_int_equal(res.status, V_OCSP_CERTSTATUS_GOOD);
    assert_true(res.this_update_age >= 3590 && res.this_update_age <= 3700);
    assert_true(res.next_update_in >= 7 * 86400L - 100 && res.next_update_in <= 7 * 86400L);
}

static void test_pki_chain_and_files(void **state)
{
    X509 *signer, *inter, *root = NULL;
    char *cn;
    char path[256];
    struct stat st;
    const char *keys[] = {"ca.key", "intermediate.key", "signer.key"};
    const char *certs[] = {"ca.pem", "intermediate.pem", "signer.pem"};

    (void)state;
    parse_chain(fx.pki->chain_pem, &signer, &inter);
    assert_int_equal(X509_cmp(signer, fx.pki->signer_cert), 0);
    assert_int_equal(X509_cmp(inter, fx.pki->intermediate_cert), 0);
    assert_true(verify_chain(fx.state, signer, inter, &root));
    assert_int_equal(X509_cmp(root, fx.pki->root_cert), 0);

    cn = subject_cn(signer);
    assert_string_equal(cn, GOOD_CN);
    free(cn);
    /* Signer: not a CA, digitalSignature only; intermediate: CA with pathlen 0. */
    assert_int_equal(X509_check_ca(signer), 0);
    assert_true((X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) != 0);
    assert_true((X509_get_key_usage(signer) & KU_KEY_CERT_SIGN) == 0);
    assert_int_equal(X509_check_ca(inter), 1);
    assert_int_equal(X509_get_pathlen(inter), 0);
    assert_int_equal(EVP_PKEY_get_bits(fx.pki->signer_key), 2048);
    assert_int_equal(X509_check_private_key(signer, fx.pki->signer_key), 1);

    assert_int_equal(stat(fx.state, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    for (size_t i = 0; i < 3; i++) {
        path_in(path, sizeof(path), fx.state, keys[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        path_in(path, sizeof(path), fx.state, certs[i]);
        assert_int_equal(stat(path, &st), 0);
    }
    /* The wrong-CN signer is made only when asked for. */
    path_in(path, sizeof(path), fx.state, "signer-wrongcn.pem");
    assert_int_equal(stat(path, &st), -1);

    assert_int_equal(fx.pki->n_ocsp, 2);
    assert_ocsp_good(fx.pki, signer, inter, root);
    assert_ocsp_good(fx.pki, inter, root, root);
    X509_free(signer);
    X509_free(inter);
    X509_free(root);
}

/* Each OCSP fault, for each target, changes that target's entry only. */
static void test_pki_ocsp_faults(void **state)
{
    const enum emu_ocsp_fault faults[] = {EMU_OCSP_REVOKED, EMU_OCSP_MISSING, EMU_OCSP_BAD_SIGNATURE};
    const enum emu_ocsp_target targets[] = {EMU_OCSP_TARGET_SIGNER, EMU_OCSP_TARGET_INTERMEDIATE};

    (void)state;
    for (size_t f = 0; f < 3; f++) {
        for (size_t t = 0; t < 2; t++) {
            struct emu_pki *pki = NULL;
            X509 *cert, *issuer, *other, *other_issuer;
            const struct emu_ocsp_entry *entry;
            struct ocsp_result res;

            load_pki(fx.state, REGION, 0, faults[f], targets[t], &pki);
            /* Same files: the fault is in the responses only. */
            assert_int_equal(X509_cmp(pki->signer_cert, fx.pki->signer_cert), 0);
            if (targets[t] == EMU_OCSP_TARGET_SIGNER) {
                cert = pki->signer_cert, issuer = pki->intermediate_cert;
                other = pki->intermediate_cert, other_issuer = pki->root_cert;
            } else {
                cert = pki->intermediate_cert, issuer = pki->root_cert;
                other = pki->signer_cert, other_issuer = pki->intermediate_cert;
            }
            assert_ocsp_good(pki, other, other_issuer, pki->root_cert);
            entry = find_entry(pki, cert);
            switch (faults[f]) {
            case EMU_OCSP_REVOKED:
                assert_int_equal(pki->n_ocsp, 2);
                assert_non_null(entry);
                check_ocsp(entry, cert, issuer, pki->root_cert, &res);
                assert_true(res.verified);
                assert_true(res.signer_is_issuer);
                assert_int_equal(res.status, V_OCSP_CERTSTATUS_REVOKED);
                assert_int_equal(res.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
                break;
            case EMU_OCSP_MISSING:
                assert_int_equal(pki->n_ocsp, 1);
                assert_null(entry);
                break;
            case EMU_OCSP_BAD_SIGNATURE:
                assert_int_equal(pki->n_ocsp, 2);
                assert_non_null(entry);
                check_ocsp(entry, cert, issuer, pki->root_cert, &res);
                assert_false(res.verified);
                /* Same responder name, and the real issuer's certificate is the one carried. */
                assert_true(res.signer_is_issuer);
                assert_int_equal(res.status, V_OCSP_CERTSTATUS_GOOD);
                break;
            default:
                fail();
            }
            emu_pki_free(pki);
        }
    }
}

static int verify_pss(X509 *cert, const void *data, size_t len, const char *sig_b64)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    assert_int_equal(eic_base64_decode(sig_b64, strlen(sig_b64), &sig, &sig_len), 0);
    assert_non_null(md);
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, X509_get0_pubkey(cert)), 1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0);
    ok = EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    free(sig);
    return ok;
}

static void test_pki_wrong_signer_cn(void **state)
{
    struct emu_pki *pki = NULL;
    X509 *signer, *inter;
    char *cn;
    char *sig = NULL;
    char path[256];
    struct stat st;

    (void)state;
    load_pki(fx.state, REGION, 1, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    parse_chain(pki->chain_pem, &signer, &inter);
    assert_int_equal(X509_cmp(signer, pki->signer_cert), 0);
    assert_int_not_equal(X509_cmp(signer, fx.pki->signer_cert), 0);
    assert_int_equal(X509_cmp(inter, fx.pki->intermediate_cert), 0); /* same intermediate */
    assert_true(verify_chain(fx.state, signer, inter, NULL));
    cn = subject_cn(signer);
    assert_string_equal(cn, WRONG_CN);
    free(cn);
    path_in(path, sizeof(path), fx.state, "signer-wrongcn.key");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_ocsp_good(pki, signer, inter, pki->root_cert);
    assert_ocsp_good(pki, inter, pki->root_cert, pki->root_cert);
    /* It is also the key that signs. */
    assert_int_equal(emu_pki_sign(pki, "abc", 3, &sig), 0);
    assert_true(verify_pss(signer, "abc", 3, sig));
    assert_false(verify_pss(fx.pki->signer_cert, "abc", 3, sig));
    free(sig);
    X509_free(signer);
    X509_free(inter);
    emu_pki_free(pki);
}

/* Reloading keeps every file; a new region re-issues only the signer. */
static void test_pki_reload_stable(void **state)
{
    char dir[256];
    char path[256];
    char *ca1, *ca2, *inter1, *inter2, *signer1, *signer2;
    struct emu_pki *pki = NULL;
    X509 *signer, *inter;
    char *cn;

    (void)state;
    path_in(dir, sizeof(dir), fx.tmp, "reload");
    assert_int_equal(mkdir(dir, 0755), 0); /* an existing directory is used as it is */
    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    emu_pki_free(pki);
    path_in(path, sizeof(path), dir, "ca.pem");
    ca1 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "intermediate.pem");
    inter1 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "signer.pem");
    signer1 = unit_read_file(path, NULL);
    assert_non_null(ca1);
    assert_non_null(inter1);
    assert_non_null(signer1);

    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    emu_pki_free(pki);
    path_in(path, sizeof(path), dir, "ca.pem");
    ca2 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "intermediate.pem");
    inter2 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "signer.pem");
    signer2 = unit_read_file(path, NULL);
    assert_string_equal(ca1, ca2);
    assert_string_equal(inter1, inter2);
    assert_string_equal(signer1, signer2);
    free(ca2);
    free(inter2);
    free(signer2);

    load_pki(dir, "eu-west-3", 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    parse_chain(pki->chain_pem, &signer, &inter);
    cn = subject_cn(signer);
    assert_string_equal(cn, "managed-ssh-signer.eu-west-3." DOMAIN);
    free(cn);
    assert_true(verify_chain(dir, signer, inter, NULL));
    assert_true(file_contains(fx.log_path, "not for the configured region/domain"));
    path_in(path, sizeof(path), dir, "ca.pem");
    ca2 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "intermediate.pem");
    inter2 = unit_read_file(path, NULL);
    assert_string_equal(ca1, ca2);
    assert_string_equal(inter1, inter2);
    free(ca2);
    free(inter2);
    X509_free(signer);
    X509_free(inter);
    emu_pki_free(pki);
    free(ca1);
    free(inter1);
    free(signer1);
}

/* Damaged files: a clear log line and regeneration of what is needed, never a crash. */
static void test_pki_corrupt_files(void **state)
{
    char dir[256];
    char path[256];
    char *ca1, *ca2, *signer1, *signer2, *inter1, *inter2;
    struct emu_pki *pki = NULL;
    X509 *signer, *inter;

    (void)state;
    path_in(dir, sizeof(dir), fx.tmp, "corrupt");
    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    emu_pki_free(pki);
    path_in(path, sizeof(path), dir, "ca.pem");
    ca1 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "intermediate.pem");
    inter1 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "signer.pem");
    signer1 = unit_read_file(path, NULL);

    /* A corrupt signer key: only the signer is re-issued. */
    path_in(path, sizeof(path), dir, "signer.key");
    write_file(path, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    assert_true(file_contains(fx.log_path, "/corrupt/signer.key is corrupt; the signer will be re-issued"));
    parse_chain(pki->chain_pem, &signer, &inter);
    assert_true(verify_chain(dir, signer, inter, NULL));
    assert_int_equal(X509_check_private_key(signer, pki->signer_key), 1);
    X509_free(signer);
    X509_free(inter);
    emu_pki_free(pki);
    path_in(path, sizeof(path), dir, "ca.pem");
    ca2 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "intermediate.pem");
    inter2 = unit_read_file(path, NULL);
    path_in(path, sizeof(path), dir, "signer.pem");
    signer2 = unit_read_file(path, NULL);
    assert_string_equal(ca1, ca2);
    assert_string_equal(inter1, inter2);
    assert_string_not_equal(signer1, signer2);
    free(inter2);
    free(signer2);

    /* A missing intermediate certificate: the intermediate and the signer are re-issued. */
    path_in(path, sizeof(path), dir, "intermediate.pem");
    assert_int_equal(unlink(path), 0);
    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    assert_true(file_contains(fx.log_path, "/corrupt/intermediate.pem is missing"));
    parse_chain(pki->chain_pem, &signer, &inter);
    assert_true(verify_chain(dir, signer, inter, NULL));
    assert_ocsp_good(pki, signer, inter, pki->root_cert);
    X509_free(signer);
    X509_free(inter);
    emu_pki_free(pki);
    path_in(path, sizeof(path), dir, "ca.pem");
    free(ca2);
    ca2 = unit_read_file(path, NULL);
    assert_string_equal(ca1, ca2);
    free(ca2);

    /* A key that belongs to another certificate: the pair is re-issued. */
    {
        char other[256];
        char *key;

        path_in(other, sizeof(other), dir, "intermediate.key");
        key = unit_read_file(other, NULL);
        assert_non_null(key);
        path_in(path, sizeof(path), dir, "signer.key");
        write_file(path, key);
        free(key);
        load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
        assert_true(file_contains(fx.log_path, "/corrupt/signer.key does not match signer.pem"));
        assert_int_equal(X509_check_private_key(pki->signer_cert, pki->signer_key), 1);
        emu_pki_free(pki);
    }

    /* Garbage in ca.pem: a new root and everything under it (the old trust anchor is gone). */
    path_in(path, sizeof(path), dir, "ca.pem");
    write_file(path, "garbage\n");
    load_pki(dir, REGION, 0, EMU_OCSP_GOOD, EMU_OCSP_TARGET_SIGNER, &pki);
    assert_true(file_contains(fx.log_path, "/corrupt/ca.pem is corrupt; the root CA will be re-issued"));
    parse_chain(pki->chain_pem, &signer, &inter);
    assert_true(verify_chain(dir, signer, inter, NULL));
    X509_free(signer);
    X509_free(inter);
    emu_pki_free(pki);
    ca2 = unit_read_file(path, NULL);
    assert_string_not_equal(ca1, ca2);
    free(ca2);
    free(ca1);
    free(inter1);
    free(signer1);
}

static void test_pki_bad_options(void **state)
{
    struct emu_pki *pki = (struct emu_pki *)&pki; /* must be reset to NULL */
    struct emu_pki_options opts = {.state_dir = "/nonexistent-dir/eic/state", .region = REGION, .domain = DOMAIN};
    char longregion[80];

    (void)state;
    assert_int_equal(emu_pki_load(&opts, &pki), ENOENT);
    assert_null(pki);
    memset(longregion, 'a', sizeof(longregion) - 1);
    longregion[sizeof(longregion) - 1] = '\0';
    opts.state_dir = fx.state;
    opts.region = longregion;
    assert_int_equal(emu_pki_load(&opts, &pki), EINVAL);
    opts.region = NULL;
    assert_int_equal(emu_pki_load(&opts, &pki), EINVAL);
}

/* Split a record into its signed part (everything through the key line) and signature. */
static void split_record(const char *record, char **signed_part, char **sig)
{
    const char *p = record;
    const char *key_end;

    while (*p == '#') {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    assert_memory_equal(p, "ssh", 3);
    key_end = strchr(p, '\n');
    assert_non_null(key_end);
    *signed_part = strndup(record, (size_t)(key_end + 1 - record));
    *sig = strdup(key_end + 1);
    assert_non_null(*signed_part);
    assert_non_null(*sig);
    /* One base64 line, then the end of the record. */
    assert_non_null(strchr(*sig, '\n'));
    assert_string_equal(strchr(*sig, '\n'), "\n");
    (*sig)[strlen(*sig) - 1] = '\0';
}

static void test_record_signature(void **state)
{
    struct emu_record_fields fields = {
        .expires = 1732400060,
        .instance_id = "i-0123456789abcdef0",
        .caller_arn = ALICE_ARN,
        .request_id = "2d1b0a6e-0c3f-4e55-9f39-1b0f3c6f2a10",
        .key_line = ED25519_KEY,
    };
    const char *expect = "#Timestamp=1732400060\n#Instance=i-0123456789abcdef0\n#Caller=" ALICE_ARN "\n"
                         "#Request=2d1b0a6e-0c3f-4e55-9f39-1b0f3c6f2a10\n" ED25519_KEY "\n";
    char *record = NULL, *tampered = NULL;
    char *signed_part, *sig, *t_signed, *t_sig;
    size_t diffs = 0, at = 0;

    (void)state;
    assert_int_equal(emu_record_make(fx.pki, &fields, 0, &record), 0);
    split_record(record, &signed_part, &sig);
    assert_string_equal(signed_part, expect);
    assert_int_equal(strlen(sig), 344); /* 256-byte RSA 2048 signature */
    assert_true(verify_pss(fx.pki->signer_cert, signed_part, strlen(signed_part), sig));
    /* Over the exact bytes: without the final newline it no longer verifies. */
    assert_false(verify_pss(fx.pki->signer_cert, signed_part, strlen(signed_part) - 1, sig));

    assert_int_equal(emu_record_make(fx.pki, &fields, 1, &tampered), 0);
    split_record(tampered, &t_signed, &t_sig);
    assert_int_equal(strlen(t_signed), strlen(signed_part));
    for (size_t i = 0; t_signed[i] != '\0'; i++) {
        if (t_signed[i] != signed_part[i]) {
            diffs++;
            at = i;
        }
    }
    assert_int_equal(diffs, 1);
    assert_true(at > (size_t)(strstr(signed_part, "#Caller=") - signed_part) &&
                at < (size_t)(strstr(signed_part, "#Request=") - signed_part));
    assert_false(verify_pss(fx.pki->signer_cert, t_signed, strlen(t_signed), t_sig));
    free(t_signed);
    free(t_sig);
    free(tampered);

    /* Without a caller the key line is the one changed. */
    fields.caller_arn = "";
    assert_int_equal(emu_record_make(fx.pki, &fields, 1, &tampered), 0);
    split_record(tampered, &t_signed, &t_sig);
    assert_non_null(strstr(t_signed, "#Caller=\n"));
    assert_null(strstr(t_signed, ED25519_KEY));
    assert_memory_equal(strstr(t_signed, "ssh-ed25519 "), ED25519_KEY, strlen(ED25519_KEY) - 1);
    assert_false(verify_pss(fx.pki->signer_cert, t_signed, strlen(t_signed), t_sig));
    free(t_signed);
    free(t_sig);
    free(tampered);

    /* A line break in any field would forge lines under the signature. */
    fields.caller_arn = ALICE_ARN "\n#Instance=i-00000000";
    assert_int_equal(emu_record_make(fx.pki, &fields, 0, &tampered), EINVAL);
    assert_null(tampered);
    fields.caller_arn = ALICE_ARN;
    fields.key_line = ED25519_KEY "\r";
    assert_int_equal(emu_record_make(fx.pki, &fields, 0, &tampered), EINVAL);
    fields.key_line = "";
    assert_int_equal(emu_record_make(fx.pki, &fields, 0, &tampered), EINVAL);

    free(signed_part);
    free(sig);
    free(record);
}

static void test_store(void **state)
{
    struct emu_record_store *store = NULL;
    struct eic_buf out;
    long long now = (long long)time(NULL);
    char record[64];

    (void)state;
    eic_buf_init(&out, 1 << 20);
    assert_int_equal(emu_record_store_new(&store), 0);
    assert_int_equal(emu_record_store_render(store, "alice", now, &out), ENOENT);
    assert_int_equal(emu_record_store_add(store, "alice", "#A=1\nssh-a\nsig1\n", now + 60), 0);
    assert_int_equal(emu_record_store_add(store, "alice", "#A=2\nssh-b\nsig2\n", now + 10), 0);
    assert_int_equal(emu_record_store_add(store, "bob", "#B=1\nssh-c\nsig3\n", now + 60), 0);
    assert_int_equal(emu_record_store_add(store, "", "x\n", now + 60), EINVAL);

    assert_int_equal(emu_record_store_render(store, "alice", now, &out), 0);
    assert_string_equal(out.data, "#A=1\nssh-a\nsig1\n\n#A=2\nssh-b\nsig2\n");
    eic_buf_reset(&out);
    assert_int_equal(emu_record_store_render(store, "bob", now, &out), 0);
    assert_string_equal(out.data, "#B=1\nssh-c\nsig3\n");
    eic_buf_reset(&out);
    assert_int_equal(emu_record_store_render(store, "carol", now, &out), ENOENT);
    assert_int_equal(out.len, 0);

    /* Expiry: a record is live while expires > now. */
    assert_int_equal(emu_record_store_render(store, "alice", now + 10, &out), 0);
    assert_string_equal(out.data, "#A=1\nssh-a\nsig1\n");
    eic_buf_reset(&out);
    assert_int_equal(emu_record_store_render(store, "alice", now + 60, &out), ENOENT);
    /* Pruned for good: rendering at an earlier time does not bring them back. */
    assert_int_equal(emu_record_store_render(store, "alice", now, &out), ENOENT);

    /* The cap: 64 live records, then ENOSPC; expired ones do not count. */
    assert_int_equal(emu_record_store_add(store, "alice", "old\n", now - 1), 0);
    for (int i = 0; i < 64; i++) {
        snprintf(record, sizeof(record), "#N=%d\nssh-x\nsig\n", i);
        assert_int_equal(emu_record_store_add(store, "alice", record, now + 60), 0);
    }
    assert_int_equal(emu_record_store_add(store, "alice", "one too many\n", now + 60), ENOSPC);
    assert_int_equal(emu_record_store_add(store, "bob", "#B=2\nssh-d\nsig4\n", now + 60), 0);
    assert_int_equal(emu_record_store_render(store, "alice", now, &out), 0);
    assert_null(strstr(out.data, "old"));
    assert_non_null(strstr(out.data, "#N=0\n"));
    assert_non_null(strstr(out.data, "sig\n\n#N=63\nssh-x\nsig\n"));
    assert_null(strstr(out.data, "too many"));
    eic_buf_free(&out);

    /* A bounded output buffer: EMSGSIZE and nothing half-written. */
    eic_buf_init(&out, 40);
    assert_int_equal(eic_buf_append_str(&out, "keep"), 0);
    assert_int_equal(emu_record_store_render(store, "alice", now, &out), EMSGSIZE);
    assert_string_equal(out.data, "keep");
    eic_buf_free(&out);
    emu_record_store_free(store);
}

static void test_uuid4(void **state)
{
    char a[37], b[37];

    (void)state;
    assert_int_equal(emu_uuid4(a), 0);
    assert_int_equal(emu_uuid4(b), 0);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(a[i], '-');
        } else {
            assert_non_null(strchr("0123456789abcdef", a[i]));
        }
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pki_chain_and_files),
        cmocka_unit_test(test_pki_ocsp_faults),
        cmocka_unit_test(test_pki_wrong_signer_cn),
        cmocka_unit_test(test_pki_reload_stable),
        cmocka_unit_test(test_pki_corrupt_files),
        cmocka_unit_test(test_pki_bad_options),
        cmocka_unit_test(test_record_signature),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_uuid4),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
