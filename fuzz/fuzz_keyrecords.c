/* Key records (lib/imds/eic_keyrecords.c): the parser and the verifier end to end. The signer key
 * is the fixture signer's (tests/data/verify/pki/signer.pem), so the signed fixture records in
 * the corpus pass the signature check and the fuzzer reaches the checks behind it (instance,
 * expiry, fingerprint). Each input is judged twice: at the fixtures' NOW with no fingerprint
 * filter, and 61 s later filtered on the fixture ed25519 key. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "eic_keyrecords.h"
#include "eic_metadata.h"
#include "fuzz_common.h"

#define INSTANCE "i-0123456789abcdef0"

static EVP_PKEY *signer_key;
static long long fixture_now;
static char *fixture_fingerprint;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t len;
    char *pem = fuzz_fixture("verify/pki/signer.pem", &len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    (void)argc;
    (void)argv;
    FUZZ_CHECK(cert != NULL);
    signer_key = X509_get_pubkey(cert);
    FUZZ_CHECK(signer_key != NULL);
    X509_free(cert);
    BIO_free(bio);
    free(pem);
    fixture_now = fuzz_fixture_now();
    fixture_fingerprint = fuzz_fixture_line("verify/ed25519.fp");
    fuzz_quiet_logs();
    return 0;
}

/* What a caller relies on, whatever the body (eic_keyrecords.h). */
static void check_verdicts(const struct eic_keyrecords_context *ctx, const struct eic_record_verdict *v, size_t n)
{
    FUZZ_CHECK(n <= EIC_KEYRECORDS_MAX + 1);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(v[i].detail != NULL);
        FUZZ_CHECK(strcmp(eic_record_status_name(v[i].status), "unknown") != 0);
        FUZZ_CHECK(memchr(v[i].fingerprint, '\0', sizeof(v[i].fingerprint)) != NULL);
        if (v[i].status != EIC_RECORD_ACCEPTED) {
            continue;
        }
        /* Accepted: a parsed key on one line, unexpired, for this instance, the one asked for. */
        FUZZ_CHECK(v[i].key != NULL && strpbrk(v[i].key, "\r\n") == NULL);
        FUZZ_CHECK(strncmp(v[i].fingerprint, "SHA256:", 7) == 0);
        FUZZ_CHECK(v[i].expires > ctx->now);
        FUZZ_CHECK(ctx->fingerprint == NULL || strcmp(v[i].fingerprint, ctx->fingerprint) == 0);
        FUZZ_CHECK(v[i].caller == NULL || strpbrk(v[i].caller, "\r\n") == NULL);
        FUZZ_CHECK(v[i].request_id == NULL || strpbrk(v[i].request_id, "\r\n") == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct eic_keyrecords_context contexts[] = {
        {INSTANCE, fixture_now, signer_key, NULL},
        {INSTANCE, fixture_now + 61, signer_key, fixture_fingerprint},
    };

    for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
        struct eic_record_verdict *verdicts = NULL;
        size_t n = 0;
        int ret = eic_keyrecords_verify((const char *)data, size, &contexts[c], &verdicts, &n);

        FUZZ_CHECK(ret == 0 || ret == ENOMEM);
        if (ret == 0) {
            check_verdicts(&contexts[c], verdicts, n);
        }
        eic_keyrecords_free(verdicts, n);
    }
    return 0;
}
