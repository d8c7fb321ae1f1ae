/* Credentials from the two metadata services of AWS compute:
 *
 * container (botocore's ContainerProvider, METHOD "container-role", ECS tasks, EKS Pod Identity,
 * and any helper that speaks the same protocol): GET of
 *   http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, else of
 *   $AWS_CONTAINER_CREDENTIALS_FULL_URI (https to any host; http only to a loopback address or
 *   169.254.170.2, 169.254.170.23, fd00:ec2::23, as the current CLI: a plain-http credentials
 *   server elsewhere would hand the keys to the network),
 * with "Authorization: " the contents of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else
 * AWS_CONTAINER_AUTHORIZATION_TOKEN. The answer: {"AccessKeyId", "SecretAccessKey", "Token",
 * "Expiration"}. 2 s per attempt, 3 attempts, 1 s apart (botocore's ContainerMetadataFetcher).
 *
 * IMDS (InstanceMetadataProvider, METHOD "iam-role", an instance profile): PUT /latest/api/token
 * (IMDSv2; a 403, 404 or 405 answer means IMDSv1, as for botocore), GET
 * /latest/meta-data/iam/security-credentials/ (the role's name), GET .../ROLE (the same JSON
 * with "Code": "Success"). Endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT or the profile's
 * ec2_metadata_service_endpoint, else http://169.254.169.254 (http://[fd00:ec2::254] with the
 * endpoint mode IPv6); AWS_EC2_METADATA_DISABLED=true turns it off; timeout and attempts from
 * AWS_METADATA_SERVICE_TIMEOUT / _NUM_ATTEMPTS or metadata_service_timeout / _num_attempts
 * (default 1 s, 1 attempt). */
#include "cred_source.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "eic_log.h"
#include "eic_util.h"
#include "http.h"

#define MAX_ANSWER (64 * 1024)
#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_V4 "http://169.254.169.254"
#define IMDS_V6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL "21600"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* One request to a metadata service. Returns 0 (an answer: *status, body), or an errno value of
 * the transport with why filled. */
static int fetch(const char *method, const char *url, const char *const *headers, size_t n_headers, long timeout_ms,
                 long *status, struct eic_http_response *resp)
{
    struct eic_http_request req = {0};
    CURLU *u = curl_url();
    int ret;

    memset(resp, 0, sizeof(*resp));
    if (u == NULL) {
        return ENOMEM;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        snprintf(resp->error, sizeof(resp->error), "not a URL: %.200s", url);
        return EINVAL;
    }
    req.method = method;
    req.url = u;
    req.headers = headers;
    req.n_headers = n_headers;
    req.connect_timeout_ms = timeout_ms;
    req.timeout_ms = timeout_ms;
    req.max_response = MAX_ANSWER;
    ret = eic_http_post(&req, resp);
    *status = resp->status;
    curl_url_cleanup(u);
    return ret;
}

/* GET url up to attempts times, until an answer with status 200 (IMDS's metadata paths, as
 * botocore retries them). resp holds the last answer; free it with eic_http_response_free. */
static int get_tries(const char *url, const char *const *headers, size_t n_headers, long timeout_ms, long attempts,
                     long *status, struct eic_http_response *resp)
{
    int ret = ENOENT;

    for (long i = 0; i < attempts; i++) {
        eic_http_response_free(resp);
        ret = fetch("GET", url, headers, n_headers, timeout_ms, status, resp);
        if (ret == 0 && *status == 200) {
            break;
        }
    }
    return ret;
}

/* Parse a credentials answer. */
static int parse_answer(const struct eic_http_response *resp, const char *source, bool imds,
                        struct eic_credentials *out, char *err, size_t err_len)
{
    json_tokener *tok = json_tokener_new();
    json_object *doc = NULL, *code = NULL;
    int ret = EINVAL;

    if (tok == NULL) {
        return ENOMEM;
    }
    doc = resp->body.len > 0 ? json_tokener_parse_ex(tok, resp->body.data, (int)resp->body.len) : NULL;
    if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        snprintf(err, err_len, "Error when retrieving credentials from %s: the answer is not JSON", source);
        goto done;
    }
    /* IMDS answers 200 with {"Code": "...", "Message": ...} when the role cannot be used. */
    if (imds && json_object_is_type(doc, json_type_object) && json_object_object_get_ex(doc, "Code", &code) &&
        strcmp(json_object_get_string(code), "Success") != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from %s: Code %.64s", source,
                 json_object_get_string(code));
        ret = ENOENT;
        goto done;
    }
    ret = eic_cred_from_json(doc, "Token", 0, 0, source, out, err, err_len);
done:
    eic_cred_json_free(doc);
    json_tokener_free(tok);
    return ret;
}

/* ---- container ---- */

/* May credentials come from url? https anywhere; http only on this machine or the container
 * agent's link-local addresses. */
static bool container_url_allowed(const char *url, char *host_out, size_t host_len)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    host_out[0] = '\0';
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        goto done;
    }
    snprintf(host_out, host_len, "%s", host);
    if (strcasecmp(scheme, "https") == 0) {
        ok = true;
    } else if (strcasecmp(scheme, "http") == 0) {
        struct in_addr a4;
        struct in6_addr a6;
        char bare[64];
        size_t len = strlen(host);

        /* IPv6 hosts come in brackets. */
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare)) {
            memcpy(bare, host + 1, len - 2);
            bare[len - 2] = '\0';
        } else {
            snprintf(bare, sizeof(bare), "%s", host);
        }
        if (strcasecmp(bare, "localhost") == 0 || strcmp(bare, "169.254.170.2") == 0 ||
            strcmp(bare, "169.254.170.23") == 0) {
            ok = true;
        } else if (inet_pton(AF_INET, bare, &a4) == 1) {
            ok = (ntohl(a4.s_addr) >> 24) == 127;
        } else if (inet_pton(AF_INET6, bare, &a6) == 1) {
            static const unsigned char ecs6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23};

            ok = IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, ecs6, 16) == 0;
        }
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* The Authorization value: the token file's contents (trimmed), else the variable. */
static int container_token(char **token, char *err, size_t err_len)
{
    const char *file = nonempty_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *value = nonempty_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    size_t len;
    int ret;

    *token = NULL;
    if (file != NULL) {
        ret = eic_read_file(file, 0, 16 * 1024, token, &len);
        if (ret != 0) {
            snprintf(err, err_len, "Error when retrieving credentials from container-role: cannot read "
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %.256s: %s", file, strerror(ret));
            return ret;
        }
        while (len > 0 && isspace((unsigned char)(*token)[len - 1])) {
            (*token)[--len] = '\0';
        }
    } else if (value != NULL) {
        *token = strdup(value);
        if (*token == NULL) {
            return ENOMEM;
        }
    } else {
        return 0;
    }
    /* A line break would let the token add headers of its own. */
    if (strpbrk(*token, "\r\n") != NULL) {
        snprintf(err, err_len, "Error when retrieving credentials from container-role: the authorization token "
                 "contains a line break");
        eic_cred_free_secret(*token);
        *token = NULL;
        return EINVAL;
    }
    return 0;
}

int eic_cred_container(struct eic_credentials *out, char *err, size_t err_len)
{
    const char *relative = nonempty_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = nonempty_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char *url = NULL, *token = NULL, *auth_header = NULL;
    const char *headers[1];
    struct eic_http_response resp;
    char host[256];
    long status = 0;
    int ret;

    memset(&resp, 0, sizeof(resp));
    if (relative == NULL && full == NULL) {
        return ENOENT;
    }
    if (relative != NULL) {
        if (relative[0] != '/') {
            snprintf(err, err_len, "Error when retrieving credentials from container-role: "
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /");
            return EINVAL;
        }
        if (asprintf(&url, CONTAINER_HOST "%s", relative) < 0) {
            return ENOMEM;
        }
    } else {
        if (!container_url_allowed(full, host, sizeof(host))) {
            snprintf(err, err_len, "Error when retrieving credentials from container-role: Unsupported host '%.128s'. "
                     "Can only retrieve metadata from a loopback address, 169.254.170.2, 169.254.170.23 or "
                     "fd00:ec2::23 over http, or any host over https", host);
            return EINVAL;
        }
        url = strdup(full);
        if (url == NULL) {
            return ENOMEM;
        }
    }
    ret = container_token(&token, err, err_len);
    if (ret != 0) {
        goto done;
    }
    if (token != NULL && asprintf(&auth_header, "Authorization: %s", token) < 0) {
        auth_header = NULL;
        ret = ENOMEM;
        goto done;
    }
    headers[0] = auth_header;
    for (int attempt = 1; attempt <= 3; attempt++) {
        if (attempt > 1) {
            sleep(1);
        }
        eic_http_response_free(&resp);
        ret = fetch("GET", url, headers, auth_header ? 1 : 0, 2000, &status, &resp);
        eic_log(LOG_DEBUG, "credentials: container GET %s: %s %ld", url, ret == 0 ? "status" : resp.error, status);
        if (ret == 0 && status == 200) {
            break;
        }
        if (ret == 0) {
            ret = EIO;
        }
    }
    if (ret != 0) {
        if (status != 0) {
            snprintf(err, err_len, "Error when retrieving credentials from container-role: Received non 200 response "
                     "(%ld) from container metadata: %.200s", status, resp.body.data ? resp.body.data : "");
        } else {
            snprintf(err, err_len, "Error when retrieving credentials from container-role: %s", resp.error);
        }
        goto done;
    }
    ret = parse_answer(&resp, "container-role", false, out, err, err_len);
    if (ret == ENOENT) {
        ret = EINVAL;
    }
done:
    eic_http_response_free(&resp);
    eic_cred_free_secret(auth_header);
    eic_cred_free_secret(token);
    free(url);
    return ret;
}

/* ---- IMDS ---- */

/* A setting from the environment (its value: env), else from the profile (malloc'd), else NULL. */
static char *setting(const char *env, const char *profile, const char *key)
{
    const char *v = env;
    char *value = NULL;

    if (v != NULL) {
        return strdup(v);
    }
    if (eic_profile_get(profile, key, &value) == 0 && value[0] != '\0') {
        return value;
    }
    free(value);
    return NULL;
}

static long number_setting(const char *env, const char *profile, const char *key, long dflt, long max)
{
    char *v = setting(env, profile, key);
    char *end = NULL;
    double d;

    if (v == NULL) {
        return dflt;
    }
    d = strtod(v, &end);
    if (end == v || *end != '\0' || d <= 0 || d > (double)max) {
        d = (double)dflt;
    }
    free(v);
    return (long)d;
}

int eic_cred_imds(const char *profile, struct eic_credentials *out, char *err, size_t err_len)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    char *base = NULL, *mode = NULL, *url = NULL;
    char *token = NULL, *token_header = NULL, *role = NULL;
    const char *headers[1];
    static const char *const put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL};
    struct eic_http_response resp;
    long timeout_ms, attempts, status = 0;
    size_t len;
    int ret = ENOENT;

    memset(&resp, 0, sizeof(resp));
    if (disabled != NULL && strcasecmp(disabled, "true") == 0) {
        eic_log(LOG_DEBUG, "credentials: IMDS disabled by AWS_EC2_METADATA_DISABLED");
        return ENOENT;
    }
    base = setting(nonempty_env("AWS_EC2_METADATA_SERVICE_ENDPOINT"), profile, "ec2_metadata_service_endpoint");
    if (base == NULL) {
        mode = setting(nonempty_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), profile,
                       "ec2_metadata_service_endpoint_mode");
        base = strdup(mode != NULL && strcasecmp(mode, "ipv6") == 0 ? IMDS_V6 : IMDS_V4);
        if (base == NULL) {
            ret = ENOMEM;
            goto done;
        }
    }
    len = strlen(base);
    while (len > 0 && base[len - 1] == '/') {
        base[--len] = '\0';
    }
    timeout_ms = 1000 * number_setting(nonempty_env("AWS_METADATA_SERVICE_TIMEOUT"), profile,
                                       "metadata_service_timeout", 1, 3600);
    attempts = number_setting(nonempty_env("AWS_METADATA_SERVICE_NUM_ATTEMPTS"), profile,
                              "metadata_service_num_attempts", 1, 10);

    /* The token. */
    if (asprintf(&url, "%s/latest/api/token", base) < 0) {
        url = NULL;
        ret = ENOMEM;
        goto done;
    }
    for (long i = 0; i < attempts; i++) {
        eic_http_response_free(&resp);
        ret = fetch("PUT", url, put_headers, 1, timeout_ms, &status, &resp);
        if (ret == 0 && status < 500) {
            break;
        }
    }
    if (ret != 0) {
        eic_log(LOG_DEBUG, "credentials: IMDS at %s not reached: %s", base, resp.error);
        ret = ENOENT;
        goto done;
    }
    if (status == 200 && resp.body.len > 0 && strpbrk(resp.body.data, "\r\n") == NULL) {
        token = eic_buf_steal(&resp.body);
        if (asprintf(&token_header, "X-aws-ec2-metadata-token: %s", token) < 0) {
            token_header = NULL;
            ret = ENOMEM;
            goto done;
        }
    } else if (status != 403 && status != 404 && status != 405) {
        eic_log(LOG_DEBUG, "credentials: IMDS token request answered %ld", status);
        ret = ENOENT;
        goto done;
    }
    headers[0] = token_header;

    /* The role. */
    free(url);
    if (asprintf(&url, "%s" CREDS_PATH, base) < 0) {
        url = NULL;
        ret = ENOMEM;
        goto done;
    }
    ret = get_tries(url, headers, token_header ? 1 : 0, timeout_ms, attempts, &status, &resp);
    if (ret != 0 || status != 200 || resp.body.len == 0) {
        eic_log(LOG_DEBUG, "credentials: IMDS has no role (%s %ld)", ret ? resp.error : "status", status);
        ret = ENOENT;
        goto done;
    }
    len = resp.body.len;
    while (len > 0 && isspace((unsigned char)resp.body.data[len - 1])) {
        len--;
    }
    role = strndup(resp.body.data, len);
    if (role == NULL) {
        ret = ENOMEM;
        goto done;
    }
    /* One role per instance profile; anything else in its name would change the path. */
    if (role[0] == '\0' || strpbrk(role, "/?#%\r\n \t") != NULL) {
        eic_log(LOG_DEBUG, "credentials: IMDS gave an unusable role name");
        ret = ENOENT;
        goto done;
    }

    /* Its credentials. */
    free(url);
    if (asprintf(&url, "%s" CREDS_PATH "%s", base, role) < 0) {
        url = NULL;
        ret = ENOMEM;
        goto done;
    }
    ret = get_tries(url, headers, token_header ? 1 : 0, timeout_ms, attempts, &status, &resp);
    if (ret != 0 || status != 200) {
        eic_log(LOG_DEBUG, "credentials: IMDS role %s: %s %ld", role, ret ? resp.error : "status", status);
        ret = ENOENT;
        goto done;
    }
    ret = parse_answer(&resp, "iam-role", true, out, err, err_len);
    if (ret == 0) {
        eic_log(LOG_DEBUG, "credentials: IMDS role %s", role);
    } else {
        /* botocore logs an unusable answer and goes on: no credentials from IMDS. */
        eic_log(LOG_DEBUG, "credentials: IMDS answer unusable: %s", err);
        err[0] = '\0';
        ret = ret == ENOMEM ? ENOMEM : ENOENT;
    }
done:
    eic_http_response_free(&resp);
    eic_cred_free_secret(token_header);
    eic_cred_free_secret(token);
    free(role);
    free(url);
    free(mode);
    free(base);
    return ret;
}
