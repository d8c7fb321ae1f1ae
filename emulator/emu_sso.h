/* The emulated IAM Identity Center (SSO) portal: GetRoleCredentials, which `aws sso login`'s
 * cached access token is exchanged at (the REST-JSON protocol, unsigned):
 *   GET /federation/credentials?role_name=ROLE&account_id=ACCOUNT
 *   x-amz-sso_bearer_token: TOKEN
 * for the world's roles with "sso_role_name" ROLE in ACCOUNT (the account of their ARN).
 * 200 {"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"
 * (Unix time in milliseconds)}}, credentials of the role's max_session_duration issued into
 * srv->sessions for arn:aws:sts::ACCOUNT:assumed-role/NAME/USER, USER the name of the world's
 * sso_users entry holding the token (as Identity Center names the session after the user), else
 * "sso". As the portal answers: a token
 * no role knows (or none) is 401 UnauthorizedException; a known token asking for a role it may
 * not take, or a role that does not exist, is 403 ForbiddenException. Errors are
 * {"message": ...} with x-amzn-ErrorType naming them. */
#ifndef EMU_SSO_H
#define EMU_SSO_H

#include <stdbool.h>

#include "emu_server.h"

#define EMU_SSO_PATH "/federation/credentials"

/* Whether req is for the portal (its path is EMU_SSO_PATH). */
bool emu_sso_request(const struct emu_request *req);
int emu_sso_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
