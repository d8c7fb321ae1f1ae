/* The SSO token cache (cred_sso_token.h): load it, decide whether to renew, renew at sso-oidc,
 * save. botocore 1.29's SSOTokenProvider._refresher:
 *   - only sso-session profiles renew (legacy sso_start_url profiles read the cache only);
 *   - renew when less than 15 minutes remain (_REFRESH_WINDOW), with refreshToken, clientId,
 *     clientSecret and registrationExpiresAt cached and the registration not expired;
 *   - CreateToken, sso-oidc's REST-JSON operation, unsigned:
 *       POST /token  {"clientId", "clientSecret", "grantType": "refresh_token", "refreshToken"}
 *     answered {"accessToken", "expiresIn", "tokenType", "refreshToken"?, "idToken"?}, or an
 *     error (400 InvalidGrantException, 401 InvalidClientException, ...) named by
 *     x-amzn-ErrorType with {"error", "error_description"};
 *   - the renewed document (cred_sso_token.h) is written back to the same cache file;
 *   - a renewal that fails keeps the cached token; an expired token is then an error.
 * botocore keeps the cached token only when sso-oidc answered an error (ClientError) and fails
 * on a connection error even while the token is valid; eic keeps it on any failure: the token
 * still works, and a network blip at sso-oidc should not stop the run. */
#include "cred_sso_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cred_source.h"
#include "credentials.h"
#include "eic_codec.h"
#include "eic_json.h"
#include "eic_log.h"
#include "eic_util.h"
#include "endpoints.h"
#include "http.h"

#define MAX_TOKEN_FILE (64 * 1024)
#define MAX_ANSWER (64 * 1024)
#define REFRESH_WINDOW (15 * 60)
/* A bound on expiresIn, so that now + expiresIn cannot overflow: ten years. */
#define MAX_EXPIRES_IN (10LL * 366 * 24 * 3600)

/* Whether s can go into a header line as it is. */
static bool header_safe(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < 0x21 || *s > 0x7e) {
            return false;
        }
    }
    return true;
}

/* expiresAt: ISO 8601, or the "2019-11-14T04:05:45UTC" of older AWS CLI v2 releases. */
static int parse_expires(const char *text, time_t *out)
{
    size_t len = strlen(text);
    char copy[64];

    if (len > 3 && len < sizeof(copy) && strcmp(text + len - 3, "UTC") == 0) {
        snprintf(copy, sizeof(copy), "%.*sZ", (int)(len - 3), text);
        return eic_cred_parse_time(copy, out);
    }
    return eic_cred_parse_time(text, out);
}

/* A copy of obj's string member key into *out (left NULL when absent or not a string). */
static int copy_member(json_object *obj, const char *key, char **out)
{
    const char *value = eic_json_get_string(obj, key);

    *out = NULL;
    if (value == NULL) {
        return 0;
    }
    *out = strdup(value);
    return *out ? 0 : ENOMEM;
}

/* json_object_put(doc), its string members wiped first when it is an object. */
static void put_json(json_object *doc)
{
    if (doc != NULL && json_object_is_type(doc, json_type_object)) {
        eic_cred_json_free(doc);
    } else {
        json_object_put(doc);
    }
}

void eic_sso_token_free(struct eic_sso_token *t)
{
    eic_cred_free_secret(t->access_token);
    eic_cred_free_secret(t->refresh_token);
    free(t->client_id);
    eic_cred_free_secret(t->client_secret);
    free(t->registration_expires_at);
    memset(t, 0, sizeof(*t));
}

int eic_sso_token_parse(const char *text, size_t len, struct eic_sso_token *out)
{
    json_object *doc = NULL;
    const char *expires;
    int ret;

    memset(out, 0, sizeof(*out));
    ret = eic_json_parse(text, len, MAX_TOKEN_FILE, &doc);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0 || !json_object_is_type(doc, json_type_object)) {
        ret = EINVAL;
        goto done;
    }
    expires = eic_json_get_string(doc, "expiresAt");
    ret = copy_member(doc, "accessToken", &out->access_token);
    ret = ret ? ret : copy_member(doc, "refreshToken", &out->refresh_token);
    ret = ret ? ret : copy_member(doc, "clientId", &out->client_id);
    ret = ret ? ret : copy_member(doc, "clientSecret", &out->client_secret);
    ret = ret ? ret : copy_member(doc, "registrationExpiresAt", &out->registration_expires_at);
    if (ret != 0) {
        goto done;
    }
    /* The token goes into a header line: nothing that could end it. */
    if (out->access_token == NULL || out->access_token[0] == '\0' || !header_safe(out->access_token) ||
        expires == NULL || parse_expires(expires, &out->expires_at) != 0) {
        ret = EINVAL;
    }
done:
    put_json(doc);
    if (ret != 0) {
        eic_sso_token_free(out);
    }
    return ret;
}

const char *eic_sso_token_unrenewable(const struct eic_sso_token *t, time_t now)
{
    time_t registration;

    if (t->refresh_token == NULL || t->client_id == NULL || t->client_secret == NULL ||
        t->registration_expires_at == NULL) {
        return "the cache has no refreshToken, clientId, clientSecret and registrationExpiresAt";
    }
    if (parse_expires(t->registration_expires_at, &registration) != 0) {
        return "its registrationExpiresAt is not a time";
    }
    if (registration <= now) {
        return "the client registration has expired";
    }
    return NULL;
}

int eic_sso_token_renewed(const char *body, size_t len, time_t now, struct eic_sso_token *t)
{
    json_object *doc = NULL, *v;
    char *access = NULL, *refresh = NULL;
    int64_t expires_in = 0;
    int ret;

    ret = eic_json_parse(body, len, MAX_ANSWER, &doc);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0 || !json_object_is_type(doc, json_type_object)) {
        ret = EINVAL;
        goto done;
    }
    if (json_object_object_get_ex(doc, "expiresIn", &v) && json_object_is_type(v, json_type_int)) {
        expires_in = json_object_get_int64(v);
    }
    ret = copy_member(doc, "accessToken", &access);
    ret = ret ? ret : copy_member(doc, "refreshToken", &refresh);
    if (ret != 0) {
        goto done;
    }
    if (access == NULL || access[0] == '\0' || !header_safe(access) || expires_in <= 0 ||
        expires_in > MAX_EXPIRES_IN || (json_object_object_get_ex(doc, "refreshToken", &v) && refresh == NULL)) {
        ret = EINVAL;
        goto done;
    }
    eic_cred_free_secret(t->access_token);
    t->access_token = access;
    access = NULL;
    t->expires_at = now + (time_t)expires_in;
    if (refresh != NULL) {
        eic_cred_free_secret(t->refresh_token);
        t->refresh_token = refresh;
        refresh = NULL;
    }
done:
    eic_cred_free_secret(access);
    eic_cred_free_secret(refresh);
    put_json(doc);
    return ret;
}

/* Add the string member key = value to obj (value NULL: nothing). */
static int add_string(json_object *obj, const char *key, const char *value)
{
    json_object *v;

    if (value == NULL) {
        return 0;
    }
    v = json_object_new_string(value);
    if (v == NULL || json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return ENOMEM;
    }
    return 0;
}

int eic_sso_token_compose(const char *start_url, const char *region, const struct eic_sso_token *t, char **text,
                          size_t *len)
{
    json_object *doc = NULL;
    const char *out;
    char expires[32];
    struct tm tm;
    int ret = ENOMEM;

    *text = NULL;
    *len = 0;
    if (t->client_id == NULL || t->client_secret == NULL || t->registration_expires_at == NULL ||
        gmtime_r(&t->expires_at, &tm) == NULL || strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        return EINVAL;
    }
    doc = json_object_new_object();
    if (doc == NULL || add_string(doc, "startUrl", start_url) != 0 || add_string(doc, "region", region) != 0 ||
        add_string(doc, "accessToken", t->access_token) != 0 || add_string(doc, "expiresAt", expires) != 0 ||
        add_string(doc, "clientId", t->client_id) != 0 || add_string(doc, "clientSecret", t->client_secret) != 0 ||
        add_string(doc, "registrationExpiresAt", t->registration_expires_at) != 0 ||
        add_string(doc, "refreshToken", t->refresh_token) != 0) {
        goto done;
    }
    out = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (out == NULL) {
        goto done;
    }
    *len = strlen(out);
    *text = strdup(out);
    OPENSSL_cleanse((char *)out, *len); /* json-c's buffer holds the secrets */
    ret = *text ? 0 : ENOMEM;
done:
    put_json(doc);
    if (ret != 0) {
        *len = 0;
    }
    return ret;
}

/* ~/.aws/sso/cache/<hex SHA-1 of name>.json (malloc'd), or NULL. */
static char *cache_path(const char *name)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    char *rel = NULL, *path;

    if (EVP_Digest(name, strlen(name), digest, &digest_len, EVP_sha1(), NULL) != 1) {
        return NULL;
    }
    eic_hex_encode(digest, digest_len, hex, false);
    if (asprintf(&rel, ".aws/sso/cache/%s.json", hex) < 0) {
        return NULL;
    }
    path = eic_cred_home_path(rel);
    free(rel);
    return path;
}

/* Replace the cache file at path with text[0..len). botocore opens it and truncates it in place:
 * a crash or a full disk midway leaves a cut document (and the user to run `aws sso login`
 * again). Here a new file beside it, written fully and synced, is renamed over it: readers see
 * the old document or the new one. The new file is created O_EXCL|O_NOFOLLOW under a random
 * name, so nothing planted in the directory (a symlink at that name) is followed. A cache file
 * that is not a regular file (a symlink) is left as it is: writing through it would put the
 * secrets wherever it points, and replacing it would undo what its owner set up. Returns 0 or an
 * errno value with why[] saying what failed (the temporary file removed). */
static int save(const char *path, const char *text, size_t len, char *why, size_t why_len)
{
    unsigned char rnd[8];
    char suffix[2 * sizeof(rnd) + 1];
    const char *step = "lstat";
    char *tmp = NULL;
    struct stat st;
    int fd = -1;
    int ret = 0;

    if (lstat(path, &st) != 0) {
        ret = errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s, left as it is", S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
        return EEXIST;
    }
    step = "random name";
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ret = EIO;
        goto done;
    }
    eic_hex_encode(rnd, sizeof(rnd), suffix, false);
    if (asprintf(&tmp, "%s.%s.tmp", path, suffix) < 0) {
        tmp = NULL;
        ret = ENOMEM;
        goto done;
    }
    step = "create";
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = errno;
        goto done;
    }
    /* Run by another user on this one's cache (root with the user's HOME): the file stays theirs,
     * as botocore's write in place leaves it, or `aws` could no longer read it. */
    step = "fchown";
    if (st.st_uid != geteuid() && fchown(fd, st.st_uid, st.st_gid) != 0) {
        ret = errno;
    }
    if (ret == 0) {
        step = "write";
        ret = eic_write_all(fd, text, len);
    }
    if (ret == 0) {
        step = "fsync";
        ret = fsync(fd) == 0 ? 0 : errno;
    }
    if (close(fd) != 0 && ret == 0) {
        step = "close";
        ret = errno;
    }
    if (ret == 0) {
        step = "rename";
        ret = rename(tmp, path) == 0 ? 0 : errno;
    }
    if (ret != 0) {
        unlink(tmp);
    }
done:
    if (ret != 0) {
        snprintf(why, why_len, "%s: %s", step, strerror(ret));
    }
    free(tmp);
    return ret;
}

/* CreateToken with t's refresh token; t renewed on success. Returns 0, ENOMEM, or another errno
 * value when there is no new token (the --debug line says why). */
static int create_token(const struct eic_sso_session *s, struct eic_sso_token *t, time_t now)
{
    static const char *const header = "Content-Type: application/json";
    struct eic_http_request req = {0};
    struct eic_http_response resp;
    json_object *body = NULL, *answer = NULL;
    const char *body_text;
    char *payload = NULL, *bundle = NULL;
    size_t payload_len = 0;
    char why[512];
    CURLU *url = NULL;
    int ret;

    memset(&resp, 0, sizeof(resp));
    why[0] = '\0';
    ret = eic_sso_service_url(EIC_SERVICE_SSO_OIDC, "SSO OIDC", s->region, s->profile, "token", NULL, &url, why,
                              sizeof(why));
    if (ret == EINVAL) {
        eic_log(LOG_DEBUG, "credentials: SSO token not renewed: %s", why);
    }
    if (ret == 0) {
        ret = eic_ca_bundle_resolve(NULL, s->profile, &bundle);
        if (ret != 0) {
            eic_log(LOG_DEBUG, "credentials: SSO token not renewed: no CA bundle: %s", strerror(ret));
        }
    }
    if (ret != 0) {
        goto done;
    }
    /* The members in the order botocore serializes CreateTokenRequest's. */
    ret = ENOMEM;
    body = json_object_new_object();
    if (body == NULL || add_string(body, "clientId", t->client_id) != 0 ||
        add_string(body, "clientSecret", t->client_secret) != 0 ||
        add_string(body, "grantType", "refresh_token") != 0 ||
        add_string(body, "refreshToken", t->refresh_token) != 0) {
        goto done;
    }
    body_text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (body_text == NULL) {
        goto done;
    }
    payload_len = strlen(body_text);
    payload = strdup(body_text);
    OPENSSL_cleanse((char *)body_text, payload_len);
    if (payload == NULL) {
        goto done;
    }
    req.url = url;
    req.headers = &header;
    req.n_headers = 1;
    req.body = payload;
    req.body_len = payload_len;
    req.connect_timeout_ms = 10000;
    req.timeout_ms = 30000;
    req.max_response = MAX_ANSWER;
    req.ca_bundle = bundle;
    eic_log(LOG_DEBUG, "credentials: SSO token expires in %lld s: renewing it with SSO OIDC CreateToken (grant "
            "refresh_token) for sso-session %s", (long long)(t->expires_at - now), s->session);
    ret = eic_http_post(&req, &resp);
    if (ret != 0) {
        eic_log(LOG_DEBUG, "credentials: SSO token renewal failed: %s", resp.error);
        goto done;
    }
    if (resp.status != 200) {
        const char *description, *name;
        char type[64];

        /* The error's name: x-amzn-ErrorType before any ':', else the body's "error" member. */
        ret = eic_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, MAX_ANSWER, &answer);
        if (ret == ENOMEM) {
            goto done;
        }
        description = eic_json_get_string(answer, "error_description");
        name = resp.error_type ? resp.error_type : eic_json_get_string(answer, "error");
        snprintf(type, sizeof(type), "%s", name ? name : "HTTP error");
        type[strcspn(type, ":")] = '\0';
        eic_log(LOG_DEBUG, "credentials: SSO token renewal refused: HTTP %ld, %s: %.200s", resp.status, type,
                description ? description : "");
        ret = EACCES;
        goto done;
    }
    ret = eic_sso_token_renewed(resp.body.data ? resp.body.data : "", resp.body.len, now, t);
    if (ret == EINVAL) {
        eic_log(LOG_DEBUG, "credentials: SSO token renewal: the answer has no usable accessToken and expiresIn");
    }
done:
    eic_http_response_free(&resp); /* wipes the body (eic_buf_free) */
    put_json(answer);
    put_json(body);
    eic_cred_free_secret(payload);
    curl_url_cleanup(url);
    free(bundle);
    return ret;
}

/* Renew t (the cache at path) when botocore would: 0 whether or not it was renewed (the reason in
 * a --debug line), or ENOMEM. */
static int maybe_renew(const struct eic_sso_session *s, const char *path, struct eic_sso_token *t, time_t now)
{
    const char *why = s->session ? eic_sso_token_unrenewable(t, now) : "a legacy (sso_start_url) profile";
    char *text = NULL, failure[128];
    size_t len = 0;
    int ret;

    if (why != NULL) {
        eic_log(LOG_DEBUG, "credentials: SSO token expires in %lld s and cannot be renewed: %s",
                (long long)(t->expires_at - now), why);
        return 0;
    }
    ret = create_token(s, t, now);
    if (ret != 0) {
        return ret == ENOMEM ? ENOMEM : 0;
    }
    eic_log(LOG_DEBUG, "credentials: SSO token renewed with sso-oidc CreateToken, valid for %lld s",
            (long long)(t->expires_at - now));
    ret = eic_sso_token_compose(s->start_url, s->region, t, &text, &len);
    if (ret == 0) {
        ret = save(path, text, len, failure, sizeof(failure));
        if (ret != 0) {
            eic_log(LOG_WARNING, "the renewed SSO token is used but not saved: %s: %s", path, failure);
        }
    }
    if (text != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    return ret == ENOMEM ? ENOMEM : 0;
}

int eic_sso_token_get(const struct eic_sso_session *s, char **token, char *err, size_t err_len)
{
    const char *name = s->session ? s->session : s->start_url;
    struct eic_sso_token t = {0};
    char *path = cache_path(name), *text = NULL;
    size_t text_len = 0;
    time_t now = time(NULL);
    int ret;

    *token = NULL;
    if (path == NULL) {
        return ENOMEM;
    }
    ret = eic_read_file(path, 0, MAX_TOKEN_FILE, &text, &text_len);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0) {
        eic_log(LOG_DEBUG, "credentials: SSO token cache %s: %s", path, strerror(ret));
        snprintf(err, err_len, "Error loading SSO Token: Token for %.200s does not exist. " EIC_SSO_LOGIN_HINT, name,
                 s->profile);
        ret = EACCES;
        goto done;
    }
    ret = eic_sso_token_parse(text, text_len, &t);
    if (ret == EINVAL) {
        snprintf(err, err_len, "Error loading SSO Token: Token for %.200s is invalid. " EIC_SSO_LOGIN_HINT,
                 s->start_url, s->profile);
    }
    if (ret != 0) {
        goto done;
    }
    if (t.expires_at - now < REFRESH_WINDOW) {
        ret = maybe_renew(s, path, &t, now);
        if (ret != 0) {
            goto done;
        }
    }
    if (t.expires_at <= now) {
        snprintf(err, err_len, "Error when retrieving token from sso: Token has expired and refresh failed. "
                 EIC_SSO_LOGIN_HINT, s->profile);
        ret = EACCES;
        goto done;
    }
    *token = strdup(t.access_token);
    ret = *token ? 0 : ENOMEM;
done:
    eic_sso_token_free(&t);
    if (text != NULL) {
        OPENSSL_cleanse(text, text_len);
        free(text);
    }
    free(path);
    return ret;
}
