/* Where the AWS CLI finds credentials and the region, reproduced for eic.
 *
 * credentials, in botocore's order (each source is named by botocore's method name, which
 * eic_credentials.source receives and --debug shows):
 *   env                       AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 *                             unless --profile was given (botocore ignores the environment then)
 *   assume-role               the profile has role_arn (cred_sts.c)
 *   assume-role-with-web-identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's
 *                             web_identity_token_file (cred_sts.c)
 *   sso                       the profile has sso_role_name or sso_account_id (cred_sso.c)
 *   shared-credentials-file   static keys in ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE),
 *                             section "[NAME]"
 *   custom-process            the profile's credential_process (cred_process.c)
 *   config-file               static keys in ~/.aws/config (AWS_CONFIG_FILE), section
 *                             "[profile NAME]" or "[default]"
 *   container-role            AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI (cred_metadata.c)
 *   iam-role                  IMDS instance-profile credentials (cred_metadata.c)
 * A profile's settings are those of both files, the credentials file's winning (botocore's
 * full_config).
 * profile: --profile, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default".
 * region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's "region" in the config
 *   file, else the availability zone without its final letter.
 */
#ifndef EIC_CLIENT_CREDENTIALS_H
#define EIC_CLIENT_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct eic_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    time_t expiration;   /* 0: they do not expire */
    char source[64];     /* botocore's method name, above */
};

/* Returns 0, ENOENT (nothing found), ESRCH (a profile was named but exists in neither file),
 * EINVAL (partial credentials, a source's bad answer), or another errno value (a configured source
 * that failed). err receives a message for the user in each error case. */
int eic_credentials_resolve(const char *profile_arg, struct eic_credentials *out, char *err, size_t err_len);
/* Wipes the secrets before freeing them. */
void eic_credentials_free(struct eic_credentials *creds);

/* Before a signing that comes after others in the same run: creds as they are while more than
 * 15 minutes of them are left (or they do not expire); else new ones, resolved as for profile_arg
 * (the same source: the chain is walked again), as botocore's RefreshableCredentials do. When
 * that fails with 10 to 15 minutes left (botocore's advisory window) the old ones are kept; with
 * less (mandatory) it is an error: printed, and EIC_EXIT_CONFIG returned (EIC_EXIT_OTHER out of
 * memory). Returns EIC_EXIT_OK otherwise. */
int eic_credentials_refresh(const char *profile_arg, struct eic_credentials *creds);

/* *region is malloc'd. Returns 0, ENOENT (no region anywhere), EINVAL (a region that is not
 * a region name, or a zone that is not a zone name; err says which). */
int eic_region_resolve(const char *region_arg, const char *profile_arg, const char *zone, char **region,
                       char *err, size_t err_len);

/* Both of the above, as each subcommand needs them before its first call (zone: the
 * --availability-zone given, or NULL). Returns 0; otherwise prints why to stderr and returns the
 * exit status (EIC_EXIT_CONFIG, EIC_EXIT_OTHER when out of memory). */
int eic_region_and_credentials_resolve(const char *region_arg, const char *profile_arg, const char *zone,
                                       char **region, struct eic_credentials *creds);

/* The value of key in section of the INI file at path (malloc'd), as botocore's parser reads
 * it: '#' and ';' comment lines, "[section]" headers, "key = value" with both sides trimmed
 * and keys compared case-insensitively, indented lines belonging to the entry above (appended
 * to its value, each after a newline, as configparser does).
 * config_style: 0 for the credentials file ("[NAME]"); 1 for the config file, where
 * "[profile NAME]" names profile NAME; EIC_INI_SSO_SESSION: the config file's
 * "[sso-session NAME]" named NAME.
 * Returns 0, ENOENT (no such key), ESRCH (no such section) or an errno value of reading. */
#define EIC_INI_SSO_SESSION 2
int eic_ini_get(const char *path, const char *profile, int config_style, const char *key, char **value);

/* Whether r is a region name as botocore accepts it (lower case only: it becomes part of host
 * names and of the signing scope). */
bool eic_region_name_ok(const char *r);

/* The profile in use: profile_arg (--profile), else AWS_PROFILE, AWS_DEFAULT_PROFILE, "default". */
const char *eic_profile_name(const char *profile_arg);

/* key of the config file's section "[section]" taken literally (e.g. "services NAME"), malloc'd.
 * Returns 0, ENOENT (no such key), ESRCH (no such section) or ENOMEM. */
int eic_config_section_get(const char *section, const char *key, char **value);

/* The profile's setting key (malloc'd): the credentials file's, else the config file's.
 * Returns 0, ENOENT or ENOMEM. */
int eic_profile_get(const char *profile, const char *key, char **value);

/* The CA bundle for https and wss, by the AWS CLI's precedence: option (--ca-bundle), else
 * AWS_CA_BUNDLE when set and not empty, else the profile's ca_bundle (profile_arg: --profile, or
 * NULL for the usual choice). *out is malloc'd, or NULL for the system's CAs. Returns 0 or ENOMEM. */
int eic_ca_bundle_resolve(const char *option, const char *profile_arg, char **out);

/* A command's --ca-bundle (NULL: none) applies to every request the command makes, the credential
 * sources' (STS, the SSO portal) included, as the AWS CLI's session-wide setting does: it becomes
 * this process's AWS_CA_BUNDLE. Returns 0 or setenv's errno. */
int eic_ca_bundle_option(const char *option);

#endif
