/* SigV4 (lib/aws/eic_sigv4.c), both sides: the Authorization and X-Amz-Date parsers the emulator
 * verifies with, and the canonicalisation and signing the client uses, on arbitrary requests.
 *
 * Input, '\n'-separated: Authorization value, X-Amz-Date value, method, path, query, then
 * "name:value" header lines up to an empty line, then the body.
 * Properties: a parsed date formats back to itself; whatever the signer produces for a request
 * parses back with the verifier's parser and carries the signature eic_sigv4_signature gives. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eic_sigv4.h"
#include "fuzz_common.h"

#define MAX_HEADERS 16

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return s[n] == '\0';
}

static void check_authorization(const char *value)
{
    struct eic_sigv4_auth auth = {0};

    if (eic_sigv4_parse_authorization(value, &auth) == 0) {
        FUZZ_CHECK(auth.access_key_id && auth.date && auth.region && auth.service && auth.signed_headers);
        FUZZ_CHECK(auth.signature != NULL && lower_hex(auth.signature, 64));
    }
    eic_sigv4_auth_free(&auth);
}

static void check_date(const char *value)
{
    char again[EIC_SIGV4_AMZ_DATE_LEN + 1];
    long long t;

    if (eic_sigv4_parse_amz_date(value, &t) == 0) {
        eic_sigv4_format_amz_date(t, again);
        FUZZ_CHECK(strcmp(again, value) == 0);
    }
}

/* The signer's documented refusals: a request it cannot canonicalise, or one too large. */
static bool documented(int ret)
{
    return ret == 0 || ret == EINVAL || ret == EBADMSG || ret == EMSGSIZE || ret == ENOMEM;
}

/* Sign the request; when the signer accepts it, what it wrote must verify as the emulator reads it. */
static void check_signing(const struct eic_sigv4_request *req, const char *amz_date)
{
    struct eic_sigv4_scope scope = {amz_date, "us-east-1", "ec2-instance-connect"};
    struct eic_sigv4_auth auth = {0};
    char signature[65];
    char *canonical = NULL;
    char *string_to_sign = NULL;
    char *authorization = NULL;
    int ret;

    ret = eic_sigv4_canonical_request(req, &canonical);
    FUZZ_CHECK(documented(ret));
    ret = eic_sigv4_string_to_sign(req, &scope, &string_to_sign);
    FUZZ_CHECK(documented(ret));
    ret = eic_sigv4_authorization(req, &scope, "AKIAEICDEMOALICE0001", "eic-demo-secret-alice", &authorization);
    FUZZ_CHECK(documented(ret));
    if (ret == 0) {
        FUZZ_CHECK(eic_sigv4_signature(req, &scope, "eic-demo-secret-alice", signature) == 0);
        FUZZ_CHECK(eic_sigv4_parse_authorization(authorization, &auth) == 0);
        FUZZ_CHECK(strcmp(auth.signature, signature) == 0);
        FUZZ_CHECK(strcmp(auth.access_key_id, "AKIAEICDEMOALICE0001") == 0);
        FUZZ_CHECK(strncmp(auth.date, amz_date, 8) == 0 && strcmp(auth.region, "us-east-1") == 0);
    }
    eic_sigv4_auth_free(&auth);
    free(authorization);
    free(string_to_sign);
    free(canonical);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    char *fields[5] = {"", "", "", "", ""};
    struct eic_sigv4_header headers[MAX_HEADERS];
    struct eic_sigv4_request req = {0};
    size_t n_headers = 0;
    char *p = text;
    char *body = NULL;

    for (size_t i = 0; i < 5 && p != NULL; i++) {
        fields[i] = p;
        p = strchr(p, '\n');
        if (p != NULL) {
            *p++ = '\0';
        }
    }
    while (p != NULL) {
        char *line = p;
        char *colon;

        p = strchr(p, '\n');
        if (p != NULL) {
            *p++ = '\0';
        }
        if (line[0] == '\0') {
            body = p;
            break;
        }
        colon = strchr(line, ':');
        if (colon == NULL || n_headers == MAX_HEADERS) {
            continue;
        }
        *colon = '\0';
        headers[n_headers].name = line;
        headers[n_headers].value = colon + 1;
        n_headers++;
    }

    check_authorization(fields[0]);
    check_date(fields[1]);
    req.method = fields[2];
    req.path = fields[3];
    req.query = fields[4];
    req.headers = headers;
    req.n_headers = n_headers;
    req.body = body ? body : "";
    req.body_len = body ? strlen(body) : 0;
    check_signing(&req, fields[1]);
    free(text);
    return 0;
}
