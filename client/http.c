#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/header.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct eic_buf *buf = userdata;

    /* nmemb is the byte count (size is always 1); returning less makes curl stop with
     * CURLE_WRITE_ERROR, which is how the cap ends an oversized answer early. */
    if (size != 1 || eic_buf_append(buf, data, nmemb) != 0) {
        return 0;
    }
    return nmemb;
}

static char *header_copy(CURL *curl, const char *name)
{
    struct curl_header *h = NULL;

    if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL || h->value == NULL) {
        return NULL;
    }
    return strndup(h->value, 256);
}

/* GET, or a POST/PUT of the body (a PUT through curl's POST machinery: the same body handling). */
static bool set_method(CURL *curl, const struct eic_http_request *request)
{
    if (request->method != NULL && strcmp(request->method, "GET") == 0) {
        return curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    }
    if (curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body ? request->body : "") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_len) != CURLE_OK) {
        return false;
    }
    return request->method == NULL || curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request->method) == CURLE_OK;
}

void eic_tls_failure_text(const char *host, long verify_result, char *out, size_t out_len)
{
    const char *why = X509_verify_cert_error_string(verify_result);

    switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(out, out_len, "SSL validation failed for %.256s: name mismatch, the certificate is not for %.256s (%s)",
                 host, host, why);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(out, out_len, "SSL validation failed for %.256s: certificate not valid at this time (%s)", host, why);
        break;
    default:
        snprintf(out, out_len, "SSL validation failed for %.256s: certificate not trusted (%s)", host, why);
        break;
    }
}

/* CURLOPT_SSL_CTX_FUNCTION: OpenSSL checks the host name too, in the handshake, as the WebSocket
 * client does (SSL_set1_host): a mismatch is then X509_V_ERR_HOSTNAME_MISMATCH in curl's
 * CURLINFO_SSL_VERIFYRESULT, told apart from an untrusted chain. curl's own check stays. host
 * is the URL's, an IPv6 literal without its brackets. */
static CURLcode check_name_too(CURL *curl, void *ssl_ctx, void *host)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ssl_ctx);

    (void)curl;
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1 && X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
        return CURLE_SSL_CERTPROBLEM;
    }
    return CURLE_OK;
}

/* The URL's host for check_name_too (malloc'd), or NULL. */
static char *verify_host(CURLU *url)
{
    char *host = NULL;
    char *out = NULL;

    if (curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        out = host[0] == '[' ? strndup(host + 1, strcspn(host + 1, "]")) : strdup(host);
    }
    curl_free(host);
    return out;
}

int eic_http_post(const struct eic_http_request *request, struct eic_http_response *response)
{
    struct curl_slist *headers = NULL;
    CURL *curl = NULL;
    char *host = NULL;
    long verify = X509_V_OK;
    CURLcode rc;
    int ret = 0;

    memset(response, 0, sizeof(*response));
    eic_buf_init(&response->body, request->max_response);
    curl = curl_easy_init();
    host = verify_host(request->url);
    if (curl == NULL || host == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < request->n_headers; i++) {
        struct curl_slist *grown = curl_slist_append(headers, request->headers[i]);

        if (grown == NULL) {
            ret = ENOMEM;
            goto done;
        }
        headers = grown;
    }
    /* No "Expect: 100-continue" round trip for a small body. */
    headers = curl_slist_append(headers, "Expect:");
    if (headers == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (curl_easy_setopt(curl, CURLOPT_CURLU, request->url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        !set_method(curl, request) ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, request->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)request->max_response) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response->body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, response->error) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "eic/" PACKAGE_VERSION) != CURLE_OK ||
        (request->ca_bundle != NULL && curl_easy_setopt(curl, CURLOPT_CAINFO, request->ca_bundle) != CURLE_OK) ||
        (!request->insecure && (curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, check_name_too) != CURLE_OK ||
                                curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, host) != CURLE_OK)) ||
        (request->insecure && (curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
                               curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK))) {
        snprintf(response->error, sizeof(response->error), "libcurl refused an option");
        ret = EIO;
        goto done;
    }
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        if (response->error[0] == '\0') {
            snprintf(response->error, sizeof(response->error), "%s", curl_easy_strerror(rc));
        }
        if (rc == CURLE_PEER_FAILED_VERIFICATION && curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &verify) ==
            CURLE_OK) {
            eic_tls_failure_text(host, verify, response->error, sizeof(response->error));
        }
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            ret = ETIMEDOUT;
            break;
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
            snprintf(response->error, sizeof(response->error), "the answer is larger than %zu bytes",
                     request->max_response);
            ret = EMSGSIZE;
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
            ret = ECONNREFUSED;
            break;
        case CURLE_OUT_OF_MEMORY:
            ret = ENOMEM;
            break;
        default:
            ret = EIO;
            break;
        }
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    response->error_type = header_copy(curl, "x-amzn-ErrorType");
    response->request_id = header_copy(curl, "x-amzn-RequestId");
done:
    if (ret == ENOMEM && response->error[0] == '\0') {
        snprintf(response->error, sizeof(response->error), "out of memory");
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(host);
    return ret;
}

void eic_http_response_free(struct eic_http_response *response)
{
    eic_buf_free(&response->body);
    free(response->error_type);
    free(response->request_id);
    response->error_type = NULL;
    response->request_id = NULL;
}
