#include "emu_creds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eic_codec.h"
#include "eic_log.h"
#include "emu_sessions.h"

#define IAM "/latest/meta-data/iam"
#define SEC_CREDS IAM "/security-credentials"

void emu_creds_iso_time(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int emu_creds_add_json(json_object *obj, const struct emu_principal *p, const char *token_name)
{
    char expiration[32];

    emu_creds_iso_time(p->expires, expiration);
    if (json_object_object_add(obj, "AccessKeyId", json_object_new_string(p->access_key_id)) != 0 ||
        json_object_object_add(obj, "SecretAccessKey", json_object_new_string(p->secret_access_key)) != 0 ||
        json_object_object_add(obj, token_name, json_object_new_string(p->session_token)) != 0 ||
        json_object_object_add(obj, "Expiration", json_object_new_string(expiration)) != 0) {
        return ENOMEM;
    }
    return 0;
}

/* The credentials document as IMDS and the container endpoint serve it: pretty-printed. */
static int json_reply(struct emu_reply *reply, unsigned int status, json_object *obj)
{
    return emu_reply_json(reply, status, obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int text_reply(struct emu_reply *reply, unsigned int status, const char *text)
{
    return emu_reply_set(reply, status, "text/plain", text, strlen(text));
}

/* Whether path is node, with or without one trailing slash. */
static bool is_node(const char *path, const char *node)
{
    size_t n = strlen(node);

    return strncmp(path, node, n) == 0 && (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
}

/* Credentials for role with session name session, handed out again under reuse_key. */
static int issue(struct emu_server *srv, const struct emu_role *role, const char *session, const char *reuse_key,
                 const struct emu_principal **out)
{
    char arn[512];

    snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", role->account_id, role->name, session);
    return emu_sessions_issue(srv->sessions, arn, emu_server_now(srv), role->max_session_duration, reuse_key, out);
}

int emu_creds_imds(struct emu_server *srv, const char *path, struct emu_reply *reply)
{
    const struct emu_role *role = emu_world_instance_role(srv->world);
    const struct emu_principal *p = NULL;
    json_object *obj = NULL;
    char updated[32];
    int ret;

    if (strcmp(path, IAM) != 0 && strncmp(path, IAM "/", strlen(IAM "/")) != 0) {
        return ENOENT;
    }
    /* Without an instance profile IMDS has no iam/ at all. */
    if (role == NULL) {
        return text_reply(reply, 404, "Not Found");
    }
    if (is_node(path, IAM)) {
        return text_reply(reply, 200, "info\nsecurity-credentials/");
    }
    if (is_node(path, SEC_CREDS)) {
        return text_reply(reply, 200, role->name);
    }
    obj = json_object_new_object();
    if (obj == NULL) {
        return ENOMEM;
    }
    emu_creds_iso_time(emu_server_now(srv), updated);
    if (is_node(path, IAM "/info")) {
        char profile_arn[512];

        snprintf(profile_arn, sizeof(profile_arn), "arn:aws:iam::%s:instance-profile/%s", role->account_id,
                 role->name);
        if (json_object_object_add(obj, "Code", json_object_new_string("Success")) != 0 ||
            json_object_object_add(obj, "LastUpdated", json_object_new_string(updated)) != 0 ||
            json_object_object_add(obj, "InstanceProfileArn", json_object_new_string(profile_arn)) != 0 ||
            json_object_object_add(obj, "InstanceProfileId", json_object_new_string("AIPAEICEMULATOR000001")) != 0) {
            ret = ENOMEM;
            goto done;
        }
        ret = json_reply(reply, 200, obj);
        goto done;
    }
    if (strncmp(path, SEC_CREDS "/", strlen(SEC_CREDS "/")) != 0 ||
        !is_node(path + strlen(SEC_CREDS "/"), role->name)) {
        ret = text_reply(reply, 404, "Not Found");
        goto done;
    }
    ret = issue(srv, role, srv->world->instance_id, "imds", &p);
    if (ret == ENOSPC) {
        ret = text_reply(reply, 503, "Service Unavailable");
        goto done;
    }
    if (ret != 0) {
        goto done;
    }
    if (json_object_object_add(obj, "Code", json_object_new_string("Success")) != 0 ||
        json_object_object_add(obj, "LastUpdated", json_object_new_string(updated)) != 0 ||
        json_object_object_add(obj, "Type", json_object_new_string("AWS-HMAC")) != 0 ||
        emu_creds_add_json(obj, p, "Token") != 0) {
        ret = ENOMEM;
        goto done;
    }
    eic_log(LOG_INFO, "imds: role credentials %s for %s", p->access_key_id, p->arn);
    ret = json_reply(reply, 200, obj);
done:
    json_object_put(obj);
    return ret;
}

static const struct emu_role *container_role(const struct emu_world *w, const char *path)
{
    for (size_t i = 0; i < w->n_roles; i++) {
        if (w->roles[i].container_path != NULL && strcmp(w->roles[i].container_path, path) == 0) {
            return &w->roles[i];
        }
    }
    return NULL;
}

bool emu_creds_container_request(const struct emu_server *srv, const struct emu_request *req)
{
    return container_role(srv->world, req->path) != NULL;
}

int emu_creds_container_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_role *role = container_role(srv->world, req->path);
    const char *auth = emu_request_header(req, "Authorization");
    const struct emu_principal *p = NULL;
    json_object *obj = NULL;
    char reuse_key[300];
    int ret;

    if (role == NULL) {
        return text_reply(reply, 404, "Not Found");
    }
    if (strcmp(req->method, "GET") != 0) {
        return text_reply(reply, 405, "Method Not Allowed");
    }
    if (role->container_authorization != NULL &&
        (auth == NULL || !eic_str_equal_ct(auth, role->container_authorization))) {
        eic_log(LOG_NOTICE, "container credentials %s refused: %s Authorization header", req->path,
                auth ? "wrong" : "no");
        return text_reply(reply, 401, "Unauthorized");
    }
    snprintf(reuse_key, sizeof(reuse_key), "container:%s", role->container_path);
    ret = issue(srv, role, "container", reuse_key, &p);
    if (ret == ENOSPC) {
        return text_reply(reply, 503, "Service Unavailable");
    }
    if (ret != 0) {
        return ret;
    }
    obj = json_object_new_object();
    if (obj == NULL || json_object_object_add(obj, "RoleArn", json_object_new_string(role->arn)) != 0 ||
        emu_creds_add_json(obj, p, "Token") != 0) {
        ret = ENOMEM;
        goto done;
    }
    eic_log(LOG_INFO, "container: credentials %s for %s", p->access_key_id, p->arn);
    ret = json_reply(reply, 200, obj);
done:
    json_object_put(obj);
    return ret;
}
