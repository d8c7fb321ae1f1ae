#include "emu_sts.h"

#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "eic_codec.h"
#include "eic_log.h"
#include "emu_creds.h"
#include "emu_ec2.h"
#include "emu_push.h"
#include "emu_records.h"
#include "emu_sessions.h"

#define XML_TYPE "text/xml"
#define XMLNS "https://sts.amazonaws.com/doc/" EMU_STS_VERSION "/"

/* The value of Action in the form body, compared with name. */
static bool action_is(const char *body, size_t len, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; body != NULL && i + 7 + n <= len; i++) {
        if ((i == 0 || body[i - 1] == '&') && memcmp(body + i, "Action=", 7) == 0) {
            return memcmp(body + i + 7, name, n) == 0 && (i + 7 + n == len || body[i + 7 + n] == '&');
        }
    }
    return false;
}

bool emu_sts_request(const struct emu_request *req)
{
    const char *type = emu_request_header(req, "Content-Type");

    return strcmp(req->method, "POST") == 0 && type != NULL &&
           strncasecmp(type, EMU_FORM_TYPE, strlen(EMU_FORM_TYPE)) == 0 &&
           emu_request_header(req, "X-Amz-Target") == NULL &&
           (action_is(req->body, req->body_len, "AssumeRole") ||
            action_is(req->body, req->body_len, "AssumeRoleWithWebIdentity"));
}

static int sts_error(struct emu_reply *reply, unsigned int status, const char *code, const char *message)
{
    struct eic_buf buf;
    char request_id[37];
    int ret;

    eic_buf_init(&buf, EMU_MAX_REPLY);
    ret = emu_uuid4(request_id);
    if (ret == 0) {
        ret = eic_buf_printf(&buf, "<ErrorResponse xmlns=\"" XMLNS "\">\n  <Error>\n    <Type>Sender</Type>\n"
                                   "    <Code>%s</Code>\n    <Message>", code);
    }
    if (ret == 0) {
        ret = emu_xml_text(&buf, message);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&buf, "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
                             request_id);
    }
    if (ret == 0) {
        ret = emu_reply_set(reply, status, XML_TYPE, buf.data, buf.len);
    }
    eic_buf_free(&buf);
    return ret;
}

static bool session_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_+=,.@-", c))) {
            return false;
        }
    }
    return true;
}

/* The success answer for action with credentials p. */
static int assumed(struct emu_reply *reply, const char *action, const struct emu_role *role, const char *session,
                   const struct emu_principal *p)
{
    struct eic_buf buf;
    char request_id[37];
    char expiration[32];
    int ret;

    eic_buf_init(&buf, EMU_MAX_REPLY);
    emu_creds_iso_time(p->expires, expiration);
    ret = emu_uuid4(request_id);
    if (ret == 0) {
        ret = eic_buf_printf(&buf,
                             "<%sResponse xmlns=\"" XMLNS "\">\n  <%sResult>\n    <Credentials>\n"
                             "      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n"
                             "      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n"
                             "    </Credentials>\n    <AssumedRoleUser>\n"
                             "      <AssumedRoleId>AROAEICEMULATOR%05zu:%s</AssumedRoleId>\n      <Arn>%s</Arn>\n"
                             "    </AssumedRoleUser>\n  </%sResult>\n"
                             "  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n"
                             "</%sResponse>\n",
                             action, action, p->access_key_id, p->secret_access_key, p->session_token, expiration,
                             strlen(role->name), session, p->arn, action, request_id, action);
    }
    if (ret == 0) {
        ret = emu_reply_set(reply, 200, XML_TYPE, buf.data, buf.len);
    }
    if (buf.data != NULL) {
        OPENSSL_cleanse(buf.data, buf.len);
    }
    eic_buf_free(&buf);
    return ret;
}

int emu_sts_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_principal *caller = NULL, *issued = NULL;
    const struct emu_role *role;
    struct emu_param params[EMU_FORM_MAX_PARAMS];
    size_t n = 0;
    const char *action, *role_arn, *session, *duration_text;
    bool web_identity;
    char msg[EMU_PUSH_MSG_LEN];
    char arn[512];
    long duration = 3600;
    int ret;

    if (strcmp(req->path, "/") != 0 || srv->sessions == NULL) {
        return sts_error(reply, 404, "InvalidAction", "STS is POST /");
    }
    ret = emu_form_parse(req->body ? req->body : "", req->body_len, params, &n);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0) {
        ret = sts_error(reply, 400, "MalformedQueryString", "The form body cannot be decoded");
        goto done;
    }
    action = emu_form_get(params, n, "Action");
    web_identity = strcmp(action, "AssumeRoleWithWebIdentity") == 0;
    if (!web_identity) {
        /* AssumeRoleWithWebIdentity is unsigned: the token is the proof. */
        ret = emu_push_verify_sigv4(srv, req, EMU_STS_SERVICE, &caller, msg);
        if (ret == EACCES) {
            eic_log(LOG_NOTICE, "sts: %s refused from %s: %s", action, req->remote ? req->remote : "?", msg);
            ret = sts_error(reply, 403, "SignatureDoesNotMatch", msg);
            goto done;
        }
        if (ret != 0) {
            goto done;
        }
    }
    if (emu_form_get(params, n, "Version") == NULL || strcmp(emu_form_get(params, n, "Version"), EMU_STS_VERSION)) {
        ret = sts_error(reply, 400, "InvalidParameterValue", "Version must be " EMU_STS_VERSION);
        goto done;
    }
    role_arn = emu_form_get(params, n, "RoleArn");
    session = emu_form_get(params, n, "RoleSessionName");
    if (role_arn == NULL || session == NULL) {
        ret = sts_error(reply, 400, "MissingParameter", "RoleArn and RoleSessionName are required");
        goto done;
    }
    if (!session_name_ok(session)) {
        ret = sts_error(reply, 400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' "
                                                       "failed to satisfy constraint: Member must have length 2..64 "
                                                       "and match [\\w+=,.@-]*");
        goto done;
    }
    role = emu_world_role(srv->world, role_arn);
    if (web_identity) {
        const char *token = emu_form_get(params, n, "WebIdentityToken");
        bool known = false;

        for (size_t i = 0; role != NULL && token != NULL && i < role->n_web_identity_tokens; i++) {
            known = known || eic_str_equal_ct(token, role->web_identity_tokens[i]);
        }
        if (!known) {
            eic_log(LOG_NOTICE, "sts: AssumeRoleWithWebIdentity of %.256s refused: unknown role or token", role_arn);
            ret = sts_error(reply, 400, "InvalidIdentityToken", "The web identity token is not valid for this role");
            goto done;
        }
    } else {
        const char *external_id = emu_form_get(params, n, "ExternalId");
        bool trusted = false;

        for (size_t i = 0; role != NULL && i < role->n_trusted; i++) {
            trusted = trusted || fnmatch(role->trusted[i], caller->arn, 0) == 0;
        }
        if (trusted && role->external_id != NULL &&
            (external_id == NULL || strcmp(external_id, role->external_id) != 0)) {
            trusted = false;
        }
        if (trusted && role->mfa_serial != NULL) {
            const char *serial = emu_form_get(params, n, "SerialNumber");
            const char *code = emu_form_get(params, n, "TokenCode");

            /* Without MFA the trust policy's aws:MultiFactorAuthPresent condition fails (the
             * message below); a wrong code is STS's own error. */
            trusted = serial != NULL && code != NULL && strcmp(serial, role->mfa_serial) == 0;
            if (trusted && !eic_str_equal_ct(code, role->mfa_code)) {
                eic_log(LOG_NOTICE, "sts: AssumeRole of %s by %s refused: wrong MFA code", role->arn, caller->arn);
                ret = sts_error(reply, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one "
                                                            "time pass code.");
                goto done;
            }
        }
        if (!trusted) {
            snprintf(msg, sizeof(msg), "User: %s is not authorized to perform: sts:AssumeRole on resource: %.256s",
                     caller->arn, role_arn);
            eic_log(LOG_NOTICE, "sts: %s", msg);
            ret = sts_error(reply, 403, "AccessDenied", msg);
            goto done;
        }
    }
    duration_text = emu_form_get(params, n, "DurationSeconds");
    if (duration_text != NULL) {
        char *end = NULL;

        duration = strtol(duration_text, &end, 10);
        if (end == duration_text || *end != '\0' || duration < 900 || duration > role->max_session_duration) {
            snprintf(msg, sizeof(msg), "The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                                       "role (900..%ld).", role->max_session_duration);
            ret = sts_error(reply, 400, "ValidationError", msg);
            goto done;
        }
    }
    snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", role->account_id, role->name, session);
    ret = emu_sessions_issue(srv->sessions, arn, emu_server_now(srv), emu_role_lifetime(role, duration), NULL,
                             &issued);
    if (ret == ENOSPC) {
        ret = sts_error(reply, 400, "Throttling", "Too many live sessions in the emulator");
        goto done;
    }
    if (ret != 0) {
        goto done;
    }
    eic_log(LOG_INFO, "sts: %s: %s for %s", action, issued->access_key_id, issued->arn);
    ret = assumed(reply, action, role, session, issued);
done:
    emu_form_free(params, n);
    return ret;
}
