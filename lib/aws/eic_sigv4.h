/* AWS Signature Version 4 (header-based, "AWS4-HMAC-SHA256"), shared by the client,
 * which signs, and the emulator, which recomputes the signature to verify a request.
 * Reference: AWS General Reference, "Signature Version 4 signing process".
 *
 *   CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQuery '\n'
 *                      CanonicalHeaders '\n' SignedHeaders '\n' hex(SHA256(body))
 *   StringToSign     = "AWS4-HMAC-SHA256\n" AmzDate '\n' Scope '\n' hex(SHA256(CanonicalRequest))
 *   Scope            = Date '/' Region '/' Service "/aws4_request"
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" Secret, Date), Region), Service), "aws4_request")
 */
#ifndef EIC_SIGV4_H
#define EIC_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#define EIC_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define EIC_SIGV4_AMZ_DATE_LEN 16 /* "YYYYMMDDTHHMMSSZ" */

struct eic_sigv4_header {
    const char *name;  /* any case; canonicalised to lower case */
    const char *value; /* leading/trailing spaces trimmed and inner runs collapsed when canonicalised */
};

struct eic_sigv4_request {
    const char *method;   /* "POST" */
    const char *path;     /* the request path as sent on the wire (percent-encoded), e.g. "/" */
    const char *query;    /* raw query string without '?', "" or NULL for none */
    const struct eic_sigv4_header *headers; /* exactly the headers to sign (must include host and x-amz-date) */
    size_t n_headers;
    const void *body;
    size_t body_len;
    bool date_in_query;   /* presigned: X-Amz-Date is a (signed) query parameter, not a header */
};

struct eic_sigv4_scope {
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ"; the scope date is its first 8 characters */
    const char *region;
    const char *service;
};

/* The canonical request (malloc'd, for tests and debugging). */
int eic_sigv4_canonical_request(const struct eic_sigv4_request *req, char **out);
/* The string to sign (malloc'd). */
int eic_sigv4_string_to_sign(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                             char **out);
/* Lower-case hex signature into signature_hex[65]. */
int eic_sigv4_signature(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                        const char *secret_access_key, char signature_hex[65]);
/* The full Authorization header value (malloc'd):
 * "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ec2-instance-connect/aws4_request,
 *  SignedHeaders=host;x-amz-date, Signature=<hex>" */
int eic_sigv4_authorization(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                            const char *access_key_id, const char *secret_access_key, char **out);

/* A parsed Authorization header (all strings point into storage owned by the struct). */
struct eic_sigv4_auth {
    char *storage;
    const char *access_key_id;
    const char *date;     /* YYYYMMDD */
    const char *region;
    const char *service;
    const char *signed_headers; /* "host;x-amz-date;..." as sent */
    const char *signature;      /* hex as sent */
};

/* Parse an Authorization header value. Returns 0, or EBADMSG when it is not a well-formed
 * AWS4-HMAC-SHA256 header (wrong algorithm, missing part, scope not ending in aws4_request,
 * signed header names not lower-case and sorted, signature not 64 lower-case hex digits). */
int eic_sigv4_parse_authorization(const char *value, struct eic_sigv4_auth *out);
void eic_sigv4_auth_free(struct eic_sigv4_auth *auth);

/* Format t (UTC) as an X-Amz-Date value into out[17]. */
void eic_sigv4_format_amz_date(long long unix_time, char out[EIC_SIGV4_AMZ_DATE_LEN + 1]);
/* Parse an X-Amz-Date value; returns 0 and *unix_time, or EBADMSG. */
int eic_sigv4_parse_amz_date(const char *value, long long *unix_time);

/* ---- Query-string signing (presigned URLs), as botocore's SigV4QueryAuth ----
 * The authentication parameters go into the query after the operation's own ones:
 *   X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2FDATE%2FREGION%2FSERVICE%2Faws4_request
 *   &X-Amz-Date=...&X-Amz-Expires=N&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
 * and the canonical request is made over that query (X-Amz-Signature excluded), the host header
 * only and the empty body's hash; then &X-Amz-Signature=<hex> is appended. */
struct eic_sigv4_presign {
    const char *method;            /* "GET" */
    const char *host;              /* the Host header value: host[:port] */
    const char *path;              /* as sent, e.g. "/openTunnel" */
    const char *query;             /* the operation's parameters, already encoded, or NULL */
    long expires;                  /* seconds, 1..604800 */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;     /* NULL: none */
};

/* The full query string (malloc'd, without '?'). Returns 0, EINVAL or ENOMEM. */
int eic_sigv4_presign_query(const struct eic_sigv4_presign *p, const struct eic_sigv4_scope *scope, char **out);

/* The authentication parameters of a presigned request's query. */
struct eic_sigv4_presigned {
    struct eic_sigv4_auth auth;    /* access key, scope, signed headers and signature */
    char *amz_date;
    char *security_token;          /* NULL when absent */
    long expires;
    char *unsigned_query;          /* the query without X-Amz-Signature: what was signed */
    char *owned[4];                /* storage of the decoded values */
};

/* Parse query's X-Amz-* parameters. Returns 0, ENOENT (no X-Amz-Signature: not presigned),
 * EBADMSG (a parameter missing, repeated or malformed: algorithm other than AWS4-HMAC-SHA256,
 * bad credential scope, signed headers not lower-case and sorted, signature not 64 lower-case
 * hex digits, expires not 1..604800) or ENOMEM. */
int eic_sigv4_parse_presigned(const char *query, struct eic_sigv4_presigned *out);
void eic_sigv4_presigned_free(struct eic_sigv4_presigned *p);

/* The decoded value of the query parameter name (malloc'd). Returns 0, ENOENT (absent), EBADMSG
 * (given twice, or a bad %-escape) or ENOMEM. */
int eic_sigv4_query_get(const char *query, const char *name, char **value);

#endif
