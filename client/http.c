#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/header.h>

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

int eic_http_post(const struct eic_http_request *request, struct eic_http_response *response)
{
    struct curl_slist *headers = NULL;
    CURL *curl = NULL;
    CURLcode rc;
    int ret = 0;

    memset(response, 0, sizeof(*response));
    eic_buf_init(&response->body, request->max_response);
    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(response->error, sizeof(response->error), "out of memory");
        return ENOMEM;
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
