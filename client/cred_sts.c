/* STS for assume-role and web identity profiles (botocore's AssumeRoleProvider, METHOD
 * "assume-role", and AssumeRoleWithWebIdentityProvider, "assume-role-with-web-identity").
 * credentials.c decides which applies and finds the source credentials; this file makes the call:
 * POST / with Action=AssumeRole (SigV4 for "sts") or Action=AssumeRoleWithWebIdentity (unsigned:
 * the token is the proof), Version=2011-06-15, and reads <Credentials> from the XML answer.
 * Endpoint: endpoints.h's for "sts" (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the profile's
 * services section or endpoint_url, else the rule set) with the profile's region (us-east-1
 * without one). */
#include "cred_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "api.h"
#include "eic_buf.h"
#include "eic_log.h"
#include "eic_util.h"
#include "endpoints.h"
#include "http.h"

#define STS_VERSION "2011-06-15"
#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define MAX_TOKEN (64 * 1024)

/* name=value&, the value percent-encoded (RFC 3986 unreserved kept). */
static int form_add(struct eic_buf *b, const char *name, const char *value)
{
    int ret = eic_buf_printf(b, "%s%s=", b->len ? "&" : "", name);

    for (const unsigned char *p = (const unsigned char *)value; ret == 0 && *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            ret = eic_buf_append(b, p, 1);
        } else {
            ret = eic_buf_printf(b, "%%%02X", *p);
        }
    }
    return ret;
}

/* The text of the first <name> element of xml (entities decoded), malloc'd; NULL when absent. */
static char *xml_element(const char *xml, const char *name)
{
    char open[64], close[64];
    const char *start, *end;
    char *out, *w;

    snprintf(open, sizeof(open), "<%s>", name);
    snprintf(close, sizeof(close), "</%s>", name);
    start = strstr(xml, open);
    if (start == NULL) {
        return NULL;
    }
    start += strlen(open);
    end = strstr(start, close);
    if (end == NULL) {
        return NULL;
    }
    out = malloc((size_t)(end - start) + 1);
    if (out == NULL) {
        return NULL;
    }
    w = out;
    for (const char *p = start; p < end;) {
        static const struct { const char *ent; char c; } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
        };
        size_t i;

        for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
            size_t n = strlen(ents[i].ent);

            if ((size_t)(end - p) >= n && memcmp(p, ents[i].ent, n) == 0) {
                *w++ = ents[i].c;
                p += n;
                break;
            }
        }
        if (i == sizeof(ents) / sizeof(ents[0])) {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* Credentials from an STS answer (status 200), or the error it carries. */
static int parse_answer(long status, const char *xml, const char *method, struct eic_credentials *out, char *err,
                        size_t err_len)
{
    char *ak = NULL, *sk = NULL, *token = NULL, *expiration = NULL;
    const char *creds;
    time_t exp = 0;
    int ret = EINVAL;

    if (status != 200) {
        char *code = xml_element(xml, "Code"), *message = xml_element(xml, "Message");

        snprintf(err, err_len, "Error when retrieving credentials from %s: An error occurred (%.64s) when calling "
                 "the %s operation: %.300s", method, code ? code : "HTTP error",
                 strcmp(method, "assume-role") == 0 ? "AssumeRole" : "AssumeRoleWithWebIdentity",
                 message ? message : "");
        free(code);
        free(message);
        return EACCES;
    }
    creds = strstr(xml, "<Credentials>");
    if (creds != NULL) {
        ak = xml_element(creds, "AccessKeyId");
        sk = xml_element(creds, "SecretAccessKey");
        token = xml_element(creds, "SessionToken");
        expiration = xml_element(creds, "Expiration");
    }
    if (ak == NULL || sk == NULL || token == NULL || expiration == NULL || eic_cred_parse_time(expiration, &exp)) {
        snprintf(err, err_len, "Error when retrieving credentials from %s: the STS answer has no usable "
                 "<Credentials>", method);
        goto done;
    }
    ret = eic_cred_set(out, ak, sk, token, exp, method);
done:
    free(ak);
    eic_cred_free_secret(sk);
    eic_cred_free_secret(token);
    free(expiration);
    return ret;
}

static void sts_region(const char *profile, char **region)
{
    char err[256];

    if (eic_region_resolve(NULL, profile, NULL, region, err, sizeof(err)) != 0) {
        *region = strdup("us-east-1");
    }
}

/* *url (malloc'd). Returns 0, EINVAL (err says why) or ENOMEM. */
static int sts_url(const char *profile, const char *region, const char *method, char **url, char *err,
                   size_t err_len)
{
    const char *source = NULL;
    char why[256];
    int ret = eic_endpoint_resolve(EIC_SERVICE_STS, region, profile, NULL, url, &source, why, sizeof(why));

    if (ret == EINVAL) {
        snprintf(err, err_len, "Error when retrieving credentials from %s: %s", method, why);
    }
    return ret;
}

/* The MFA code for serial, read from the terminal without echo. */
static int mfa_code(const char *serial, char *code, size_t code_len, char *err, size_t err_len)
{
    struct termios saved, quiet;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    ssize_t n = 0;
    size_t len = 0;
    char c;
    int ret = 0;
    bool restore = false;

    if (fd < 0) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role: the profile has mfa_serial "
                 "but there is no terminal to ask for the code");
        return ENXIO;
    }
    /* Echo off before the prompt, as getpass does: TCSAFLUSH drops what was typed before it, so
     * an answer to the prompt must not be able to arrive earlier. */
    if (tcgetattr(fd, &saved) == 0) {
        quiet = saved;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    dprintf(fd, "Enter MFA code for %s: ", serial);
    while ((n = eic_read_retry(fd, &c, 1)) == 1 && c != '\n') {
        if (len + 1 < code_len) {
            code[len++] = c;
        }
    }
    code[len] = '\0';
    if (restore) {
        tcsetattr(fd, TCSAFLUSH, &saved);
    }
    dprintf(fd, "\n");
    close(fd);
    if (len == 0) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role: no MFA code given");
        ret = EINVAL;
    }
    return ret;
}

int eic_cred_sts_assume_role(const char *profile, const struct eic_credentials *source, const char *role_arn,
                             struct eic_credentials *out, char *err, size_t err_len)
{
    char *session = NULL, *external_id = NULL, *duration = NULL, *mfa_serial = NULL, *region = NULL, *url = NULL;
    char *bundle = NULL;
    struct eic_api_call call = {0};
    struct eic_api_result result = {0};
    struct eic_buf body;
    char default_session[64];
    char code[32] = "";
    int ret;

    eic_buf_init(&body, 64 * 1024);
    if (eic_profile_get(profile, "role_session_name", &session) == ENOMEM ||
        eic_profile_get(profile, "external_id", &external_id) == ENOMEM ||
        eic_profile_get(profile, "duration_seconds", &duration) == ENOMEM ||
        eic_profile_get(profile, "mfa_serial", &mfa_serial) == ENOMEM) {
        ret = ENOMEM;
        goto done;
    }
    snprintf(default_session, sizeof(default_session), "botocore-session-%lld", (long long)time(NULL));
    ret = form_add(&body, "Action", "AssumeRole");
    ret = ret ? ret : form_add(&body, "Version", STS_VERSION);
    ret = ret ? ret : form_add(&body, "RoleArn", role_arn);
    ret = ret ? ret : form_add(&body, "RoleSessionName", session ? session : default_session);
    if (ret == 0 && external_id != NULL) {
        ret = form_add(&body, "ExternalId", external_id);
    }
    if (ret == 0 && duration != NULL) {
        ret = form_add(&body, "DurationSeconds", duration);
    }
    if (ret == 0 && mfa_serial != NULL) {
        ret = mfa_code(mfa_serial, code, sizeof(code), err, err_len);
        if (ret != 0) {
            goto done;
        }
        ret = form_add(&body, "SerialNumber", mfa_serial);
        ret = ret ? ret : form_add(&body, "TokenCode", code);
    }
    if (ret != 0) {
        goto done;
    }
    sts_region(profile, &region);
    if (region == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = sts_url(profile, region, "assume-role", &url, err, err_len);
    if (ret != 0) {
        goto done;
    }
    call.endpoint_url = url;
    call.region = eic_endpoint_signing_region(EIC_SERVICE_STS, region);
    call.service = EIC_SERVICE_STS;
    call.content_type = FORM_TYPE;
    call.raw_answer = true;
    call.body = body.data;
    call.credentials = source;
    call.connect_timeout_ms = 10000;
    call.read_timeout_ms = 30000;
    ret = eic_ca_bundle_resolve(NULL, profile, &bundle);
    if (ret != 0) {
        goto done;
    }
    call.ca_bundle = bundle;
    eic_log(LOG_DEBUG, "credentials: AssumeRole %s with credentials from %s", role_arn, source->source);
    eic_api_invoke(&call, &result);
    if (result.outcome == EIC_API_FAILED || result.outcome == EIC_API_BAD_ENDPOINT || result.body == NULL) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role: %.300s",
                 result.error_message ? result.error_message : "no answer");
        ret = EIO;
        goto done;
    }
    ret = parse_answer(result.http_status, result.body, "assume-role", out, err, err_len);
done:
    if (result.body != NULL) {
        OPENSSL_cleanse(result.body, strlen(result.body));
    }
    eic_api_result_free(&result);
    OPENSSL_cleanse(code, sizeof(code));
    eic_buf_free(&body);
    free(session);
    free(external_id);
    free(duration);
    free(mfa_serial);
    free(region);
    free(url);
    free(bundle);
    return ret;
}

int eic_cred_sts_web_identity(const char *profile, const char *role_arn, const char *token_file,
                              const char *session_name, struct eic_credentials *out, char *err, size_t err_len)
{
    struct eic_http_request req = {0};
    struct eic_http_response resp;
    struct eic_buf body;
    char *token = NULL, *region = NULL, *url = NULL, *bundle = NULL;
    const char *headers[] = {"Content-Type: " FORM_TYPE};
    char default_session[64];
    size_t token_len = 0;
    CURLU *u = NULL;
    int ret;

    memset(&resp, 0, sizeof(resp));
    eic_buf_init(&body, 128 * 1024);
    ret = eic_read_file(token_file, 0, MAX_TOKEN, &token, &token_len);
    if (ret != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role-with-web-identity: cannot read "
                 "the web identity token file %.256s: %s", token_file, strerror(ret));
        goto done;
    }
    /* Sent as the file holds it, a final newline included, as botocore does. */
    snprintf(default_session, sizeof(default_session), "botocore-session-%lld", (long long)time(NULL));
    ret = form_add(&body, "Action", "AssumeRoleWithWebIdentity");
    ret = ret ? ret : form_add(&body, "Version", STS_VERSION);
    ret = ret ? ret : form_add(&body, "RoleArn", role_arn);
    ret = ret ? ret : form_add(&body, "RoleSessionName", session_name ? session_name : default_session);
    ret = ret ? ret : form_add(&body, "WebIdentityToken", token);
    if (ret != 0) {
        goto done;
    }
    sts_region(profile, &region);
    if (region == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = sts_url(profile, region, "assume-role-with-web-identity", &url, err, err_len);
    if (ret != 0) {
        goto done;
    }
    u = curl_url();
    if (u == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role-with-web-identity: bad STS "
                 "endpoint %.200s", url);
        ret = EINVAL;
        goto done;
    }
    req.url = u;
    req.headers = headers;
    req.n_headers = 1;
    req.body = body.data;
    req.body_len = body.len;
    req.connect_timeout_ms = 10000;
    req.timeout_ms = 30000;
    req.max_response = 64 * 1024;
    ret = eic_ca_bundle_resolve(NULL, profile, &bundle);
    if (ret != 0) {
        goto done;
    }
    req.ca_bundle = bundle;
    eic_log(LOG_DEBUG, "credentials: AssumeRoleWithWebIdentity %s", role_arn);
    ret = eic_http_post(&req, &resp);
    if (ret != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from assume-role-with-web-identity: %s",
                 resp.error);
        goto done;
    }
    ret = parse_answer(resp.status, resp.body.data ? resp.body.data : "", "assume-role-with-web-identity", out, err,
                       err_len);
done:
    eic_http_response_free(&resp);
    curl_url_cleanup(u);
    eic_cred_free_secret(token);
    eic_buf_free(&body);
    free(region);
    free(url);
    free(bundle);
    return ret;
}
