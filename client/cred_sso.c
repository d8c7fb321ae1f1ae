/* IAM Identity Center (SSO) profiles: botocore's SSOProvider and SSOCredentialFetcher (METHOD
 * "sso"), as in botocore 1.29's credentials.py, utils.py (SSOTokenLoader) and tokens.py.
 *
 * A profile is an SSO profile when it has sso_role_name or sso_account_id. Its sso_start_url
 * and sso_region come from the profile (legacy), or from the config file's
 * "[sso-session NAME]" section that its sso_session names (a value also in the profile must be
 * the same). The access token is the one `aws sso login` cached (cred_sso_token.c: the cache,
 * and the renewal of an sso-session's token with its refresh token at sso-oidc CreateToken when
 * it expires within 15 minutes). Then the portal's GetRoleCredentials, unsigned:
 *   GET /federation/credentials?role_name=ROLE&account_id=ACCOUNT
 *   x-amz-sso_bearer_token: TOKEN
 * answered {"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken",
 * "expiration": <Unix time in milliseconds>}}, or an error named by x-amzn-ErrorType (401
 * UnauthorizedException: the token is not, or no longer, valid).
 * Endpoint: endpoints.h's for "sso" in sso_region (AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL, the
 * profile's services section or endpoint_url, else the rule set's portal.sso[-fips].SSO_REGION.
 * in the region's partition), as cred_sts.c picks STS's. */
#include "cred_source.h"
#include "cred_sso_token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "eic_log.h"
#include "endpoints.h"
#include "http.h"

#define METHOD "sso"
#define MAX_ANSWER (64 * 1024)

/* What one SSO profile resolves to (all malloc'd). */
struct sso_config {
    char *role_name;
    char *account_id;
    char *session;   /* NULL: a legacy profile */
    char *start_url;
    char *region;
};

static void sso_config_free(struct sso_config *c)
{
    free(c->role_name);
    free(c->account_id);
    free(c->session);
    free(c->start_url);
    free(c->region);
}

static int get(const char *profile, const char *key, char **value)
{
    int ret = eic_profile_get(profile, key, value);

    return ret == ENOENT ? 0 : ret;
}

/* The profile's sso_start_url and sso_region from its [sso-session NAME] section; a value the
 * profile has too must be the same (botocore's _resolve_sso_session_reference). */
static int from_session(struct sso_config *c, char *err, size_t err_len)
{
    static const char *const keys[] = {"sso_start_url", "sso_region"};
    char **slots[] = {&c->start_url, &c->region};
    char *path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
    int ret = path ? 0 : ENOMEM;

    for (size_t i = 0; ret == 0 && i < 2; i++) {
        char *value = NULL;

        ret = eic_ini_get(path, c->session, EIC_INI_SSO_SESSION, keys[i], &value);
        if (ret == ESRCH) {
            snprintf(err, err_len, "The specified sso-session does not exist: \"%s\"", c->session);
            ret = EINVAL;
        } else if (ret == 0 && *slots[i] != NULL && strcmp(*slots[i], value) != 0) {
            snprintf(err, err_len, "The value for %s is inconsistent between profile (%.200s) and sso-session "
                     "(%.200s).", keys[i], *slots[i], value);
            ret = EINVAL;
        } else if (ret == 0) {
            free(*slots[i]);
            *slots[i] = value;
            value = NULL;
        } else if (ret != ENOMEM) {
            ret = 0; /* not in the section (or no config file): reported as missing below */
        }
        free(value);
    }
    free(path);
    return ret;
}

/* ENOENT when the profile is no SSO profile; EINVAL (err set) when it is one with settings
 * missing or contradicting each other. */
static int load_config(const char *profile, struct sso_config *c, char *err, size_t err_len)
{
    const char *names[] = {"sso_role_name", "sso_account_id", "sso_start_url", "sso_region"};
    char missing[128] = "";
    int ret;

    memset(c, 0, sizeof(*c));
    ret = get(profile, "sso_role_name", &c->role_name);
    ret = ret ? ret : get(profile, "sso_account_id", &c->account_id);
    if (ret == 0 && c->role_name == NULL && c->account_id == NULL) {
        return ENOENT;
    }
    ret = ret ? ret : get(profile, "sso_session", &c->session);
    ret = ret ? ret : get(profile, "sso_start_url", &c->start_url);
    ret = ret ? ret : get(profile, "sso_region", &c->region);
    if (ret == 0 && c->session != NULL) {
        ret = from_session(c, err, err_len);
    }
    if (ret != 0) {
        return ret;
    }
    {
        const char *values[] = {c->role_name, c->account_id, c->start_url, c->region};

        for (size_t i = 0; i < 4; i++) {
            if (values[i] == NULL) {
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
                         missing[0] ? ", " : "", names[i]);
            }
        }
    }
    if (missing[0] != '\0') {
        snprintf(err, err_len, "The profile \"%s\" is configured to use SSO but is missing required "
                 "configuration: %s", profile, missing);
        return EINVAL;
    }
    /* The region becomes part of a host name. */
    if (!eic_region_name_ok(c->region)) {
        snprintf(err, err_len, "The profile \"%s\": sso_region '%.64s' is not a region name", profile, c->region);
        return EINVAL;
    }
    return 0;
}

int eic_sso_service_url(const char *service, const char *label, const char *region, const char *profile,
                        const char *op_path, const char *query, CURLU **out, char *err, size_t err_len)
{
    const char *source = NULL;
    char *base = NULL, *scheme = NULL, *host = NULL, *path = NULL, *base_query = NULL, *full_path = NULL;
    char why[256];
    CURLU *u = curl_url();
    size_t path_len;
    int ret;

    *out = NULL;
    ret = eic_endpoint_resolve(service, region, profile, NULL, &base, &source, why, sizeof(why));
    if (ret == EINVAL) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": %s", why);
    }
    if (ret != 0) {
        goto done;
    }
    eic_log(LOG_DEBUG, "credentials: %s %s (from %s)", label, base, source);
    ret = ENOMEM;
    if (u == NULL) {
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
        curl_url_get(u, CURLUPART_QUERY, &base_query, 0) != CURLUE_NO_QUERY ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": bad %s endpoint %.200s", label,
                 base);
        ret = EINVAL;
        goto done;
    }
    /* botocore joins the endpoint's path and the operation's with one '/'. */
    path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/') {
        path_len--;
    }
    if (asprintf(&full_path, "%.*s/%s", (int)path_len, path, op_path) < 0) {
        full_path = NULL;
        goto done;
    }
    if (curl_url_set(u, CURLUPART_PATH, full_path, 0) != CURLUE_OK ||
        (query != NULL && curl_url_set(u, CURLUPART_QUERY, query, 0) != CURLUE_OK)) {
        goto done;
    }
    *out = u;
    u = NULL;
    ret = 0;
done:
    curl_url_cleanup(u);
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(base_query);
    free(base);
    free(full_path);
    return ret;
}

/* The GetRoleCredentials URL for c. */
static int portal_url(const char *profile, const struct sso_config *c, CURLU **out, char *err, size_t err_len)
{
    char *role = curl_easy_escape(NULL, c->role_name, 0);
    char *account = curl_easy_escape(NULL, c->account_id, 0);
    char *params = NULL;
    int ret = ENOMEM;

    *out = NULL;
    if (role == NULL || account == NULL || asprintf(&params, "role_name=%s&account_id=%s", role, account) < 0) {
        params = NULL;
        goto done;
    }
    ret = eic_sso_service_url(EIC_SERVICE_SSO, "SSO portal", c->region, profile, "federation/credentials", params,
                              out, err, err_len);
done:
    curl_free(role);
    curl_free(account);
    free(params);
    return ret;
}

/* Credentials from the portal's answer (status 200), or the error it carries. */
static int parse_answer(const char *profile, const struct eic_http_response *resp, struct eic_credentials *out,
                        char *err, size_t err_len)
{
    json_object *doc = json_tokener_parse(resp->body.data ? resp->body.data : "");
    json_object *rc = NULL, *v;
    const char *members[] = {"accessKeyId", "secretAccessKey", "sessionToken"};
    const char *values[3] = {NULL, NULL, NULL};
    int64_t expiration_ms = 0;
    int ret = EINVAL;

    if (resp->status == 401) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": The SSO session associated with "
                 "this profile has expired or is otherwise invalid. " EIC_SSO_LOGIN_HINT, profile);
        ret = EACCES;
        goto done;
    }
    if (resp->status != 200) {
        const char *message = NULL;
        char type[64];

        /* "UnauthorizedException:http://internal.amazon.com/..." names the error before the ':'. */
        snprintf(type, sizeof(type), "%s", resp->error_type ? resp->error_type : "HTTP error");
        type[strcspn(type, ":")] = '\0';
        if (doc != NULL && (json_object_object_get_ex(doc, "message", &v) ||
                            json_object_object_get_ex(doc, "Message", &v))) {
            message = json_object_get_string(v);
        }
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": An error occurred (%s) when "
                 "calling the GetRoleCredentials operation: %.300s", type, message ? message : "");
        ret = EACCES;
        goto done;
    }
    if (doc != NULL && json_object_object_get_ex(doc, "roleCredentials", &rc) &&
        json_object_is_type(rc, json_type_object)) {
        for (size_t i = 0; i < 3; i++) {
            if (json_object_object_get_ex(rc, members[i], &v) && json_object_is_type(v, json_type_string) &&
                json_object_get_string_len(v) > 0) {
                values[i] = json_object_get_string(v);
            }
        }
        if (json_object_object_get_ex(rc, "expiration", &v) && json_object_is_type(v, json_type_int)) {
            expiration_ms = json_object_get_int64(v);
        }
    }
    if (values[0] == NULL || values[1] == NULL || values[2] == NULL || expiration_ms <= 0) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": the portal's answer has no usable "
                 "roleCredentials");
        goto done;
    }
    ret = eic_cred_set(out, values[0], values[1], values[2], (time_t)(expiration_ms / 1000), METHOD);
done:
    if (rc != NULL) {
        eic_cred_json_free(json_object_get(rc)); /* wipes the secrets; doc keeps its reference */
    }
    json_object_put(doc);
    return ret;
}

int eic_cred_sso(const char *profile, struct eic_credentials *out, char *err, size_t err_len)
{
    struct sso_config c;
    struct eic_http_request req = {0};
    struct eic_http_response resp;
    char *token = NULL, *header = NULL, *bundle = NULL;
    CURLU *url = NULL;
    int ret;

    memset(&resp, 0, sizeof(resp));
    ret = load_config(profile, &c, err, err_len);
    if (ret == 0) {
        struct eic_sso_session s = {profile, c.session, c.start_url, c.region};

        ret = eic_sso_token_get(&s, &token, err, err_len);
    }
    if (ret == 0) {
        ret = portal_url(profile, &c, &url, err, err_len);
    }
    if (ret == 0) {
        ret = eic_ca_bundle_resolve(NULL, profile, &bundle);
    }
    if (ret != 0) {
        goto done;
    }
    if (asprintf(&header, "x-amz-sso_bearer_token: %s", token) < 0) {
        header = NULL;
        ret = ENOMEM;
        goto done;
    }
    req.method = "GET";
    req.url = url;
    req.headers = (const char *const *)&header;
    req.n_headers = 1;
    req.connect_timeout_ms = 10000;
    req.timeout_ms = 30000;
    req.max_response = MAX_ANSWER;
    req.ca_bundle = bundle;
    eic_log(LOG_DEBUG, "credentials: SSO GetRoleCredentials %s in %s (%s %s)", c.role_name, c.account_id,
            c.session ? "sso-session" : "start URL", c.session ? c.session : c.start_url);
    ret = eic_http_post(&req, &resp);
    if (ret != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": %s", resp.error);
        goto done;
    }
    ret = parse_answer(profile, &resp, out, err, err_len);
done:
    eic_http_response_free(&resp); /* wipes the body (eic_buf_free) */
    curl_url_cleanup(url);
    eic_cred_free_secret(header);
    eic_cred_free_secret(token);
    sso_config_free(&c);
    free(bundle);
    return ret;
}
