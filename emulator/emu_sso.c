#include "emu_sso.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "eic_codec.h"
#include "eic_log.h"
#include "emu_ec2.h"
#include "emu_sessions.h"

/* The namespace the portal puts after the error name in x-amzn-ErrorType. */
#define ERROR_NS ":http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"

bool emu_sso_request(const struct emu_request *req)
{
    return strcmp(req->path, EMU_SSO_PATH) == 0;
}

static int sso_error(struct emu_reply *reply, unsigned int status, const char *type, const char *message)
{
    json_object *obj = json_object_new_object();
    char type_header[128];
    const char *text;
    int ret;

    if (obj == NULL || json_object_object_add(obj, "message", json_object_new_string(message)) != 0) {
        json_object_put(obj);
        return ENOMEM;
    }
    text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    ret = text ? emu_reply_set(reply, status, "application/json", text, strlen(text)) : ENOMEM;
    snprintf(type_header, sizeof(type_header), "%s" ERROR_NS, type);
    if (ret == 0) {
        ret = emu_reply_header(reply, "x-amzn-ErrorType", type_header);
    }
    json_object_put(obj);
    return ret;
}

/* Whether token is one of role's. */
static bool role_has_token(const struct emu_role *role, const char *token)
{
    bool found = false;

    for (size_t i = 0; i < role->n_sso_access_tokens; i++) {
        found = eic_str_equal_ct(token, role->sso_access_tokens[i]) || found;
    }
    return found;
}

/* The session name for token: its user's name, else "sso". */
static const char *session_name(const struct emu_world *w, const char *token)
{
    for (size_t i = 0; i < w->n_sso_users; i++) {
        for (size_t j = 0; j < w->sso_users[i].n_access_tokens; j++) {
            if (eic_str_equal_ct(token, w->sso_users[i].access_tokens[j])) {
                return w->sso_users[i].name;
            }
        }
    }
    return "sso";
}

/* The answer for credentials p. */
static int role_credentials(struct emu_reply *reply, const struct emu_principal *p)
{
    json_object *obj = json_object_new_object(), *rc = json_object_new_object();
    int ret = ENOMEM;

    if (obj == NULL || rc == NULL || json_object_object_add(obj, "roleCredentials", rc) != 0) {
        json_object_put(rc);
        goto done;
    }
    if (json_object_object_add(rc, "accessKeyId", json_object_new_string(p->access_key_id)) != 0 ||
        json_object_object_add(rc, "secretAccessKey", json_object_new_string(p->secret_access_key)) != 0 ||
        json_object_object_add(rc, "sessionToken", json_object_new_string(p->session_token)) != 0 ||
        json_object_object_add(rc, "expiration", json_object_new_int64(p->expires * 1000)) != 0) {
        goto done;
    }
    ret = emu_reply_json(reply, 200, obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
done:
    json_object_put(obj);
    return ret;
}

int emu_sso_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    const struct emu_role *role = NULL;
    const struct emu_principal *issued = NULL;
    const char *token = emu_request_header(req, "x-amz-sso_bearer_token");
    struct emu_param params[EMU_FORM_MAX_PARAMS];
    const char *role_name, *account_id;
    bool known = false;
    char arn[512];
    size_t n = 0;
    int ret;

    if (strcmp(req->method, "GET") != 0 || srv->sessions == NULL) {
        return sso_error(reply, 405, "InvalidRequestException", "GetRoleCredentials is GET " EMU_SSO_PATH);
    }
    ret = emu_form_parse(req->query, strlen(req->query), params, &n);
    if (ret == ENOMEM) {
        goto done;
    }
    role_name = ret == 0 ? emu_form_get(params, n, "role_name") : NULL;
    account_id = ret == 0 ? emu_form_get(params, n, "account_id") : NULL;
    if (role_name == NULL || account_id == NULL) {
        ret = sso_error(reply, 400, "InvalidRequestException", "role_name and account_id are required");
        goto done;
    }
    for (size_t i = 0; token != NULL && i < w->n_roles; i++) {
        const struct emu_role *r = &w->roles[i];

        known = role_has_token(r, token) || known;
        if (r->sso_role_name != NULL && strcmp(r->sso_role_name, role_name) == 0 &&
            strcmp(r->account_id, account_id) == 0) {
            role = r;
        }
    }
    if (!known) {
        eic_log(LOG_NOTICE, "sso: GetRoleCredentials from %s refused: %s access token",
                req->remote ? req->remote : "?", token ? "unknown" : "no");
        ret = sso_error(reply, 401, "UnauthorizedException", "Session token not found or invalid");
        goto done;
    }
    if (role == NULL || !role_has_token(role, token)) {
        eic_log(LOG_NOTICE, "sso: GetRoleCredentials of %.64s in %.16s refused: %s", role_name, account_id,
                role ? "the token may not take this role" : "no such role");
        ret = sso_error(reply, 403, "ForbiddenException", "No access");
        goto done;
    }
    snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", role->account_id, role->name,
             session_name(w, token));
    ret = emu_sessions_issue(srv->sessions, arn, emu_server_now(srv),
                             emu_role_lifetime(role, role->max_session_duration), NULL, &issued);
    if (ret == ENOSPC) {
        ret = sso_error(reply, 429, "TooManyRequestsException", "Too many live sessions in the emulator");
        goto done;
    }
    if (ret != 0) {
        goto done;
    }
    eic_log(LOG_INFO, "sso: GetRoleCredentials: %s for %s", issued->access_key_id, issued->arn);
    ret = role_credentials(reply, issued);
done:
    emu_form_free(params, n);
    return ret;
}
