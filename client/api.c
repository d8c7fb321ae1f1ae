#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "eic.h"
#include "eic_json.h"
#include "eic_log.h"
#include "eic_sigv4.h"
#include "eic_time.h"
#include "endpoints.h"
#include "http.h"

#define API_MAX_ANSWER (64 * 1024) /* a SendSSHPublicKey answer is ~80 bytes */
#define API_CONTENT_TYPE "application/x-amz-json-1.1"
#define API_BACKOFF_BASE_MS 1000   /* botocore's standard retry mode: base 1 s, exponential, jitter */
#define API_BACKOFF_MAX_MS 20000

void eic_api_endpoint_free(struct eic_api_endpoint *ep)
{
    curl_url_cleanup(ep->url);
    free(ep->display);
    curl_free(ep->scheme);
    curl_free(ep->host);
    curl_free(ep->port);
    free(ep->host_header);
    curl_free(ep->path);
    curl_free(ep->query);
    memset(ep, 0, sizeof(*ep));
}

int eic_api_endpoint_parse(const struct eic_api_call *call, struct eic_api_endpoint *ep, char **err)
{
    char *scheme = NULL, *host = NULL, *port = NULL;
    int ret = EINVAL;

    memset(ep, 0, sizeof(*ep));
    if (call->endpoint_url != NULL) {
        ep->display = strdup(call->endpoint_url);
    } else {
        char why[256];

        ret = eic_endpoint_builtin(call->service, call->region, false, false, &ep->display, why, sizeof(why));
        if (ret == EINVAL && asprintf(err, "%s", why) < 0) {
            *err = NULL;
        }
        if (ret != 0) {
            return ret;
        }
        ret = EINVAL;
    }
    ep->url = curl_url();
    if (ep->display == NULL || ep->url == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (curl_url_set(ep->url, CURLUPART_URL, ep->display, 0) != CURLUE_OK ||
        curl_url_get(ep->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(ep->url, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
        curl_url_get(ep->url, CURLUPART_PATH, &ep->path, 0) != CURLUE_OK) {
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        goto done;
    }
    if (curl_url_get(ep->url, CURLUPART_QUERY, &ep->query, 0) != CURLUE_OK) {
        ep->query = NULL;
    }
    /* A fragment is never sent; drop it so that what is signed is what goes out. */
    curl_url_set(ep->url, CURLUPART_FRAGMENT, NULL, 0);
    {
        /* Messages show the URL as it is used ("http://host:port/"), as the AWS CLI does. */
        char *full = NULL;

        if (curl_url_get(ep->url, CURLUPART_URL, &full, 0) == CURLUE_OK) {
            free(ep->display);
            ep->display = strdup(full);
            curl_free(full);
            if (ep->display == NULL) {
                ret = ENOMEM;
                goto done;
            }
        }
    }
    for (char *p = host; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    if (curl_url_get(ep->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        goto done;
    }
    if (!((strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
          (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0))) {
        ret = asprintf(&ep->host_header, "%s:%s", host, port) < 0 ? ENOMEM : 0;
    } else {
        ep->host_header = strdup(host);
        ret = ep->host_header ? 0 : ENOMEM;
    }
    if (ret == ENOMEM) {
        ep->host_header = NULL;
    }
    ep->scheme = scheme;
    ep->host = host;
    ep->port = port;
    scheme = host = port = NULL;
done:
    if (ret == EINVAL && asprintf(err, "Invalid endpoint: %s", ep->display ? ep->display : "") < 0) {
        *err = NULL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return ret;
}

/* Log the canonical request line by line (a log message is one line), the session token
 * replaced: it is a credential. */
static void log_canonical_request(const struct eic_sigv4_request *req)
{
    char *cr = NULL;
    char *line, *next;
    size_t len;

    if (eic_sigv4_canonical_request(req, &cr) != 0) {
        return;
    }
    len = strlen(cr);
    eic_log(LOG_DEBUG, "canonical request:");
    for (line = cr; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0'; /* empty lines (no query, end of headers) are shown too */
        }
        if (strncmp(line, "x-amz-security-token:", 21) == 0) {
            eic_log(LOG_DEBUG, "| x-amz-security-token:<redacted>");
        } else {
            eic_log(LOG_DEBUG, "| %s", line);
        }
    }
    OPENSSL_cleanse(cr, len);
    free(cr);
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lines[i] != NULL) {
            OPENSSL_cleanse(lines[i], strlen(lines[i])); /* token and signature lines */
            free(lines[i]);
        }
    }
}

/* Sign the request for now and send it once. */
static int send_signed(const struct eic_api_call *call, const struct eic_api_endpoint *ep, long timeout_ms,
                       struct eic_http_response *resp)
{
    const struct eic_credentials *creds = call->credentials;
    char amz_date[EIC_SIGV4_AMZ_DATE_LEN + 1];
    struct eic_sigv4_header signed_headers[5] = {
        {"Content-Type", call->content_type ? call->content_type : API_CONTENT_TYPE},
        {"Host", ep->host_header},
        {"X-Amz-Date", amz_date},
    };
    size_t n_signed = 3;
    struct eic_sigv4_request req = {
        .method = "POST", .path = ep->path, .query = ep->query, .headers = signed_headers,
        .n_headers = n_signed, .body = call->body, .body_len = strlen(call->body),
    };
    struct eic_sigv4_scope scope = {amz_date, call->region, call->service};
    char *authorization = NULL;
    char *lines[6] = {NULL};
    size_t n_lines = 0;
    struct eic_http_request http = {
        .url = ep->url, .body = call->body, .body_len = strlen(call->body),
        .connect_timeout_ms = call->connect_timeout_ms < timeout_ms ? call->connect_timeout_ms : timeout_ms,
        .timeout_ms = timeout_ms, .max_response = API_MAX_ANSWER, .ca_bundle = call->ca_bundle,
        .insecure = call->insecure,
    };
    int ret;

    if (call->target != NULL) {
        signed_headers[n_signed++] = (struct eic_sigv4_header){"X-Amz-Target", call->target};
    }
    if (creds->session_token != NULL) {
        signed_headers[n_signed++] = (struct eic_sigv4_header){"X-Amz-Security-Token", creds->session_token};
    }
    req.n_headers = n_signed;
    memset(resp, 0, sizeof(*resp));
    eic_sigv4_format_amz_date((long long)time(NULL), amz_date);
    ret = eic_sigv4_authorization(&req, &scope, creds->access_key_id, creds->secret_access_key, &authorization);
    if (ret != 0) {
        snprintf(resp->error, sizeof(resp->error), "cannot sign the request: %s", strerror(ret));
        return ret;
    }
    log_canonical_request(&req);
    /* The signed headers go out exactly as signed, then the signature. */
    for (size_t i = 0; i < n_signed && ret == 0; i++) {
        if (asprintf(&lines[n_lines], "%s: %s", signed_headers[i].name, signed_headers[i].value) < 0) {
            lines[n_lines] = NULL;
            ret = ENOMEM;
        }
        n_lines++;
    }
    if (ret == 0 && asprintf(&lines[n_lines++], "Authorization: %s", authorization) < 0) {
        lines[n_lines - 1] = NULL;
        ret = ENOMEM;
    }
    if (ret == 0) {
        http.headers = (const char *const *)lines;
        http.n_headers = n_lines;
        ret = eic_http_post(&http, resp);
    } else {
        snprintf(resp->error, sizeof(resp->error), "out of memory");
    }
    free_lines(lines, n_lines);
    free(authorization);
    return ret;
}

static bool is_throttling(const char *code)
{
    static const char *const codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    };
    for (size_t i = 0; code != NULL && i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* "com.amazonaws.foo#AuthException" → "AuthException"; "AuthException:http://..." → "AuthException". */
static char *error_code_from(const char *text, bool from_header)
{
    const char *hash = strrchr(text, '#');
    size_t len;

    if (hash != NULL) {
        text = hash + 1;
    }
    len = from_header ? strcspn(text, ":") : strlen(text);
    return strndup(text, len > 128 ? 128 : len);
}

static const char *reason_phrase(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "HTTP error";
    }
}

/* raw_answer calls: the body as text; a 2xx status is success, the caller reads the rest. */
static void interpret_raw(const struct eic_http_response *resp, struct eic_api_result *result)
{
    result->http_status = resp->status;
    free(result->request_id);
    result->request_id = resp->request_id ? strdup(resp->request_id) : NULL;
    result->body = strndup(resp->body.data ? resp->body.data : "", resp->body.len);
    if (resp->status >= 200 && resp->status < 300) {
        result->outcome = EIC_API_OK;
        return;
    }
    result->outcome = EIC_API_SERVICE_ERROR;
    if (asprintf(&result->error_code, "%ld", resp->status) < 0) {
        result->error_code = NULL;
    }
    result->error_message = strdup(reason_phrase(resp->status));
}

/* Turn one HTTP answer into result. */
static void interpret(const struct eic_http_response *resp, struct eic_api_result *result)
{
    json_object *obj = NULL;
    bool is_json = resp->body.len > 0 &&
                   eic_json_parse(resp->body.data, resp->body.len, API_MAX_ANSWER, &obj) == 0 &&
                   json_object_is_type(obj, json_type_object);

    result->http_status = resp->status;
    free(result->request_id);
    result->request_id = resp->request_id ? strdup(resp->request_id) : NULL;
    if (resp->status >= 200 && resp->status < 300) {
        if (is_json) {
            result->outcome = EIC_API_OK;
            result->answer = obj;
            return;
        }
        result->outcome = EIC_API_FAILED;
        if (asprintf(&result->error_message, "The service answered HTTP %ld with a body that is not a JSON object",
                     resp->status) < 0) {
            result->error_message = NULL;
        }
        json_object_put(obj);
        return;
    }
    result->outcome = EIC_API_SERVICE_ERROR;
    {
        const char *type = is_json ? eic_json_get_string(obj, "__type") : NULL;
        const char *code = is_json ? eic_json_get_string(obj, "code") : NULL;
        const char *message = is_json ? eic_json_get_string(obj, "Message") : NULL;

        if (message == NULL && is_json) {
            message = eic_json_get_string(obj, "message");
        }
        if (type != NULL) {
            result->error_code = error_code_from(type, false);
        } else if (code != NULL) {
            result->error_code = error_code_from(code, false);
        } else if (resp->error_type != NULL) {
            result->error_code = error_code_from(resp->error_type, true);
        } else if (asprintf(&result->error_code, "%ld", resp->status) < 0) {
            result->error_code = NULL;
        }
        result->error_message = strdup(message ? message : reason_phrase(resp->status));
    }
    json_object_put(obj);
}

static bool should_retry(int http_ret, const struct eic_api_result *result)
{
    if (http_ret != 0) {
        /* No answer: a connection that failed or broke is worth another try; an oversized
         * answer will be oversized again. */
        return http_ret != EMSGSIZE && http_ret != ENOMEM;
    }
    return result->outcome == EIC_API_SERVICE_ERROR &&
           (result->http_status >= 500 || result->http_status == 429 || is_throttling(result->error_code));
}

static int max_attempts(void)
{
    const char *env = getenv("AWS_MAX_ATTEMPTS");
    char *end = NULL;
    long v;

    if (env == NULL || env[0] == '\0') {
        return 3;
    }
    v = strtol(env, &end, 10);
    return (*end == '\0' && v >= 1 && v <= 10) ? (int)v : 3;
}

static void clear_result(struct eic_api_result *result)
{
    char *request_id = result->request_id;

    result->request_id = NULL;
    eic_api_result_free(result);
    result->request_id = request_id;
}

void eic_api_invoke(const struct eic_api_call *call, struct eic_api_result *result)
{
    struct eic_api_endpoint ep;
    int attempts = max_attempts();
    uint64_t deadline = eic_monotonic_ms() + (uint64_t)call->read_timeout_ms;
    unsigned int seed = (unsigned int)(eic_monotonic_ms() ^ (uint64_t)getpid());
    int ret;

    memset(result, 0, sizeof(*result));
    result->outcome = EIC_API_FAILED;
    ret = eic_api_endpoint_parse(call, &ep, &result->error_message);
    if (ret != 0) {
        result->outcome = ret == EINVAL ? EIC_API_BAD_ENDPOINT : EIC_API_FAILED;
        if (result->error_message == NULL) {
            result->error_message = strdup("out of memory");
        }
        eic_api_endpoint_free(&ep);
        return;
    }
    for (int attempt = 1;; attempt++) {
        struct eic_http_response resp;
        uint64_t left = eic_ms_left(deadline);
        int http_ret;
        bool again;

        clear_result(result);
        result->retries = attempt - 1;
        http_ret = send_signed(call, &ep, (long)(left > 0 ? left : 1), &resp);
        if (http_ret == 0 && call->raw_answer) {
            interpret_raw(&resp, result);
        } else if (http_ret == 0) {
            interpret(&resp, result);
        } else {
            result->outcome = EIC_API_FAILED;
            if (http_ret == ETIMEDOUT) {
                ret = asprintf(&result->error_message, "Read timeout on endpoint URL: \"%s\"", ep.display);
            } else if (http_ret == ECONNREFUSED) {
                ret = asprintf(&result->error_message, "Could not connect to the endpoint URL: \"%s\" (%s)",
                               ep.display, resp.error);
            } else {
                ret = asprintf(&result->error_message, "Request to \"%s\" failed: %s", ep.display, resp.error);
            }
            if (ret < 0) {
                result->error_message = NULL;
            }
        }
        eic_log(LOG_DEBUG, "attempt %d: %s%ld%s%s", attempt, http_ret ? "no answer, " : "HTTP ",
                http_ret ? 0L : result->http_status, result->error_code ? " " : "",
                result->error_code ? result->error_code : "");
        again = attempt < attempts && should_retry(http_ret, result);
        eic_http_response_free(&resp);
        if (!again) {
            break;
        }
        {
            uint64_t cap = (uint64_t)API_BACKOFF_BASE_MS << (attempt - 1);
            uint64_t delay = (uint64_t)rand_r(&seed) % ((cap < API_BACKOFF_MAX_MS ? cap : API_BACKOFF_MAX_MS) + 1);

            if (delay + 100 >= eic_ms_left(deadline)) {
                break; /* no time left for another attempt */
            }
            eic_log(LOG_DEBUG, "retrying in %llu ms", (unsigned long long)delay);
            usleep((useconds_t)(delay * 1000));
        }
    }
    if (result->outcome != EIC_API_OK && result->error_message == NULL) {
        result->error_message = strdup("out of memory");
    }
    eic_api_endpoint_free(&ep);
}

void eic_api_result_free(struct eic_api_result *result)
{
    json_object_put(result->answer);
    free(result->error_code);
    free(result->error_message);
    free(result->request_id);
    free(result->body);
    result->body = NULL;
    result->answer = NULL;
    result->error_code = NULL;
    result->error_message = NULL;
    result->request_id = NULL;
}

int eic_api_report(const char *cmd, const char *operation, const struct eic_api_result *result)
{
    const char *code = result->error_code ? result->error_code : "Unknown";

    switch (result->outcome) {
    case EIC_API_OK:
        return EIC_EXIT_OK;
    case EIC_API_SERVICE_ERROR:
        /* botocore names the retries when it made any: a throttled caller learns it was retried. */
        if (result->retries > 0) {
            fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation (reached max retries: %d): %s\n",
                    code, operation, result->retries, result->error_message);
        } else {
            fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n", code, operation,
                    result->error_message);
        }
        return EIC_EXIT_SERVICE;
    case EIC_API_BAD_ENDPOINT:
        return eic_usage_error(cmd, "%s", result->error_message);
    case EIC_API_FAILED:
    default:
        fprintf(stderr, "\n%s\n", result->error_message);
        return EIC_EXIT_OTHER;
    }
}
