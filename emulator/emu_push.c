#include "emu_push.h"
#include "emu_sessions.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "eic_codec.h"
#include "eic_json.h"
#include "eic_log.h"
#include "eic_sigv4.h"
#include "eic_sshkey.h"

#define MAX_SIGNED_HEADERS 32
#define MSG_LEN 512

/* The request parameters' constraints from the API reference (SendSSHPublicKey), written as
 * POSIX EREs: "\w" is [A-Za-z0-9_] and "\d" is [0-9]; inside brackets the reference's
 * backslashes only escape, so they are dropped. InstanceOSUser has the second alternative of
 * botocore's current model (1.43) for digit-first names, which need a non-digit after the leading
 * digits; its lookahead "(?=.{2,32}$)" is not ERE and is implied (the alternative needs 2
 * characters, 1..32 is checked). */
static const char os_user_pattern[] = "^([A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?|"
                                      "[0-9]{1,32}[A-Za-z@._-][A-Za-z0-9@._-]*[A-Za-z0-9$_-]?)$";
static const char instance_pattern[] = "^i-[a-f0-9]+$";
static const char zone_pattern[] = "^([A-Za-z0-9_]+-){2,3}[0-9]+[A-Za-z0-9_]+$";

static regex_t os_user_re;
static regex_t instance_re;
static regex_t zone_re;
static int regexes_ready;

int emu_push_init(void)
{
    if (regexes_ready) {
        return 0;
    }
    if (regcomp(&os_user_re, os_user_pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return EINVAL;
    }
    if (regcomp(&instance_re, instance_pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        regfree(&os_user_re);
        return EINVAL;
    }
    if (regcomp(&zone_re, zone_pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        regfree(&os_user_re);
        regfree(&instance_re);
        return EINVAL;
    }
    regexes_ready = 1;
    return 0;
}

void emu_push_cleanup(void)
{
    if (regexes_ready) {
        regfree(&os_user_re);
        regfree(&instance_re);
        regfree(&zone_re);
        regexes_ready = 0;
    }
}

static void set_msg(char *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_msg(char *msg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, MSG_LEN, fmt, ap);
    va_end(ap);
}

int emu_push_error(struct emu_reply *reply, unsigned int status, const char *type, const char *message)
{
    json_object *obj = json_object_new_object();
    char request_id[37];
    const char *text;
    int ret = ENOMEM;

    if (obj == NULL) {
        return ENOMEM;
    }
    if (json_object_object_add(obj, "__type", json_object_new_string(type)) != 0 ||
        (message != NULL && json_object_object_add(obj, "Message", json_object_new_string(message)) != 0)) {
        goto done;
    }
    text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL) {
        goto done;
    }
    ret = emu_reply_set(reply, status, EMU_JSON_TYPE, text, strlen(text));
    if (ret == 0 && emu_uuid4(request_id) == 0) {
        ret = emu_reply_header(reply, "x-amzn-RequestId", request_id);
    }
done:
    json_object_put(obj);
    return ret;
}

/* The values of every header called name, in arrival order, joined by ',' (what SigV4 signs
 * for a repeated header). NULL when the request has no such header. */
static char *joined_header(const struct emu_request *req, const char *name)
{
    struct eic_buf buf;
    bool found = false;

    eic_buf_init(&buf, EMU_MAX_BODY);
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0) {
            continue;
        }
        if (eic_buf_printf(&buf, "%s%s", found ? "," : "", req->headers[i].value) != 0) {
            eic_buf_free(&buf);
            return NULL;
        }
        found = true;
    }
    if (!found) {
        eic_buf_free(&buf);
        return NULL;
    }
    return eic_buf_steal(&buf);
}

static size_t header_count(const struct emu_request *req, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            n++;
        }
    }
    return n;
}

static bool list_has(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* What a request says about its signature, from the Authorization header or from a
 * presigned query. */
struct sig_inputs {
    const struct eic_sigv4_auth *auth;
    const char *amz_date;
    const char *token;        /* X-Amz-Security-Token as sent, or NULL */
    const char *query;        /* the query as signed */
    long expires;             /* presigned: seconds of validity from amz_date; 0: header form */
};

/* The checks and the signature recomputation shared by both forms. Returns 0 with *out set,
 * EACCES with the reason in msg (which never contains the expected signature or any secret),
 * or ENOMEM. */
static int verify_signature(struct emu_server *srv, const struct emu_request *req, const char *service,
                            const struct sig_inputs *in, const struct emu_principal **out, char *msg)
{
    const struct emu_world *w = srv->world;
    const struct eic_sigv4_auth *auth = in->auth;
    struct eic_sigv4_header headers[MAX_SIGNED_HEADERS];
    char *names[MAX_SIGNED_HEADERS];
    char *values[MAX_SIGNED_HEADERS];
    size_t n = 0;
    char *list = NULL;
    char *save = NULL;
    const struct emu_principal *principal;
    struct eic_sigv4_request sreq;
    struct eic_sigv4_scope scope;
    char expected[65];
    long long when;
    long long now = emu_server_now(srv);
    int ret = EACCES;

    *out = NULL;
    memset(values, 0, sizeof(values));
    memset(expected, 0, sizeof(expected));
    principal = emu_world_principal(w, auth->access_key_id);
    if (principal == NULL && srv->sessions != NULL) {
        principal = emu_sessions_find(srv->sessions, auth->access_key_id);
    }
    if (principal == NULL) {
        set_msg(msg, "The access key id %.128s does not exist in this world", auth->access_key_id);
        goto done;
    }
    if (principal->expires != 0 && now >= principal->expires) {
        set_msg(msg, "The security token included in the request is expired");
        goto done;
    }
    if (strcmp(auth->service, service) != 0) {
        set_msg(msg, "Credential should be scoped to correct service: '%s', not '%.64s'", service,
                auth->service);
        goto done;
    }
    if (strcmp(auth->region, w->region) != 0) {
        set_msg(msg, "Credential should be scoped to a valid region: '%s', not '%.64s'", w->region, auth->region);
        goto done;
    }

    list = strdup(auth->signed_headers);
    if (list == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (char *name = strtok_r(list, ";", &save); name != NULL; name = strtok_r(NULL, ";", &save)) {
        if (n == MAX_SIGNED_HEADERS) {
            set_msg(msg, "More than %d signed headers", MAX_SIGNED_HEADERS);
            goto done;
        }
        names[n++] = name;
    }
    /* A presigned request carries its date in the (signed) query, not in a header. */
    if (!list_has(names, n, "host") || (in->expires == 0 && !list_has(names, n, "x-amz-date"))) {
        set_msg(msg, in->expires == 0 ? "SignedHeaders must include host and x-amz-date"
                                      : "X-Amz-SignedHeaders must include host");
        goto done;
    }
    if (principal->session_token != NULL) {
        /* In a presigned query the token is one of the signed parameters. */
        if (in->token == NULL || (in->expires == 0 && !list_has(names, n, "x-amz-security-token"))) {
            set_msg(msg, "The access key %s belongs to temporary credentials: X-Amz-Security-Token must be sent "
                         "and signed", principal->access_key_id);
            goto done;
        }
        if (!eic_str_equal_ct(in->token, principal->session_token)) {
            set_msg(msg, "The security token included in the request is invalid");
            goto done;
        }
    } else if (in->token != NULL) {
        set_msg(msg, "The request carries X-Amz-Security-Token but the access key %s has no session token",
                principal->access_key_id);
        goto done;
    }

    if (in->amz_date == NULL) {
        set_msg(msg, "Missing X-Amz-Date header");
        goto done;
    }
    if (eic_sigv4_parse_amz_date(in->amz_date, &when) != 0) {
        set_msg(msg, "X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ");
        goto done;
    }
    if (strlen(auth->date) != 8 || strncmp(auth->date, in->amz_date, 8) != 0) {
        set_msg(msg, "Credential date %.16s does not match the date of X-Amz-Date %.16s", auth->date, in->amz_date);
        goto done;
    }
    if (in->expires > 0) {
        /* Valid from X-Amz-Date (a clock a little ahead is tolerated) for X-Amz-Expires seconds. */
        if (when > now + srv->max_skew) {
            set_msg(msg, "Request is not yet valid: X-Amz-Date %s is in the future", in->amz_date);
            goto done;
        }
        if (now > when + in->expires) {
            set_msg(msg, "Request has expired: signed at %s for %ld s", in->amz_date, in->expires);
            goto done;
        }
    } else if (when < now - srv->max_skew || when > now + srv->max_skew) {
        char server_date[EIC_SIGV4_AMZ_DATE_LEN + 1];

        eic_sigv4_format_amz_date(now, server_date);
        set_msg(msg, "Signature expired or not yet valid: X-Amz-Date %s is more than %ld s away from the "
                     "server time %s", in->amz_date, srv->max_skew, server_date);
        goto done;
    }

    for (size_t i = 0; i < n; i++) {
        values[i] = joined_header(req, names[i]);
        if (values[i] == NULL) {
            set_msg(msg, "The signed header %.64s is not in the request", names[i]);
            goto done;
        }
        headers[i].name = names[i];
        headers[i].value = values[i];
    }
    sreq.method = req->method;
    sreq.path = req->path;
    sreq.query = in->query;
    sreq.headers = headers;
    sreq.n_headers = n;
    sreq.body = req->body ? req->body : "";
    sreq.body_len = req->body_len;
    sreq.date_in_query = in->expires > 0;
    scope.amz_date = in->amz_date;
    scope.region = auth->region;
    scope.service = auth->service;
    ret = eic_sigv4_signature(&sreq, &scope, principal->secret_access_key, expected);
    if (ret != 0) {
        set_msg(msg, "The request could not be canonicalised");
        ret = ret == ENOMEM ? ENOMEM : EACCES;
        goto done;
    }
    ret = EACCES;
    if (strlen(auth->signature) != 64 || CRYPTO_memcmp(expected, auth->signature, 64) != 0) {
        set_msg(msg, "The request signature we calculated does not match the signature you provided. Check "
                     "your AWS Secret Access Key and signing method.");
        goto done;
    }
    /* Which credentials signed what: the tests prove credential refreshes with this line. */
    eic_log(LOG_INFO, "sigv4: %s request signed by %s with access key %s", auth->service, principal->arn,
            principal->access_key_id);
    *out = principal;
    ret = 0;
done:
    OPENSSL_cleanse(expected, sizeof(expected));
    for (size_t i = 0; i < n; i++) {
        free(values[i]);
    }
    free(list);
    return ret;
}

int emu_push_verify_sigv4(struct emu_server *srv, const struct emu_request *req, const char *service,
                          const struct emu_principal **out, char *msg)
{
    static const char *const single[] = {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"};
    struct eic_sigv4_auth auth = {0};
    const char *authorization = emu_request_header(req, "Authorization");
    struct sig_inputs in = {.auth = &auth, .amz_date = emu_request_header(req, "X-Amz-Date"),
                            .token = emu_request_header(req, "X-Amz-Security-Token"), .query = req->query};
    int ret = EACCES;

    *out = NULL;
    /* Which copy would count is ambiguous: a repeated authentication header is refused. */
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if (header_count(req, single[i]) > 1) {
            set_msg(msg, "The %s header appears more than once", single[i]);
            return EACCES;
        }
    }
    if (authorization == NULL) {
        set_msg(msg, "Missing Authorization header");
        return EACCES;
    }
    if (eic_sigv4_parse_authorization(authorization, &auth) != 0) {
        set_msg(msg, "Malformed Authorization header (expected AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/"
                     "SERVICE/aws4_request, SignedHeaders=..., Signature=<64 hex digits>)");
        return EACCES;
    }
    ret = verify_signature(srv, req, service, &in, out, msg);
    eic_sigv4_auth_free(&auth);
    return ret;
}

int emu_push_verify_presigned(struct emu_server *srv, const struct emu_request *req, const char *service,
                              long max_expires, const struct emu_principal **out, char *msg)
{
    struct eic_sigv4_presigned p;
    struct sig_inputs in;
    int ret;

    *out = NULL;
    if (emu_request_header(req, "Authorization") != NULL) {
        set_msg(msg, "A presigned request must not carry an Authorization header");
        return EACCES;
    }
    ret = eic_sigv4_parse_presigned(req->query, &p);
    if (ret == ENOMEM) {
        return ENOMEM;
    }
    if (ret == ENOENT) {
        set_msg(msg, "The request is not presigned (no X-Amz-Signature in the query)");
        return EACCES;
    }
    if (ret != 0) {
        set_msg(msg, "Malformed presigned query (X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential, X-Amz-Date, "
                     "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature, each once)");
        return EACCES;
    }
    if (p.expires > max_expires) {
        set_msg(msg, "X-Amz-Expires %ld is over the %ld s this operation allows", p.expires, max_expires);
        ret = EACCES;
    } else {
        in = (struct sig_inputs){.auth = &p.auth, .amz_date = p.amz_date, .token = p.security_token,
                                 .query = p.unsigned_query, .expires = p.expires};
        ret = verify_signature(srv, req, service, &in, out, msg);
    }
    eic_sigv4_presigned_free(&p);
    return ret;
}

/* A string member: absent → *out NULL; present but not a string, or holding a NUL → EINVAL. */
static int get_member(json_object *obj, const char *key, const char **out, size_t *len, char *msg)
{
    json_object *member;

    *out = NULL;
    *len = 0;
    if (!json_object_object_get_ex(obj, key, &member) || json_object_is_type(member, json_type_null)) {
        return 0;
    }
    if (!json_object_is_type(member, json_type_string)) {
        set_msg(msg, "%s must be a string", key);
        return EINVAL;
    }
    *out = json_object_get_string(member);
    *len = (size_t)json_object_get_string_len(member);
    if (strlen(*out) != *len) {
        set_msg(msg, "%s must not contain NUL characters", key);
        return EINVAL;
    }
    return 0;
}

static bool printable_line(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            return false;
        }
    }
    return true;
}

struct push_args {
    const char *instance_id;
    const char *os_user;
    const char *key_text;
    const char *zone;
    size_t key_len;
};

/* Fields and key checks (InvalidArgsException). On success key is parsed. */
static int check_args(json_object *root, struct push_args *a, struct eic_sshkey *key, char *msg)
{
    size_t len;
    size_t user_len;
    size_t zone_len;

    if (get_member(root, "InstanceId", &a->instance_id, &len, msg) != 0 ||
        get_member(root, "InstanceOSUser", &a->os_user, &user_len, msg) != 0 ||
        get_member(root, "SSHPublicKey", &a->key_text, &a->key_len, msg) != 0 ||
        get_member(root, "AvailabilityZone", &a->zone, &zone_len, msg) != 0) {
        return EINVAL;
    }
    if (a->instance_id == NULL || a->os_user == NULL || a->key_text == NULL) {
        set_msg(msg, "Missing required parameter: %s",
                a->instance_id == NULL ? "InstanceId" : a->os_user == NULL ? "InstanceOSUser" : "SSHPublicKey");
        return EINVAL;
    }
    if (len < 10 || len > 32 || regexec(&instance_re, a->instance_id, 0, NULL, 0) != 0) {
        set_msg(msg, "Value at 'instanceId' failed to satisfy constraint: length 10..32, pattern %s",
                instance_pattern);
        return EINVAL;
    }
    if (user_len < 1 || user_len > 32 || regexec(&os_user_re, a->os_user, 0, NULL, 0) != 0) {
        set_msg(msg, "Value at 'instanceOSUser' failed to satisfy constraint: length 1..32, pattern "
                     "(^[A-Za-z_][A-Za-z0-9\\@\\._-]{0,30}[A-Za-z0-9\\$_-]?$)|"
                     "(^(?=.{2,32}$)[0-9]{1,32}[A-Za-z\\@\\._-][A-Za-z0-9\\@\\._-]*[A-Za-z0-9\\$_-]?$)");
        return EINVAL;
    }
    if (a->zone != NULL && (zone_len < 6 || zone_len > 32 || regexec(&zone_re, a->zone, 0, NULL, 0) != 0)) {
        set_msg(msg, "Value at 'availabilityZone' failed to satisfy constraint: length 6..32, pattern "
                     "^(\\w+-){2,3}\\d+\\w+$");
        return EINVAL;
    }
    if (a->key_len < 80 || a->key_len > 4096) {
        set_msg(msg, "Value at 'sshPublicKey' failed to satisfy constraint: length 80..4096 (it has %zu)",
                a->key_len);
        return EINVAL;
    }
    if (eic_sshkey_parse_any(a->key_text, a->key_len, key) != 0) {
        set_msg(msg, "The SSH public key is not a valid OpenSSH or SSH2 (RFC 4716) public key");
        return EINVAL;
    }
    if (key->type == EIC_SSHKEY_ED25519) {
        return 0;
    }
    if (key->type == EIC_SSHKEY_RSA && (key->bits == 2048 || key->bits == 4096)) {
        return 0;
    }
    if (key->type == EIC_SSHKEY_RSA) {
        set_msg(msg, "Unsupported RSA key size %u bits: only 2048 and 4096 are accepted", key->bits);
    } else {
        set_msg(msg, "Unsupported key type %.32s: only ssh-rsa (2048 or 4096 bits) and ssh-ed25519 are accepted",
                key->type_name ? key->type_name : "?");
    }
    eic_sshkey_free(key);
    memset(key, 0, sizeof(*key));
    return EINVAL;
}

static int send_ssh_public_key(struct emu_server *srv, const struct emu_request *req,
                               const struct emu_principal *principal, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    json_object *root = NULL;
    struct eic_sshkey key;
    struct push_args a = {0};
    struct emu_record_fields fields;
    char msg[MSG_LEN];
    char fingerprint[64];
    char request_id[37];
    char body[128];
    char *key_line = NULL;
    char *record = NULL;
    bool have_key = false;
    int ret;

    memset(&key, 0, sizeof(key));
    ret = eic_json_parse(req->body ? req->body : "", req->body_len, EMU_MAX_BODY, &root);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0 || !json_object_is_type(root, json_type_object)) {
        eic_log(LOG_NOTICE, "push by %s refused: the body is not a JSON object", principal->arn);
        ret = emu_push_error(reply, 400, "SerializationException", "The request body is not a JSON object");
        goto done;
    }
    if (check_args(root, &a, &key, msg) != 0) {
        eic_log(LOG_NOTICE, "push by %s refused (InvalidArgsException): %s", principal->arn, msg);
        ret = emu_push_error(reply, 400, "InvalidArgsException", msg);
        goto done;
    }
    have_key = true;
    if (strcmp(a.instance_id, w->instance_id) != 0 ||
        (a.zone != NULL && strcmp(a.zone, w->availability_zone) != 0)) {
        set_msg(msg, "Instance %s was not found%s%s", a.instance_id, a.zone ? " in zone " : "",
                a.zone ? a.zone : "");
        eic_log(LOG_NOTICE, "push by %s refused (EC2InstanceNotFoundException): %s", principal->arn, msg);
        ret = emu_push_error(reply, 400, "EC2InstanceNotFoundException", msg);
        goto done;
    }
    /* IAM's refusal, as AWS answers it: AccessDeniedException naming the caller, the action and
     * the instance's ARN (AuthException is the service's own, for credentials it rejects). */
    if (!emu_world_allows(w, principal->arn, a.instance_id, a.os_user)) {
        set_msg(msg, "User: %s is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: "
                     "arn:aws:ec2:%s:%s:instance/%s because no identity-based policy allows the "
                     "ec2-instance-connect:SendSSHPublicKey action",
                principal->arn, w->region, w->account_id, a.instance_id);
        eic_log(LOG_NOTICE, "push refused (AccessDeniedException) for OS user %s: %s", a.os_user, msg);
        ret = emu_push_error(reply, 400, "AccessDeniedException", msg);
        goto done;
    }

    /* The record holds one OpenSSH line whatever the pushed format; a control character in
     * it (a newline in a comment) would let a caller forge record fields. */
    ret = eic_sshkey_to_openssh(&key, &key_line);
    if (ret == 0 && !printable_line(key_line)) {
        eic_log(LOG_NOTICE, "push by %s refused (InvalidArgsException): control character in the key", principal->arn);
        ret = emu_push_error(reply, 400, "InvalidArgsException", "The SSH public key contains control characters");
        goto done;
    }
    if (ret == 0) {
        ret = eic_sshkey_fingerprint(&key, fingerprint);
    }
    if (ret == 0) {
        ret = emu_uuid4(request_id);
    }
    if (ret != 0) {
        goto done;
    }
    fields.expires = emu_server_now(srv) + w->key_lifetime;
    fields.instance_id = w->instance_id;
    fields.caller_arn = principal->arn;
    fields.request_id = request_id;
    fields.key_line = key_line;
    ret = emu_record_make(srv->pki, &fields, srv->tamper_records, &record);
    if (ret != 0) {
        eic_log(LOG_ERR, "push: signing the record failed: %s", strerror(ret));
        ret = emu_push_error(reply, 500, "ServiceException", "The record could not be signed");
        goto done;
    }
    ret = emu_server_note_user(srv, a.os_user);
    if (ret == ENOSPC) {
        eic_log(LOG_NOTICE, "push by %s for %s refused (ThrottlingException): more than %d OS users hold keys",
                principal->arn, a.os_user, EMU_MAX_USERS);
        ret = emu_push_error(reply, 400, "ThrottlingException", "Too many OS users with active keys");
        goto done;
    }
    if (ret == 0) {
        ret = emu_record_store_add(srv->store, a.os_user, record, fields.expires);
    }
    if (ret == ENOSPC) {
        eic_log(LOG_NOTICE, "push by %s for %s refused (ThrottlingException): too many live keys", principal->arn,
                a.os_user);
        ret = emu_push_error(reply, 400, "ThrottlingException", "Too many active keys: wait for some to expire");
        goto done;
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "push: storing the record failed: %s", strerror(ret));
        ret = emu_push_error(reply, 500, "ServiceException", "The record could not be stored");
        goto done;
    }
    eic_log(LOG_INFO, "pushed key %s for %s by %s request %s%s", fingerprint, a.os_user, principal->arn, request_id,
            srv->tamper_records ? " (record tampered)" : "");
    snprintf(body, sizeof(body), "{\"RequestId\":\"%s\",\"Success\":true}", request_id);
    ret = emu_reply_set(reply, 200, EMU_JSON_TYPE, body, strlen(body));
    if (ret == 0) {
        ret = emu_reply_header(reply, "x-amzn-RequestId", request_id);
    }
done:
    if (have_key) {
        eic_sshkey_free(&key);
    }
    free(key_line);
    free(record);
    json_object_put(root);
    return ret;
}

int emu_push_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_principal *principal = NULL;
    const char *target;
    char msg[MSG_LEN];
    int ret;

    if (strcmp(req->path, "/") != 0 || strcmp(req->method, "POST") != 0) {
        set_msg(msg, "No operation at %.16s %.128s (the API is POST /)", req->method, req->path);
        return emu_push_error(reply, 404, "UnknownOperationException", msg);
    }
    target = emu_request_header(req, "X-Amz-Target");
    if (target == NULL || strcmp(target, EMU_PUSH_TARGET) != 0 || header_count(req, "X-Amz-Target") != 1) {
        eic_log(LOG_NOTICE, "push API: unknown operation %.128s", target ? target : "(no X-Amz-Target)");
        return emu_push_error(reply, 400, "UnknownOperationException",
                              "X-Amz-Target must be " EMU_PUSH_TARGET);
    }
    ret = emu_push_verify_sigv4(srv, req, EMU_PUSH_SERVICE, &principal, msg);
    if (ret == EACCES) {
        eic_log(LOG_NOTICE, "push refused (AuthException) from %s: %s", req->remote ? req->remote : "?", msg);
        return emu_push_error(reply, 400, "AuthException", msg);
    }
    if (ret != 0) {
        return ret;
    }
    return send_ssh_public_key(srv, req, principal, reply);
}
