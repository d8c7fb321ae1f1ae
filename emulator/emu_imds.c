#include "emu_imds.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "eic_codec.h"
#include "eic_log.h"
#include "eic_time.h"
#include "emu_creds.h"

#define TOKEN_BYTES 32
#define TOKEN_LEN 43 /* base64url of 32 bytes, unpadded */

#define MD "/latest/meta-data"
#define MSK MD "/managed-ssh-keys"
#define ACTIVE_KEYS MSK "/active-keys/"
#define SIGNER_OCSP MSK "/signer-ocsp/"
#define IDENTITY_DOC "/latest/dynamic/instance-identity/document"

struct emu_token {
    char token[TOKEN_LEN + 1];
    uint64_t expires_ms; /* CLOCK_MONOTONIC */
};

struct emu_tokens {
    pthread_mutex_t lock;
    struct emu_token *slots;
    size_t n;
};

int emu_tokens_new(struct emu_tokens **out)
{
    struct emu_tokens *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL) {
        return ENOMEM;
    }
    t->slots = calloc(EMU_IMDS_MAX_TOKENS, sizeof(*t->slots));
    if (t->slots == NULL) {
        free(t);
        return ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return 0;
}

void emu_tokens_free(struct emu_tokens *t)
{
    if (t == NULL) {
        return;
    }
    OPENSSL_cleanse(t->slots, EMU_IMDS_MAX_TOKENS * sizeof(*t->slots));
    free(t->slots);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int emu_tokens_issue(struct emu_tokens *t, long ttl, char out[64])
{
    unsigned char raw[TOKEN_BYTES];
    char *b64 = NULL;
    uint64_t now = eic_monotonic_ms();
    size_t keep = 0;
    size_t victim = 0;
    int ret;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return EIO;
    }
    ret = eic_base64_encode(raw, sizeof(raw), &b64);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (ret != 0) {
        return ret;
    }
    /* base64url (RFC 4648 section 5) without padding: the token travels in a header. */
    for (size_t i = 0; i < TOKEN_LEN; i++) {
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    }
    out[TOKEN_LEN] = '\0';
    OPENSSL_cleanse(b64, strlen(b64));
    free(b64);

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        if (t->slots[i].expires_ms > now) {
            t->slots[keep++] = t->slots[i];
        }
    }
    t->n = keep;
    if (t->n == EMU_IMDS_MAX_TOKENS) {
        /* Full of live tokens: the one closest to expiry makes room (bounded memory). */
        for (size_t i = 1; i < t->n; i++) {
            if (t->slots[i].expires_ms < t->slots[victim].expires_ms) {
                victim = i;
            }
        }
    } else {
        victim = t->n++;
    }
    memcpy(t->slots[victim].token, out, TOKEN_LEN + 1);
    t->slots[victim].expires_ms = now + (uint64_t)ttl * 1000u;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

bool emu_tokens_valid(struct emu_tokens *t, const char *token)
{
    uint64_t now = eic_monotonic_ms();
    bool found = false;

    if (strlen(token) != TOKEN_LEN) {
        return false;
    }
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        if (t->slots[i].expires_ms > now && CRYPTO_memcmp(t->slots[i].token, token, TOKEN_LEN) == 0) {
            found = true;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

bool emu_imds_path(const char *path)
{
    return strcmp(path, "/latest") == 0 || strncmp(path, "/latest/", 8) == 0;
}

/* Whether path names node, with or without one trailing slash. IMDS answers both forms for a
 * directory and for a leaf alike: AWS's eic_curl_authorized_keys GETs "instance-id/",
 * "placement/availability-zone/" and "services/domain/" with curl -f, and works on EC2. */
static bool is_node(const char *path, const char *node)
{
    size_t n = strlen(node);

    return strncmp(path, node, n) == 0 && (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
}

static int text_reply(struct emu_reply *reply, unsigned int status, const char *text)
{
    return emu_reply_set(reply, status, "text/plain", text, strlen(text));
}

/* X-aws-ec2-metadata-token-ttl-seconds: digits only, 1..21600. */
static bool parse_ttl(const char *value, long *ttl)
{
    long v = 0;

    if (value == NULL || *value == '\0' || strlen(value) > 5) {
        return false;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > EMU_IMDS_TOKEN_TTL_MAX) {
        return false;
    }
    *ttl = v;
    return true;
}

static int handle_token(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    char token[64];
    char ttl_text[16];
    long ttl;
    int ret;

    if (strcmp(req->method, "PUT") != 0) {
        ret = text_reply(reply, 405, "Method Not Allowed");
        if (ret == 0) {
            ret = emu_reply_header(reply, "Allow", "PUT");
        }
        return ret;
    }
    /* Real IMDS refuses token requests that went through a proxy (the header is how it
     * notices): a token must not leave the instance. */
    if (emu_request_header(req, "X-Forwarded-For") != NULL) {
        eic_log(LOG_NOTICE, "imds: token request with X-Forwarded-For refused");
        return text_reply(reply, 403, "Forbidden");
    }
    if (!parse_ttl(emu_request_header(req, "X-aws-ec2-metadata-token-ttl-seconds"), &ttl)) {
        eic_log(LOG_NOTICE, "imds: token request without a valid X-aws-ec2-metadata-token-ttl-seconds (1..%d)",
                EMU_IMDS_TOKEN_TTL_MAX);
        return text_reply(reply, 400, "Bad Request");
    }
    ret = emu_tokens_issue(srv->tokens, ttl, token);
    if (ret != 0) {
        return ret;
    }
    ret = text_reply(reply, 200, token);
    OPENSSL_cleanse(token, sizeof(token));
    if (ret == 0) {
        snprintf(ttl_text, sizeof(ttl_text), "%ld", ttl);
        ret = emu_reply_header(reply, "X-aws-ec2-metadata-token-ttl-seconds", ttl_text);
    }
    return ret;
}

static int identity_document(struct emu_server *srv, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    json_object *doc = json_object_new_object();
    char pending[32];
    struct tm tm;
    const char *text;
    int ret = ENOMEM;

    if (doc == NULL) {
        return ENOMEM;
    }
    gmtime_r(&srv->start_time, &tm);
    strftime(pending, sizeof(pending), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The members of the real document; the values eic does not care about are fixed. */
    if (json_object_object_add(doc, "accountId", json_object_new_string(w->account_id)) != 0 ||
        json_object_object_add(doc, "architecture", json_object_new_string("x86_64")) != 0 ||
        json_object_object_add(doc, "availabilityZone", json_object_new_string(w->availability_zone)) != 0 ||
        json_object_object_add(doc, "billingProducts", NULL) != 0 ||
        json_object_object_add(doc, "devpayProductCodes", NULL) != 0 ||
        json_object_object_add(doc, "marketplaceProductCodes", NULL) != 0 ||
        json_object_object_add(doc, "imageId", json_object_new_string("ami-0123456789abcdef0")) != 0 ||
        json_object_object_add(doc, "instanceId", json_object_new_string(w->instance_id)) != 0 ||
        json_object_object_add(doc, "instanceType", json_object_new_string("t3.micro")) != 0 ||
        json_object_object_add(doc, "kernelId", NULL) != 0 ||
        json_object_object_add(doc, "pendingTime", json_object_new_string(pending)) != 0 ||
        json_object_object_add(doc, "privateIp", json_object_new_string("172.31.16.10")) != 0 ||
        json_object_object_add(doc, "ramdiskId", NULL) != 0 ||
        json_object_object_add(doc, "region", json_object_new_string(w->region)) != 0 ||
        json_object_object_add(doc, "version", json_object_new_string("2017-09-30")) != 0) {
        goto done;
    }
    text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL) {
        goto done;
    }
    ret = emu_reply_set(reply, 200, "application/json", text, strlen(text));
done:
    json_object_put(doc);
    return ret;
}

static int active_keys(struct emu_server *srv, const char *rest, struct emu_reply *reply)
{
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    char user[64];
    int ret;

    /* "<user>" or "<user>/", and nothing below it: a name can never hold a '/'. */
    if (len == 0 || len >= sizeof(user) || (slash != NULL && slash[1] != '\0')) {
        return text_reply(reply, 404, "Not Found");
    }
    memcpy(user, rest, len);
    user[len] = '\0';
    reply->status = 200;
    reply->content_type = "text/plain";
    ret = emu_record_store_render(srv->store, user, emu_server_now(srv), &reply->body);
    if (ret == ENOENT) {
        return text_reply(reply, 404, "Not Found");
    }
    return ret;
}

static int signer_ocsp(struct emu_server *srv, const char *name, struct emu_reply *reply)
{
    const struct emu_pki *pki = srv->pki;
    int ret;

    if (name[0] == '\0') {
        reply->status = 200;
        reply->content_type = "text/plain";
        for (size_t i = 0; i < pki->n_ocsp; i++) {
            ret = eic_buf_printf(&reply->body, "%s%s", i ? "\n" : "", pki->ocsp[i].name);
            if (ret != 0) {
                return ret;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < pki->n_ocsp; i++) {
        if (is_node(name, pki->ocsp[i].name)) {
            return text_reply(reply, 200, pki->ocsp[i].der_b64);
        }
    }
    return text_reply(reply, 404, "Not Found");
}

int emu_imds_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    const char *path = req->path;
    const char *token;
    int ret;

    if (strcmp(path, "/latest/api/token") == 0) {
        return handle_token(srv, req, reply);
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        ret = text_reply(reply, 405, "Method Not Allowed");
        if (ret == 0) {
            ret = emu_reply_header(reply, "Allow", "GET, HEAD");
        }
        return ret;
    }
    /* A token that is sent is always checked, even where IMDSv1 is allowed (as IMDS does). */
    token = emu_request_header(req, "X-aws-ec2-metadata-token");
    if (token != NULL ? !emu_tokens_valid(srv->tokens, token) : w->imdsv2_required) {
        eic_log(LOG_NOTICE, "imds: GET %.256s refused: %s", path, token ? "invalid or expired token" : "no token");
        return text_reply(reply, 401, "Unauthorized");
    }

    if (is_node(path, MD)) {
        return text_reply(reply, 200, emu_world_instance_role(w) != NULL
                                          ? "iam/\ninstance-id\nmanaged-ssh-keys/\nplacement/\nservices/"
                                          : "instance-id\nmanaged-ssh-keys/\nplacement/\nservices/");
    }
    if (srv->sessions != NULL) {
        ret = emu_creds_imds(srv, path, reply);
        if (ret != ENOENT) {
            return ret;
        }
    }
    if (is_node(path, MD "/instance-id")) {
        return text_reply(reply, 200, w->instance_id);
    }
    if (is_node(path, MD "/placement")) {
        return text_reply(reply, 200, "availability-zone\nregion");
    }
    if (is_node(path, MD "/placement/availability-zone")) {
        return text_reply(reply, 200, w->availability_zone);
    }
    if (is_node(path, MD "/placement/region")) {
        return text_reply(reply, 200, w->region);
    }
    if (is_node(path, MD "/services")) {
        return text_reply(reply, 200, "domain");
    }
    if (is_node(path, MD "/services/domain")) {
        return text_reply(reply, 200, w->domain);
    }
    if (is_node(path, IDENTITY_DOC)) {
        return identity_document(srv, reply);
    }
    if (is_node(path, MSK)) {
        return text_reply(reply, 200, "active-keys/\nsigner-cert/\nsigner-ocsp/");
    }
    if (is_node(path, MSK "/active-keys")) {
        reply->status = 200;
        reply->content_type = "text/plain";
        return emu_server_list_users(srv, emu_server_now(srv), &reply->body);
    }
    if (strncmp(path, ACTIVE_KEYS, strlen(ACTIVE_KEYS)) == 0) {
        return active_keys(srv, path + strlen(ACTIVE_KEYS), reply);
    }
    if (is_node(path, MSK "/signer-cert")) {
        return text_reply(reply, 200, srv->pki->chain_pem);
    }
    if (is_node(path, MSK "/signer-ocsp")) {
        return signer_ocsp(srv, "", reply);
    }
    if (strncmp(path, SIGNER_OCSP, strlen(SIGNER_OCSP)) == 0) {
        return signer_ocsp(srv, path + strlen(SIGNER_OCSP), reply);
    }
    return text_reply(reply, 404, "Not Found");
}
