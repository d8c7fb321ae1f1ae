/* IMDS client (IMDSv2). One handle per process or per caller; not shared between
 * threads without external locking.
 *
 * - The endpoint is an IP literal: no DNS, no proxy (CURLOPT_NOPROXY "*"), no redirects,
 *   http only, no .netrc, CURLOPT_NOSIGNAL (safe inside threaded hosts).
 * - The session token (PUT /latest/api/token) is kept in the handle and reused until shortly
 *   before it expires; a 401 on a GET drops it and fetches a new one once.
 * - Every operation takes one absolute deadline (CLOCK_MONOTONIC ms, see eic_time.h) that
 *   bounds everything it does, token included; each request is also bounded by the
 *   per-request timeout. A request that hits that timeout is tried once more when the deadline
 *   still leaves a whole request timeout (never when the deadline is one timeout, as in NSS).
 * - Response bodies over the size cap are an error (EMSGSIZE), never truncated silently. */
#ifndef EIC_IMDS_H
#define EIC_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include "eic_buf.h"

struct eic_imds;

/* Where discovery looks, in order: IMDS over IPv4, then over IPv6 (Nitro instances; the only one
 * in an IPv6-only subnet). */
#define EIC_IMDS_DISCOVER_DEFAULT {"http://169.254.169.254", "http://[fd00:ec2::254]", NULL}
/* How long discovery waits for one endpoint's TCP connection before it tries the next: link-local
 * IMDS connects in well under a millisecond, so only an endpoint that drops packets costs this. */
#define EIC_IMDS_DISCOVER_CONNECT_MS 250

struct eic_imds_options {
    /* "http://169.254.169.254" or "http://127.0.0.1:8169"; NULL or "auto": discovery. The first endpoint of
     * discover (NULL: EIC_IMDS_DISCOVER_DEFAULT) that answers the token PUT with any HTTP status is
     * the endpoint from then on, for this handle and for every later handle of this process that
     * discovers over the same list (logged once, when found). An endpoint that refuses, cannot be
     * routed to or does not connect within EIC_IMDS_DISCOVER_CONNECT_MS is skipped; one that
     * connects but does not answer ends the attempt (nothing kept). */
    const char *endpoint;
    long request_timeout_ms;    /* per HTTP request */
    long token_ttl;             /* seconds asked for in X-aws-ec2-metadata-token-ttl-seconds */
    size_t max_response;        /* byte cap per response body */
    const char *const *discover; /* NULL-terminated; must outlive the handle */
};
/* A zero request_timeout_ms, token_ttl or max_response means the default (1000 ms, 21600 s,
 * 1 MiB, as in eic_config.h); token_ttl must be within 1..21600. */

/* Returns 0 or EINVAL (endpoint not http://IP-literal[:port]) / ENOMEM. */
int eic_imds_new(const struct eic_imds_options *opts, struct eic_imds **out);
void eic_imds_free(struct eic_imds *imds);

/* GET endpoint + path (path starts with '/', e.g. "/latest/meta-data/instance-id").
 * On 0, out holds the body (out is reset first; its cap is min(out->max, max_response)).
 * Returns: 0 (HTTP 200); ENOENT (404); ETIMEDOUT (deadline or timeout reached);
 * EMSGSIZE (body over the cap); EACCES (401/403 even with a fresh token);
 * ECONNREFUSED / EHOSTUNREACH / EIO (cannot connect or transport error);
 * EPROTO (any other HTTP status). Never blocks past deadline_ms (+ scheduling slack). */
int eic_imds_get(struct eic_imds *imds, const char *path, uint64_t deadline_ms, struct eic_buf *out);
/* Short, static description of an eic_imds_get() return value for log lines. */
const char *eic_imds_strerror(int err);
/* What the last failed eic_imds_get() met, for the log line next to eic_imds_strerror(): e.g.
 * "token PUT: HTTP 403", "HTTP 503", "token PUT: the answer is not a token", or libcurl's own
 * words ("Operation timed out after 500 milliseconds with 0 bytes received"). "" after a success.
 * Valid until the next call on the handle. */
const char *eic_imds_last_error(const struct eic_imds *imds);
/* The endpoint in use: the one given, or the one discovery found; NULL while none is found. */
const char *eic_imds_endpoint(const struct eic_imds *imds);
/* Counters since eic_imds_new(): token PUTs attempted, HTTP requests sent (token PUTs and retries
 * included), and requests sent again after running into their timeout. For tests and log lines,
 * e.g. to show that a token was reused. Any pointer may be NULL. */
void eic_imds_stats(const struct eic_imds *imds, unsigned long *token_fetches, unsigned long *requests,
                    unsigned long *retries);

#endif
