/* The SSO token cache of `aws sso login` and its renewal, as botocore 1.29's SSOTokenProvider
 * (tokens.py) and SSOTokenLoader (utils.py) do it. cred_sso_token.c owns the cache file,
 * cred_sso.c the portal.
 *
 * ~/.aws/sso/cache/<lower-case hex SHA-1 of the sso-session NAME, or of the start URL for legacy
 * profiles>.json:
 *   {"startUrl", "region", "accessToken", "expiresAt": "2026-01-01T00:00:00Z",
 *    "clientId", "clientSecret", "registrationExpiresAt", "refreshToken"}
 * (accessToken and expiresAt required; the rest is what a renewal needs). */
#ifndef EIC_CLIENT_CRED_SSO_TOKEN_H
#define EIC_CLIENT_CRED_SSO_TOKEN_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

#define EIC_SSO_LOGIN_HINT "To refresh this SSO session run: aws sso login --profile %s"

/* One cache document (strings malloc'd; the secrets are wiped when freed). */
struct eic_sso_token {
    char *access_token;            /* secret */
    time_t expires_at;
    char *refresh_token;           /* secret; NULL: absent */
    char *client_id;               /* NULL: absent */
    char *client_secret;           /* secret; NULL: absent */
    char *registration_expires_at; /* as cached (written back as it was); NULL: absent */
};

/* The cache document text[0..len). Returns 0, EINVAL (not JSON, or no usable accessToken or
 * expiresAt: the token "is invalid") or ENOMEM. Members of a wrong type count as absent. */
int eic_sso_token_parse(const char *text, size_t len, struct eic_sso_token *out);

/* Why t cannot be renewed at now (a static string for --debug), or NULL when it can: botocore's
 * _refresh_access_token wants the four registration members and a registration not expired. */
const char *eic_sso_token_unrenewable(const struct eic_sso_token *t, time_t now);

/* A CreateToken answer body (status 200) applied to t at now: accessToken, expiresAt = now +
 * expiresIn, refreshToken when the answer has one. Returns 0, EINVAL (t unchanged) or ENOMEM. */
int eic_sso_token_renewed(const char *body, size_t len, time_t now, struct eic_sso_token *t);

/* The document botocore writes after a renewal, its keys in botocore's order: startUrl, region,
 * accessToken, expiresAt (%Y-%m-%dT%H:%M:%SZ), clientId, clientSecret, registrationExpiresAt,
 * refreshToken (when t has one). *text is malloc'd and holds secrets (wipe it). Returns 0,
 * EINVAL (t lacks a registration member) or ENOMEM. */
int eic_sso_token_compose(const char *start_url, const char *region, const struct eic_sso_token *t, char **text,
                          size_t *len);

void eic_sso_token_free(struct eic_sso_token *t);

/* What the token source needs of an SSO profile. */
struct eic_sso_session {
    const char *profile;   /* for messages ("aws sso login --profile P") */
    const char *session;   /* the sso-session's name; NULL: a legacy profile (never renewed) */
    const char *start_url;
    const char *region;    /* sso_region: the sso-oidc region */
};

/* The access token to call the portal with (malloc'd, secret): the cached one, renewed first
 * with sso-oidc CreateToken when it is an sso-session's and expires within 15 minutes. A renewal
 * that fails keeps the cached token while it is valid. Returns 0, EACCES or EINVAL with err set
 * (botocore's words), ENOMEM. */
int eic_sso_token_get(const struct eic_sso_session *s, char **token, char *err, size_t err_len);

/* The URL of an unsigned REST-JSON operation of service (EIC_SERVICE_SSO, _SSO_OIDC) in region
 * (endpoints.h's resolution): the endpoint's path joined with op_path by one '/', then query
 * (NULL: none). label names the service in --debug lines and in err. Defined in cred_sso.c. */
int eic_sso_service_url(const char *service, const char *label, const char *region, const char *profile,
                        const char *op_path, const char *query, CURLU **out, char *err, size_t err_len);

#endif
