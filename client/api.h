/* One call of an AWS JSON 1.1 API (the protocol of ec2-instance-connect): POST of a JSON body
 * with X-Amz-Target naming the operation, signed with SigV4, the answer a JSON object or an
 * error {"__type": ..., "Message": ...}. Throttling, 5xx answers and failed connections are
 * retried (AWS_MAX_ATTEMPTS attempts in all, default 3, as the AWS CLI's standard mode). */
#ifndef EIC_CLIENT_API_H
#define EIC_CLIENT_API_H

#include <stdbool.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "credentials.h"

struct eic_api_call {
    const char *endpoint_url; /* NULL: the rule set's plain URL, e.g. https://<service>.<region>.amazonaws.com
                               * (commands set the one eic_endpoint_for_call resolves) */
    const char *region;
    const char *service;      /* signing name and host prefix, e.g. "ec2-instance-connect" */
    const char *target;       /* X-Amz-Target, e.g. "AWSEC2InstanceConnectService.SendSSHPublicKey";
                               * NULL: none is sent (the Query protocol of EC2) */
    const char *content_type; /* NULL: application/x-amz-json-1.1 */
    bool raw_answer;          /* keep the answer body as text in result->body, whatever its status
                               * and format (XML answers of the Query protocol: the caller parses) */
    const char *body;         /* JSON text (or the form body with content_type) */
    const struct eic_credentials *credentials;
    long connect_timeout_ms;
    long read_timeout_ms;     /* per attempt */
    const char *ca_bundle;
    bool insecure;
};

enum eic_api_outcome {
    EIC_API_OK,            /* answer holds the JSON object */
    EIC_API_SERVICE_ERROR, /* error_code and error_message hold the service's error */
    EIC_API_FAILED,        /* no usable answer: error_message says why */
    EIC_API_BAD_ENDPOINT,  /* the endpoint URL cannot be used: error_message says why */
};

struct eic_api_result {
    enum eic_api_outcome outcome;
    long http_status;
    json_object *answer;
    char *error_code;    /* e.g. "AuthException" */
    char *error_message;
    char *request_id;
    char *body;          /* raw_answer calls: the answer body (NUL-terminated), or NULL */
    int retries;         /* attempts made after the first */
};

/* The endpoint as it is sent and signed. */
struct eic_api_endpoint {
    CURLU *url;
    char *display;     /* the URL, for messages */
    char *host_header; /* host[:port], port only when not the scheme's default (as botocore) */
    char *path;
    char *query;       /* NULL when none */
    char *scheme;      /* "http" or "https" */
    char *host;        /* lower case; IPv6 in brackets */
    char *port;        /* the port to connect to (the scheme's default when the URL has none) */
};

/* call->endpoint_url, or the rule set's plain URL without one. Returns 0,
 * EINVAL (*err says why; not http(s), no host) or ENOMEM. Free with eic_api_endpoint_free. */
int eic_api_endpoint_parse(const struct eic_api_call *call, struct eic_api_endpoint *ep, char **err);
void eic_api_endpoint_free(struct eic_api_endpoint *ep);

/* Never fails without filling result (outcome EIC_API_FAILED with a message at worst). */
void eic_api_invoke(const struct eic_api_call *call, struct eic_api_result *result);
void eic_api_result_free(struct eic_api_result *result);

/* A finished call as the AWS CLI reports it, for subcommand cmd: nothing printed for
 * EIC_API_OK; otherwise the error on stderr ("An error occurred (CODE) when calling the
 * OPERATION operation: MESSAGE" for a service error, a usage error for a bad endpoint).
 * Returns the exit status that goes with the outcome (eic.h). */
int eic_api_report(const char *cmd, const char *operation, const struct eic_api_result *result);

#endif
