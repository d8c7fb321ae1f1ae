/* The emulated Instance Connect signer PKI (see emu_pki.h for the state directory layout).
 *
 * Loading is "repair what is needed": each certificate/key pair is read back and checked
 * (parses, key matches, signed by its issuer, not about to expire, and for signers the exact
 * CN); a pair that fails is re-issued, which invalidates everything below it, and nothing
 * above it. The root therefore stays byte-identical across restarts unless its own files are
 * damaged, so trust anchors copied out of ca.pem keep working.
 *
 * OCSP responses are never stored: they are rebuilt at every load so that their validity
 * window always covers the emulator's run. */
#include "emu_pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_log.h"
#include "eic_util.h"

/* RSA 2048 for every key, the root included: the brief allows 2048 or 3072, and tests start
 * dozens of emulators with fresh state directories, where 3072-bit generation would cost
 * about a second each. The emulator's PKI protects nothing of value. */
#define EMU_RSA_BITS 2048
#define EMU_CERT_DAYS (5 * 365 + 1)
/* A certificate closer than this to its notAfter is re-issued at load. */
#define EMU_RENEW_MARGIN_SECS (7 * 86400L)
#define EMU_OCSP_BACKDATE_SECS 3600L
#define EMU_OCSP_VALID_SECS (7 * 86400L)
#define EMU_PSS_SALT_LEN 32
/* PEM files we wrote are a few KiB; anything much larger is not ours. */
#define EMU_MAX_PEM_FILE (64 * 1024)

enum cert_kind {
    KIND_ROOT,
    KIND_INTERMEDIATE,
    KIND_SIGNER,
    KIND_TLS_SERVER,   /* the HTTPS listeners' certificate (emu_pki_tls_load) */
};

struct pair {
    const char *stem;  /* file name without .pem/.key */
    const char *what;  /* for log lines */
    X509 *cert;
    EVP_PKEY *key;
};

static void log_openssl_errors(const char *context)
{
    unsigned long err;
    char text[256];

    while ((err = ERR_get_error()) != 0) {
        ERR_error_string_n(err, text, sizeof(text));
        eic_log(LOG_ERR, "%s: %s", context, text);
    }
}

static int join_path(char *out, size_t out_len, const char *dir, const char *name)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= out_len) {
        return ENAMETOOLONG;
    }
    return 0;
}

/* Read a whole (small) file. ENOENT when it does not exist, EFBIG beyond EMU_MAX_PEM_FILE. */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret = 0;

    if (fd < 0) {
        return errno;
    }
    if (fsync(fd) != 0) {
        ret = errno;
    }
    close(fd);
    return ret;
}

/* Write temp file, fsync, rename over name, fsync the directory: a reader (or the next
 * start after a crash) sees either the old file or the complete new one. */
static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                             mode_t mode)
{
    char tmp[PATH_MAX];
    char path[PATH_MAX];
    int fd = -1;
    int ret;
    int n;

    ret = join_path(path, sizeof(path), dir, name);
    if (ret != 0) {
        return ret;
    }
    n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return ENAMETOOLONG;
    }
    fd = mkostemp(tmp, O_CLOEXEC); /* created 0600, so a key is never readable by others */
    if (fd < 0) {
        ret = errno;
        tmp[0] = '\0';
        goto done;
    }
    if (fchmod(fd, mode) != 0) {
        ret = errno;
        goto done;
    }
    ret = eic_write_all(fd, data, len);
    if (ret != 0) {
        goto done;
    }
    if (fsync(fd) != 0) {
        ret = errno;
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        ret = errno;
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        ret = errno;
        goto done;
    }
    tmp[0] = '\0';
    ret = fsync_dir(dir);
done:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp[0] != '\0') {
        unlink(tmp);
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "emulator PKI: cannot write %s/%s: %s", dir, name, strerror(ret));
    }
    return ret;
}

/* The PEM text of cert (then of cert2, when not NULL), or of key when cert is NULL, as a
 * malloc'd string; a key's text is wiped from the memory BIO before it is freed. */
static int to_pem(X509 *cert, X509 *cert2, EVP_PKEY *key, char **out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    int ret = EIO;

    *out = NULL;
    if (bio == NULL) {
        return ENOMEM;
    }
    if ((cert != NULL && PEM_write_bio_X509(bio, cert) != 1) ||
        (cert2 != NULL && PEM_write_bio_X509(bio, cert2) != 1) ||
        (cert == NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)) {
        goto done;
    }
    len = BIO_get_mem_data(bio, &data);
    if (len <= 0) {
        goto done;
    }
    *out = strndup(data, (size_t)len);
    ret = *out != NULL ? 0 : ENOMEM;
done:
    if (cert == NULL && data != NULL && len > 0) {
        OPENSSL_cleanse(data, (size_t)len);
    }
    BIO_free_all(bio);
    return ret;
}

/* Serialise cert (or key, when cert is NULL) to PEM, then write atomically. */
static int write_pem_atomic(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
    char *text = NULL;
    int ret = to_pem(cert, NULL, key, &text);

    if (ret != 0) {
        log_openssl_errors("emulator PKI: PEM encoding");
        return ret;
    }
    ret = write_file_atomic(dir, name, text, strlen(text), cert != NULL ? 0644 : 0600);
    if (cert == NULL) {
        OPENSSL_cleanse(text, strlen(text));
    }
    free(text);
    return ret;
}

/* Read "<stem>.pem" and "<stem>.key". Only missing/corrupt/mismatched are reported
 * (ENOENT / EBADMSG); the caller decides whether to re-issue. */
static int read_pair(const char *dir, struct pair *pair)
{
    char name[64];
    char path[PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    int ret;

    for (int which = 0; which < 2; which++) {
        snprintf(name, sizeof(name), "%s.%s", pair->stem, which == 0 ? "pem" : "key");
        ret = join_path(path, sizeof(path), dir, name);
        if (ret != 0) {
            goto done;
        }
        ret = eic_read_file(path, O_NOFOLLOW, EMU_MAX_PEM_FILE, &data, &len);
        if (ret == ENOENT) {
            eic_log(LOG_NOTICE, "emulator PKI: %s is missing; the %s will be issued", path, pair->what);
            goto done;
        }
        if (ret != 0) {
            eic_log(LOG_WARNING, "emulator PKI: cannot read %s (%s); the %s will be re-issued", path,
                    strerror(ret), pair->what);
            ret = EBADMSG;
            goto done;
        }
        bio = BIO_new_mem_buf(data, (int)len);
        if (bio == NULL) {
            ret = ENOMEM;
            goto done;
        }
        if (which == 0) {
            pair->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        } else {
            pair->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        }
        BIO_free(bio);
        bio = NULL;
        OPENSSL_cleanse(data, len);
        free(data);
        data = NULL;
        if ((which == 0 && pair->cert == NULL) || (which == 1 && pair->key == NULL)) {
            ERR_clear_error();
            eic_log(LOG_WARNING, "emulator PKI: %s is corrupt; the %s will be re-issued", path, pair->what);
            ret = EBADMSG;
            goto done;
        }
    }
    if (X509_check_private_key(pair->cert, pair->key) != 1) {
        ERR_clear_error();
        eic_log(LOG_WARNING, "emulator PKI: %s/%s.key does not match %s.pem; the %s will be re-issued", dir,
                pair->stem, pair->stem, pair->what);
        ret = EBADMSG;
        goto done;
    }
    ret = 0;
done:
    BIO_free(bio);
    if (data != NULL) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
    if (ret != 0) {
        X509_free(pair->cert);
        EVP_PKEY_free(pair->key);
        pair->cert = NULL;
        pair->key = NULL;
    }
    return ret;
}

/* The subject's commonName when there is exactly one, as UTF-8 (malloc'd via OpenSSL). */
static int subject_cn(X509 *cert, unsigned char **cn)
{
    X509_NAME *subject = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    int len;

    *cn = NULL;
    if (idx < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, idx) >= 0) {
        return EBADMSG;
    }
    len = ASN1_STRING_to_UTF8(cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
    if (len < 0) {
        return EBADMSG;
    }
    if (strlen((char *)*cn) != (size_t)len) { /* embedded NUL */
        OPENSSL_free(*cn);
        *cn = NULL;
        return EBADMSG;
    }
    return 0;
}

/* Is the loaded pair still good to use under issuer (NULL for the self-signed root)? */
static int check_pair(const struct pair *pair, const struct pair *issuer, const char *want_cn)
{
    const struct pair *by = issuer != NULL ? issuer : pair;
    time_t renew_by = time(NULL) + EMU_RENEW_MARGIN_SECS;
    unsigned char *cn = NULL;
    const char *why = NULL;

    if (X509_check_issued(by->cert, pair->cert) != X509_V_OK ||
        X509_verify(pair->cert, by->key) != 1) {
        why = "not signed by its issuer";
    } else if (X509_cmp_time(X509_get0_notAfter(pair->cert), &renew_by) <= 0) {
        why = "expired or about to expire";
    } else if (want_cn != NULL && (subject_cn(pair->cert, &cn) != 0 || strcmp((char *)cn, want_cn) != 0)) {
        why = "not for the configured region/domain";
    }
    ERR_clear_error();
    OPENSSL_free(cn);
    if (why != NULL) {
        eic_log(LOG_WARNING, "emulator PKI: the %s certificate (%s.pem) is %s; re-issuing it", pair->what,
                pair->stem, why);
        return EBADMSG;
    }
    return 0;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (ext == NULL) {
        return EIO;
    }
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : EIO;
}

static int random_serial(X509 *cert)
{
    BIGNUM *bn = BN_new();
    int ret = EIO;

    if (bn == NULL) {
        return ENOMEM;
    }
    /* 128 random bits; a zero serial is not allowed (RFC 5280 4.1.2.2), so draw again. */
    do {
        if (BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
            goto done;
        }
    } while (BN_is_zero(bn));
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
        goto done;
    }
    ret = 0;
done:
    BN_free(bn);
    return ret;
}

/* Issue a certificate for key under issuer (NULL: self-signed); san: the subjectAltName of a
 * KIND_TLS_SERVER certificate ("DNS:a,IP:b"). */
static int issue_cert(enum cert_kind kind, const char *cn, const char *san, EVP_PKEY *key,
                      const struct pair *issuer, X509 **out)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;
    int ret = EIO;

    *out = NULL;
    if (cert == NULL || name == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (!X509_set_version(cert, X509_VERSION_3) || random_serial(cert) != 0 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), -86400L) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(cert), EMU_CERT_DAYS, 0, NULL) == NULL) {
        goto done;
    }
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"eic emulator", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_subject_name(cert, name) ||
        !X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer->cert) : name) ||
        !X509_set_pubkey(cert, key)) {
        goto done;
    }
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer->cert : cert, cert, NULL, NULL, 0);
    switch (kind) {
    case KIND_ROOT:
        ret = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        }
        break;
    case KIND_INTERMEDIATE:
        ret = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        }
        break;
    case KIND_SIGNER:
        ret = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature");
        }
        break;
    case KIND_TLS_SERVER:
        ret = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature");
        }
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth");
        }
        if (ret == 0) {
            ret = add_ext(cert, &ctx, NID_subject_alt_name, san);
        }
        break;
    }
    /* The SKI must exist before the AKI is derived from it (self-signed root: its own). */
    if (ret == 0) {
        ret = add_ext(cert, &ctx, NID_subject_key_identifier, "hash");
    }
    if (ret == 0) {
        ret = add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always");
    }
    if (ret != 0) {
        goto done;
    }
    if (X509_sign(cert, issuer != NULL ? issuer->key : key, EVP_sha256()) <= 0) {
        ret = EIO;
        goto done;
    }
    *out = cert;
    cert = NULL;
    ret = 0;
done:
    if (ret != 0) {
        log_openssl_errors("emulator PKI: issuing a certificate");
    }
    X509_NAME_free(name);
    X509_free(cert);
    return ret;
}

/* Generate a fresh key and certificate for pair, and store both. */
static int reissue_pair(const char *dir, enum cert_kind kind, const char *cn, struct pair *pair,
                        const struct pair *issuer)
{
    char name[64];
    int ret;

    X509_free(pair->cert);
    EVP_PKEY_free(pair->key);
    pair->cert = NULL;
    pair->key = EVP_RSA_gen(EMU_RSA_BITS);
    if (pair->key == NULL) {
        log_openssl_errors("emulator PKI: RSA key generation");
        return EIO;
    }
    ret = issue_cert(kind, cn, NULL, pair->key, issuer, &pair->cert);
    if (ret != 0) {
        return ret;
    }
    /* Key first: a crash between the two leaves a mismatched pair, which the next load
     * detects (X509_check_private_key) and re-issues. */
    snprintf(name, sizeof(name), "%s.key", pair->stem);
    ret = write_pem_atomic(dir, name, NULL, pair->key);
    if (ret != 0) {
        return ret;
    }
    snprintf(name, sizeof(name), "%s.pem", pair->stem);
    ret = write_pem_atomic(dir, name, pair->cert, NULL);
    if (ret != 0) {
        return ret;
    }
    eic_log(LOG_NOTICE, "emulator PKI: issued a new %s certificate (%s/%s.pem)", pair->what, dir, pair->stem);
    return 0;
}

/* Load pair, or re-issue it when it is unusable or when its issuer was just re-issued. */
static int load_or_issue(const char *dir, enum cert_kind kind, const char *cn, struct pair *pair,
                         const struct pair *issuer, int issuer_renewed, int *renewed)
{
    int ret = EBADMSG;

    *renewed = 0;
    if (!issuer_renewed) {
        ret = read_pair(dir, pair);
        if (ret == 0) {
            ret = check_pair(pair, issuer, kind == KIND_SIGNER ? cn : NULL);
        }
        if (ret == ENOMEM) {
            return ret;
        }
    }
    if (ret == 0) {
        return 0;
    }
    *renewed = 1;
    return reissue_pair(dir, kind, cn, pair, issuer);
}

static int cert_sha1_name(X509 *cert, char name[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (X509_digest(cert, EVP_sha1(), md, &md_len) != 1 || md_len != 20) {
        return EIO;
    }
    eic_hex_encode(md, md_len, name, true);
    return 0;
}

/* A certificate carrying only a subject name and a public key: enough for OCSP_basic_sign
 * to accept an unrelated key while naming the real issuer as the responder. */
static int impostor_responder(X509 *issuer_cert, EVP_PKEY **key, X509 **cert)
{
    *cert = X509_new();
    *key = EVP_RSA_gen(EMU_RSA_BITS);
    if (*cert == NULL || *key == NULL || !X509_set_subject_name(*cert, X509_get_subject_name(issuer_cert)) ||
        !X509_set_pubkey(*cert, *key)) {
        return EIO;
    }
    return 0;
}

/* Build the base64 DER OCSP response for cert, signed by issuer (or, with the bad-signature
 * fault, by an unrelated key under the issuer's responder name). */
static int make_ocsp(X509 *cert, const struct pair *issuer, enum emu_ocsp_fault fault,
                     struct emu_ocsp_entry *entry)
{
    OCSP_BASICRESP *basic = OCSP_BASICRESP_new();
    OCSP_RESPONSE *resp = NULL;
    OCSP_CERTID *id = NULL;
    ASN1_TIME *this_update = NULL;
    ASN1_TIME *next_update = NULL;
    ASN1_TIME *revoked_at = NULL;
    EVP_PKEY *impostor_key = NULL;
    X509 *impostor_cert = NULL;
    unsigned char *der = NULL;
    int der_len;
    int ret = EIO;

    memset(entry, 0, sizeof(*entry));
    if (basic == NULL) {
        return ENOMEM;
    }
    ret = cert_sha1_name(cert, entry->name);
    if (ret != 0) {
        goto done;
    }
    ret = EIO;
    /* The CertID uses SHA-1, the default of `openssl ocsp` and of OCSP_cert_to_id(NULL, ...):
     * a verifier looks the status up by a CertID it builds itself, and the hash algorithm is
     * part of the comparison. The response signature itself is SHA-256. */
    id = OCSP_cert_to_id(EVP_sha1(), cert, issuer->cert);
    this_update = X509_gmtime_adj(NULL, -EMU_OCSP_BACKDATE_SECS);
    next_update = X509_gmtime_adj(NULL, EMU_OCSP_VALID_SECS);
    if (id == NULL || this_update == NULL || next_update == NULL) {
        goto done;
    }
    if (fault == EMU_OCSP_REVOKED) {
        revoked_at = X509_gmtime_adj(NULL, -EMU_OCSP_BACKDATE_SECS);
        if (revoked_at == NULL ||
            OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                                   revoked_at, this_update, next_update) == NULL) {
            goto done;
        }
    } else if (OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, this_update,
                                      next_update) == NULL) {
        goto done;
    }
    if (fault == EMU_OCSP_BAD_SIGNATURE) {
        if (impostor_responder(issuer->cert, &impostor_key, &impostor_cert) != 0 ||
            OCSP_basic_sign(basic, impostor_cert, impostor_key, EVP_sha256(), NULL, OCSP_NOCERTS) != 1 ||
            OCSP_basic_add1_cert(basic, issuer->cert) != 1) {
            goto done;
        }
    } else if (OCSP_basic_sign(basic, issuer->cert, issuer->key, EVP_sha256(), NULL, 0) != 1) {
        /* flags 0: the responder (issuer) certificate is included in the response. */
        goto done;
    }
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    if (resp == NULL) {
        goto done;
    }
    der_len = i2d_OCSP_RESPONSE(resp, &der);
    if (der_len <= 0) {
        goto done;
    }
    ret = eic_base64_encode(der, (size_t)der_len, &entry->der_b64);
done:
    if (ret != 0) {
        log_openssl_errors("emulator PKI: building an OCSP response");
    }
    OPENSSL_free(der);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(basic);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next_update);
    ASN1_TIME_free(revoked_at);
    EVP_PKEY_free(impostor_key);
    X509_free(impostor_cert);
    return ret;
}

/* Self-check of what is served: the signer chain verifies strictly to the root. A failure
 * here is a bug in this file, reported rather than served. */
static int self_check(X509 *root, X509 *intermediate, X509 *signer)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ret = EIO;

    if (store == NULL || ctx == NULL || untrusted == NULL || X509_STORE_add_cert(store, root) != 1 ||
        sk_X509_push(untrusted, intermediate) <= 0 || X509_STORE_CTX_init(ctx, store, signer, untrusted) != 1) {
        goto done;
    }
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    if (X509_verify_cert(ctx) != 1) {
        eic_log(LOG_ERR, "emulator PKI: the signer chain does not verify: %s",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto done;
    }
    ret = 0;
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted); /* the certificates themselves are not owned by the stack */
    return ret;
}

/* Use (or create) the state directory, and take its lock so that two emulators sharing it
 * never interleave their repairs. */
static int open_state_dir(const char *dir, int *lock_fd)
{
    char path[PATH_MAX];
    struct stat st;
    int ret;

    *lock_fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ret = errno;
        eic_log(LOG_ERR, "emulator PKI: cannot create the state directory %s: %s", dir, strerror(ret));
        return ret;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        eic_log(LOG_ERR, "emulator PKI: %s is not a directory", dir);
        return ENOTDIR;
    }
    if ((st.st_mode & 0022) != 0) {
        /* Reused as it is (it may be a test's work directory), but worth a word: anyone who
         * can write here can replace the trust anchor. */
        eic_log(LOG_WARNING, "emulator PKI: the state directory %s is writable by others", dir);
    }
    ret = join_path(path, sizeof(path), dir, ".lock");
    if (ret != 0) {
        return ret;
    }
    *lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*lock_fd < 0) {
        ret = errno;
        eic_log(LOG_ERR, "emulator PKI: cannot open %s: %s", path, strerror(ret));
        return ret;
    }
    while (flock(*lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            ret = errno;
            eic_log(LOG_ERR, "emulator PKI: cannot lock %s: %s", path, strerror(ret));
            return ret;
        }
    }
    return 0;
}

static int make_cn(char *out, size_t out_len, const char *region, const char *domain)
{
    int n = snprintf(out, out_len, "managed-ssh-signer.%s.%s", region, domain);

    /* X.520 caps commonName at 64 characters; OpenSSL would refuse it later anyway. */
    if (n < 0 || (size_t)n >= out_len || n > 64) {
        return EINVAL;
    }
    return 0;
}

int emu_pki_load(const struct emu_pki_options *opts, struct emu_pki **out)
{
    struct pair root = {.stem = "ca", .what = "root CA"};
    struct pair inter = {.stem = "intermediate", .what = "intermediate CA"};
    struct pair signer = {.stem = "signer", .what = "signer"};
    struct pair wrong = {.stem = "signer-wrongcn", .what = "wrong-CN signer"};
    struct pair *served;
    struct emu_pki *pki = NULL;
    char cn[128];
    char wrong_cn[128];
    int root_new = 0;
    int inter_new = 0;
    int unused;
    int lock_fd = -1;
    int ret;

    *out = NULL;
    if (opts == NULL || opts->state_dir == NULL || opts->region == NULL || opts->domain == NULL) {
        return EINVAL;
    }
    if (make_cn(cn, sizeof(cn), opts->region, opts->domain) != 0 ||
        make_cn(wrong_cn, sizeof(wrong_cn), opts->region, "example.com") != 0) {
        eic_log(LOG_ERR, "emulator PKI: region/domain too long for a certificate name");
        return EINVAL;
    }
    ret = open_state_dir(opts->state_dir, &lock_fd);
    if (ret != 0) {
        goto done;
    }
    ret = load_or_issue(opts->state_dir, KIND_ROOT, "eic emulator root CA", &root, NULL, 0, &root_new);
    if (ret == 0) {
        ret = load_or_issue(opts->state_dir, KIND_INTERMEDIATE, "eic emulator intermediate CA", &inter, &root,
                            root_new, &inter_new);
    }
    if (ret == 0) {
        ret = load_or_issue(opts->state_dir, KIND_SIGNER, cn, &signer, &inter, inter_new, &unused);
    }
    /* The wrong-CN signer costs a key generation: only made when the fault asks for it. */
    if (ret == 0 && opts->wrong_signer_cn) {
        ret = load_or_issue(opts->state_dir, KIND_SIGNER, wrong_cn, &wrong, &inter, inter_new, &unused);
    }
    if (ret != 0) {
        goto done;
    }
    served = opts->wrong_signer_cn ? &wrong : &signer;
    ret = self_check(root.cert, inter.cert, served->cert);
    if (ret != 0) {
        goto done;
    }

    pki = calloc(1, sizeof(*pki));
    if (pki == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = to_pem(served->cert, inter.cert, NULL, &pki->chain_pem);
    if (ret != 0) {
        goto done;
    }
    /* Entry 0 is the signer's, entry 1 the intermediate's; the missing fault drops one. */
    for (int i = 0; i < 2; i++) {
        enum emu_ocsp_target target = i == 0 ? EMU_OCSP_TARGET_SIGNER : EMU_OCSP_TARGET_INTERMEDIATE;
        enum emu_ocsp_fault fault = target == opts->ocsp_fault_target ? opts->ocsp_fault : EMU_OCSP_GOOD;

        if (fault == EMU_OCSP_MISSING) {
            continue;
        }
        ret = make_ocsp(i == 0 ? served->cert : inter.cert, i == 0 ? &inter : &root, fault,
                        &pki->ocsp[pki->n_ocsp]);
        if (ret != 0) {
            goto done;
        }
        pki->n_ocsp++;
    }
    pki->signer_key = served->key;
    pki->signer_cert = served->cert;
    pki->intermediate_cert = inter.cert;
    pki->root_cert = root.cert;
    served->key = NULL;
    served->cert = NULL;
    inter.cert = NULL;
    root.cert = NULL;
    *out = pki;
    pki = NULL;
    eic_log(LOG_INFO, "emulator PKI: serving signer %s from %s (OCSP entries: %zu)",
            opts->wrong_signer_cn ? wrong_cn : cn, opts->state_dir, (*out)->n_ocsp);
    ret = 0;
done:
    emu_pki_free(pki);
    X509_free(root.cert);
    X509_free(inter.cert);
    X509_free(signer.cert);
    X509_free(wrong.cert);
    EVP_PKEY_free(root.key);
    EVP_PKEY_free(inter.key);
    EVP_PKEY_free(signer.key);
    EVP_PKEY_free(wrong.key);
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
    }
    return ret;
}

void emu_pki_free(struct emu_pki *pki)
{
    if (pki == NULL) {
        return;
    }
    EVP_PKEY_free(pki->signer_key);
    X509_free(pki->signer_cert);
    X509_free(pki->intermediate_cert);
    X509_free(pki->root_cert);
    free(pki->chain_pem);
    for (size_t i = 0; i < pki->n_ocsp; i++) {
        free(pki->ocsp[i].der_b64);
    }
    free(pki);
}

int emu_pki_sign(const struct emu_pki *pki, const void *data, size_t len, char **sig_b64)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int ret = EIO;

    *sig_b64 = NULL;
    if (md == NULL) {
        return ENOMEM;
    }
    /* The PSS parameters are spelled out rather than left to defaults: they are part of the
     * wire contract (docs/PROTOCOL.md). */
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pki->signer_key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EMU_PSS_SALT_LEN) <= 0 ||
        EVP_DigestSign(md, NULL, &sig_len, data, len) != 1) {
        goto done;
    }
    sig = malloc(sig_len);
    if (sig == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (EVP_DigestSign(md, sig, &sig_len, data, len) != 1) {
        goto done;
    }
    ret = eic_base64_encode(sig, sig_len, sig_b64);
done:
    if (ret == EIO) {
        log_openssl_errors("emulator PKI: signing");
    }
    free(sig);
    EVP_MD_CTX_free(md);
    return ret;
}

/* ---- the HTTPS listeners' certificate ---- */

/* A subjectAltName value ("DNS:a,IP:b") for names: IPv4 or IPv6 literals, or DNS names (letters,
 * digits, '-' and non-empty labels, a leading "*." allowed). Anything else is refused rather than
 * passed to OpenSSL's extension parser, for which ',' and ':' have a meaning. */
static int tls_san(const char *const *names, size_t n, struct eic_buf *san)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (n == 0 || n > EMU_TLS_MAX_NAMES) {
        eic_log(LOG_ERR, "emulator PKI: 1..%d TLS names are needed, not %zu", EMU_TLS_MAX_NAMES, n);
        return EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        const char *label = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
        size_t len = strlen(label);
        bool ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
        int ret;

        if (!ip && (len == 0 || len > 253 || strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "0123456789-.") != len ||
                    label[0] == '.' || label[len - 1] == '.' || strstr(label, "..") != NULL)) {
            eic_log(LOG_ERR, "emulator PKI: '%.300s' is neither a DNS name nor an IP address", name);
            return EINVAL;
        }
        ret = eic_buf_printf(san, "%s%s:%s", i > 0 ? "," : "", ip ? "IP" : "DNS", name);
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

int emu_pki_tls_load(const char *state_dir, const char *const *names, size_t n_names, struct emu_tls_creds **out)
{
    struct pair ca = {.stem = "tls-ca", .what = "TLS CA"};
    struct emu_tls_creds *tls = NULL;
    struct eic_buf san;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int ca_new = 0;
    int lock_fd = -1;
    int ret;

    *out = NULL;
    eic_buf_init(&san, 64 * 1024);
    ret = tls_san(names, n_names, &san);
    if (ret != 0) {
        goto done;
    }
    ret = open_state_dir(state_dir, &lock_fd);
    if (ret != 0) {
        goto done;
    }
    ret = load_or_issue(state_dir, KIND_ROOT, "eic emulator TLS CA", &ca, NULL, 0, &ca_new);
    if (ret != 0) {
        goto done;
    }
    /* The server certificate is issued at every start, for exactly the names asked for: a P-256
     * key costs nothing to make, and an old certificate for other names is never served. */
    key = EVP_EC_gen("P-256");
    if (key == NULL) {
        log_openssl_errors("emulator PKI: EC key generation");
        ret = EIO;
        goto done;
    }
    ret = issue_cert(KIND_TLS_SERVER, "eic emulator TLS server", san.data, key, &ca, &cert);
    if (ret == 0) {
        ret = write_pem_atomic(state_dir, "tls-server.key", NULL, key);
    }
    if (ret == 0) {
        ret = write_pem_atomic(state_dir, "tls-server.pem", cert, NULL);
    }
    if (ret != 0) {
        goto done;
    }
    tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = to_pem(cert, NULL, NULL, &tls->cert_pem);
    if (ret == 0) {
        ret = to_pem(NULL, NULL, key, &tls->key_pem);
    }
    if (ret != 0) {
        goto done;
    }
    eic_log(LOG_INFO, "emulator PKI: TLS server certificate for %s, issued by %s/tls-ca.pem", san.data, state_dir);
    *out = tls;
    tls = NULL;
done:
    emu_pki_tls_free(tls);
    eic_buf_free(&san);
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca.cert);
    EVP_PKEY_free(ca.key);
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    return ret;
}

void emu_pki_tls_free(struct emu_tls_creds *tls)
{
    if (tls == NULL) {
        return;
    }
    if (tls->key_pem != NULL) {
        OPENSSL_cleanse(tls->key_pem, strlen(tls->key_pem));
    }
    free(tls->key_pem);
    free(tls->cert_pem);
    free(tls);
}
