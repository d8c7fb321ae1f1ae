#include "emu_sso_oidc.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "eic_codec.h"
#include "eic_json.h"
#include "eic_log.h"

bool emu_sso_oidc_request(const struct emu_request *req)
{
    return strcmp(req->path, EMU_SSO_OIDC_PATH) == 0;
}

/* body as the answer (status), as sso-oidc writes JSON. */
static int reply_json(struct emu_reply *reply, unsigned int status, json_object *body)
{
    return emu_reply_json(reply, status, body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int oidc_error(struct emu_reply *reply, unsigned int status, const char *type, const char *error,
                      const char *description)
{
    json_object *obj = json_object_new_object();
    int ret = ENOMEM;

    if (obj != NULL && json_object_object_add(obj, "error", json_object_new_string(error)) == 0 &&
        json_object_object_add(obj, "error_description", json_object_new_string(description)) == 0) {
        ret = reply_json(reply, status, obj);
    }
    if (ret == 0) {
        ret = emu_reply_header(reply, "x-amzn-ErrorType", type);
    }
    json_object_put(obj);
    return ret;
}

/* The registered client client_id, when client_secret is its secret. */
static bool client_ok(const struct emu_world *w, const char *client_id, const char *client_secret)
{
    bool ok = false;

    for (size_t i = 0; i < w->n_sso_oidc_clients; i++) {
        const struct emu_sso_client *c = &w->sso_oidc_clients[i];

        ok = (strcmp(c->client_id, client_id) == 0 && eic_str_equal_ct(c->client_secret, client_secret)) || ok;
    }
    return ok;
}

/* The user holding refresh token token, or NULL. */
static const struct emu_sso_user *refresh_owner(const struct emu_world *w, const char *token)
{
    const struct emu_sso_user *owner = NULL;

    for (size_t i = 0; i < w->n_sso_users; i++) {
        for (size_t j = 0; j < w->sso_users[i].n_refresh_tokens; j++) {
            if (eic_str_equal_ct(token, w->sso_users[i].refresh_tokens[j])) {
                owner = &w->sso_users[i];
            }
        }
    }
    return owner;
}

int emu_sso_oidc_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    const struct emu_sso_user *user;
    const char *client_id, *client_secret, *grant, *refresh;
    json_object *body = NULL, *answer = NULL;
    int ret;

    if (strcmp(req->method, "POST") != 0) {
        return oidc_error(reply, 400, "InvalidRequestException", "invalid_request", "CreateToken is POST /token");
    }
    ret = eic_json_parse(req->body ? req->body : "", req->body_len, EMU_MAX_BODY, &body);
    if (ret == ENOMEM) {
        goto done;
    }
    client_id = ret == 0 ? eic_json_get_string(body, "clientId") : NULL;
    client_secret = ret == 0 ? eic_json_get_string(body, "clientSecret") : NULL;
    grant = ret == 0 ? eic_json_get_string(body, "grantType") : NULL;
    refresh = ret == 0 ? eic_json_get_string(body, "refreshToken") : NULL;
    if (client_id == NULL || client_secret == NULL || grant == NULL) {
        eic_log(LOG_NOTICE, "sso-oidc: CreateToken from %s refused: not a CreateToken request",
                req->remote ? req->remote : "?");
        ret = oidc_error(reply, 400, "InvalidRequestException", "invalid_request",
                         "clientId, clientSecret and grantType are required");
        goto done;
    }
    if (strcmp(grant, "refresh_token") != 0) {
        eic_log(LOG_NOTICE, "sso-oidc: CreateToken refused: grant type %.64s", grant);
        ret = oidc_error(reply, 400, "UnsupportedGrantTypeException", "unsupported_grant_type",
                         "Unsupported grant type");
        goto done;
    }
    if (!client_ok(w, client_id, client_secret)) {
        eic_log(LOG_NOTICE, "sso-oidc: CreateToken for client %.128s refused: invalid client", client_id);
        ret = oidc_error(reply, 401, "InvalidClientException", "invalid_client", "Invalid client provided");
        goto done;
    }
    user = refresh ? refresh_owner(w, refresh) : NULL;
    if (user == NULL) {
        eic_log(LOG_NOTICE, "sso-oidc: CreateToken for client %.128s refused: %s refresh token", client_id,
                refresh ? "unknown" : "no");
        ret = oidc_error(reply, 400, "InvalidGrantException", "invalid_grant", "Invalid refresh token provided");
        goto done;
    }
    answer = json_object_new_object();
    ret = ENOMEM;
    if (answer == NULL ||
        json_object_object_add(answer, "accessToken", json_object_new_string(user->access_tokens[0])) != 0 ||
        json_object_object_add(answer, "expiresIn", json_object_new_int(EMU_SSO_OIDC_EXPIRES_IN)) != 0 ||
        json_object_object_add(answer, "refreshToken", json_object_new_string(refresh)) != 0 ||
        json_object_object_add(answer, "tokenType", json_object_new_string("Bearer")) != 0) {
        goto done;
    }
    eic_log(LOG_INFO, "sso-oidc: CreateToken (refresh_token) for client %.128s: a new access token for %s",
            client_id, user->name);
    ret = reply_json(reply, 200, answer);
done:
    json_object_put(answer);
    json_object_put(body);
    return ret;
}
