/* Signer trust (lib/imds/eic_signer.c): the served certificate chain and OCSP responses, judged
 * at the fixtures' NOW against the fixture root (tests/data/verify/pki/ca.pem).
 *
 * Input: the chain (PEM text), then any number of OCSP responses, each introduced by
 * "\n--ocsp--\n" and made of its listing name (40 characters), a newline and the DER bytes.
 * fuzz/make-corpus.sh writes the fixture chains and OCSP sets in this shape. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eic_signer.h"
#include "fuzz_common.h"

#define EXPECTED_CN "managed-ssh-signer.us-east-1.amazonaws.com"
#define OCSP_SEPARATOR "\n--ocsp--\n"
#define MAX_PARTS (EIC_SIGNER_MAX_CERTS + 2)

static X509_STORE *anchors;
static long long fixture_now;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(eic_signer_load_anchors(FUZZ_DATA_DIR "/verify/pki/ca.pem", NULL, &anchors) == 0);
    fixture_now = fuzz_fixture_now();
    fuzz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_part parts[MAX_PARTS];
    struct eic_ocsp_blob blobs[MAX_PARTS];
    char names[MAX_PARTS][41];
    size_t n_parts = fuzz_split((const char *)data, size, OCSP_SEPARATOR, parts, MAX_PARTS);
    size_t n_blobs = 0;
    EVP_PKEY *key = NULL;
    char reason[256];
    int ret;

    for (size_t i = 1; i < n_parts; i++) {
        if (parts[i].len < 41) {
            continue;
        }
        memcpy(names[n_blobs], parts[i].data, 40);
        names[n_blobs][40] = '\0';
        blobs[n_blobs].name = names[n_blobs];
        blobs[n_blobs].der = (const unsigned char *)parts[i].data + 41;
        blobs[n_blobs].der_len = parts[i].len - 41;
        n_blobs++;
    }
    reason[0] = '\0';
    ret = eic_signer_verify(parts[0].data, parts[0].len, anchors, EXPECTED_CN, blobs, n_blobs, fixture_now, &key,
                            reason, sizeof(reason));
    /* The documented outcomes only; a key exactly on success; a reason on every failure. */
    FUZZ_CHECK(ret == 0 || ret == EACCES || ret == EBADMSG || ret == ENOMEM);
    FUZZ_CHECK((ret == 0) == (key != NULL));
    FUZZ_CHECK(ret == 0 || reason[0] != '\0');
    FUZZ_CHECK(key == NULL || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA);
    EVP_PKEY_free(key);
    return 0;
}
