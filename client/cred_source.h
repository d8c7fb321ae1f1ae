/* What the credential sources of client/credentials.c share. Each source is one file:
 * cred_process.c (credential_process), cred_metadata.c (container credentials, IMDS role
 * credentials), cred_sts.c (assume-role and web identity profiles), cred_sso.c (IAM Identity
 * Center). credentials.c calls them in the AWS CLI's order.
 *
 * The sources return 0 (out filled), ENOENT when they are not configured (the chain goes on),
 * or another errno value with err set to "Error when retrieving credentials from METHOD: WHY",
 * botocore's words (the chain stops: a configured source that fails is an error, as for the
 * CLI). METHOD is botocore's name of the source, which is also what out->source receives. */
#ifndef EIC_CLIENT_CRED_SOURCE_H
#define EIC_CLIENT_CRED_SOURCE_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "credentials.h"

/* Copies of ak, sk and token (token may be NULL) into out. Returns 0 or ENOMEM. */
int eic_cred_set(struct eic_credentials *out, const char *ak, const char *sk, const char *token, time_t expiration,
                 const char *source);

/* Credentials from a JSON object with the members AccessKeyId, SecretAccessKey, token_member
 * (optional when token_optional) and Expiration (optional when expiration_optional): the shape
 * of credential_process output ("SessionToken"), of IMDS and container answers ("Token"). Returns
 * 0 or EINVAL with err naming the missing or malformed member. */
/* json_object_put(doc) after wiping its string members (credential documents hold secrets). NULL
 * is fine. */
void eic_cred_json_free(json_object *doc);
int eic_cred_from_json(json_object *obj, const char *token_member, int token_optional, int expiration_optional,
                       const char *source, struct eic_credentials *out, char *err, size_t err_len);

/* An ISO 8601 time as AWS writes it: YYYY-MM-DDTHH:MM:SS, optional fraction, then Z, +HH:MM,
 * -HH:MM, +HHMM or nothing (UTC). Returns 0 or EINVAL. */
int eic_cred_parse_time(const char *text, time_t *out);

/* env_name's value (a leading "~/" expanded, as botocore does), else ~/.aws/default_name
 * (malloc'd; NULL out of memory or without a home directory). */
char *eic_cred_aws_file(const char *env_name, const char *default_name);
/* $HOME/relative (the passwd entry's home without HOME), malloc'd, or NULL. */
char *eic_cred_home_path(const char *relative);

/* A secret-holding string wiped, then freed. */
void eic_cred_free_secret(char *s);

/* credential_process: run command (split as a POSIX shell would split words, no shell run) and
 * read Version 1 JSON from its standard output. */
int eic_cred_process(const char *command, struct eic_credentials *out, char *err, size_t err_len);

/* Container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (ENOENT when
 * neither is set). */
int eic_cred_container(struct eic_credentials *out, char *err, size_t err_len);

/* IMDS role credentials (IMDSv2, falling back to v1 as the CLI does). ENOENT when IMDS is
 * disabled, unreachable or has no role: the CLI's chain then ends with "Unable to locate
 * credentials". */
int eic_cred_imds(const char *profile, struct eic_credentials *out, char *err, size_t err_len);

/* STS AssumeRole of role_arn with source credentials, the profile's role_session_name,
 * external_id, duration_seconds and mfa_serial (the code asked for on the terminal). */
int eic_cred_sts_assume_role(const char *profile, const struct eic_credentials *source, const char *role_arn,
                             struct eic_credentials *out, char *err, size_t err_len);
/* STS AssumeRoleWithWebIdentity of role_arn with the token in token_file (session_name may be
 * NULL: botocore-session-<time>). */
int eic_cred_sts_web_identity(const char *profile, const char *role_arn, const char *token_file,
                              const char *session_name, struct eic_credentials *out, char *err, size_t err_len);

/* IAM Identity Center: the profile's sso_role_name and sso_account_id, with the access token
 * `aws sso login` cached for its sso-session (or legacy sso_start_url), exchanged at the SSO
 * portal (GetRoleCredentials). ENOENT when the profile has neither setting. */
int eic_cred_sso(const char *profile, struct eic_credentials *out, char *err, size_t err_len);

#endif
