/* The emulated IAM Identity Center OIDC service (sso-oidc): CreateToken with the grant
 * refresh_token, which botocore (and so the AWS CLI) calls to renew the access token `aws sso
 * login` cached when it expires within 15 minutes (REST-JSON, unsigned):
 *   POST /token  {"clientId", "clientSecret", "grantType": "refresh_token", "refreshToken"}
 * for the world's sso_oidc_clients and its sso_users' refresh_tokens. 200 {"accessToken" (the
 * user's first access token: the emulator's tokens are static grants the roles list),
 * "expiresIn": 28800, "refreshToken" (the same one), "tokenType": "Bearer"}. Errors as the
 * service answers them, named by x-amzn-ErrorType with {"error", "error_description"}: an
 * unknown client or a wrong secret is 401 InvalidClientException (invalid_client), an unknown
 * refresh token 400 InvalidGrantException (invalid_grant), another grant 400
 * UnsupportedGrantTypeException, a body that is no such request 400 InvalidRequestException. */
#ifndef EMU_SSO_OIDC_H
#define EMU_SSO_OIDC_H

#include <stdbool.h>

#include "emu_server.h"

#define EMU_SSO_OIDC_PATH "/token"
#define EMU_SSO_OIDC_EXPIRES_IN 28800

/* Whether req is for sso-oidc (its path is EMU_SSO_OIDC_PATH). */
bool emu_sso_oidc_request(const struct emu_request *req);
int emu_sso_oidc_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
