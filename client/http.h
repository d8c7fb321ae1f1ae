/* One HTTP request (POST unless told otherwise) with libcurl: a total deadline, a cap on the
 * answer, no redirects, http and https only. The caller calls curl_global_init() once at start-up. */
#ifndef EIC_CLIENT_HTTP_H
#define EIC_CLIENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "eic_buf.h"

struct eic_http_request {
    const char *method;        /* NULL: POST; "GET" or "PUT" (the metadata services) */
    CURLU *url;                /* parsed URL, sent exactly as parsed (and as signed) */
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const void *body;
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;           /* the whole exchange */
    size_t max_response;       /* answer body cap */
    const char *ca_bundle;     /* NULL: curl's default */
    bool insecure;             /* --no-verify-ssl */
};

struct eic_http_response {
    long status;
    struct eic_buf body;
    char *error_type;  /* x-amzn-ErrorType header, or NULL */
    char *request_id;  /* x-amzn-RequestId header, or NULL */
    char error[CURL_ERROR_SIZE]; /* why there is no answer */
};

/* Returns 0 when an HTTP answer arrived (any status), ETIMEDOUT, EMSGSIZE (answer over the cap),
 * ECONNREFUSED (could not connect, resolve or handshake), ENOMEM, EIO (anything else);
 * response->error says what happened. Free the response with eic_http_response_free(). */
int eic_http_post(const struct eic_http_request *request, struct eic_http_response *response);
void eic_http_response_free(struct eic_http_response *response);

/* The message for a certificate that failed verification (OpenSSL's X509_V_* verify_result),
 * into out: "SSL validation failed for HOST: " and the reason, told apart as the user must act on
 * it: a name mismatch, a certificate not valid at this time, a certificate not trusted. */
void eic_tls_failure_text(const char *host, long verify_result, char *out, size_t out_len);

#endif
