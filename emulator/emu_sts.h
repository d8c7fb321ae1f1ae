/* The emulated STS (Query protocol, version 2011-06-15, XML answers in AWS's shape) for the
 * world's roles:
 *   AssumeRole (SigV4 for service "sts"): RoleArn, RoleSessionName (2..64 of [\w+=,.@-]),
 *     optional ExternalId (must equal the role's external_id when it has one), DurationSeconds
 *     (900..the role's max_session_duration, default 3600); the caller's ARN must match one of
 *     the role's "trusted" globs, else 403 AccessDenied with IAM's words. A role with mfa_serial
 *     also needs SerialNumber equal to it and TokenCode equal to its mfa_code (a wrong code: 403
 *     AccessDenied "MultiFactorAuthentication failed with invalid MFA one time pass code."; none:
 *     the trust refusal above).
 *   AssumeRoleWithWebIdentity (unsigned, as in AWS): RoleArn, RoleSessionName, WebIdentityToken
 *     (one of the role's web_identity_tokens, else 400 InvalidIdentityToken), DurationSeconds.
 * Errors: <ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error>.
 * Credentials are issued into srv->sessions; the caller ARN is
 * arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION. */
#ifndef EMU_STS_H
#define EMU_STS_H

#include <stdbool.h>

#include "emu_server.h"

#define EMU_STS_SERVICE "sts"
#define EMU_STS_VERSION "2011-06-15"

/* Whether req is an STS call: a form POST whose Action is AssumeRole or AssumeRoleWithWebIdentity. */
bool emu_sts_request(const struct emu_request *req);
int emu_sts_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
