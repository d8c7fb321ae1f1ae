/* The emulated "world": one instance, the IAM principals that may call the push API with
 * their long-term (or session) credentials, and a small IAM-style policy saying which
 * principal may push keys for which instance and OS user.
 *
 * The embedded default world (printed at start-up) is itself written in the world-file
 * format and goes through the same parser as a --config file, so both are validated the
 * same way. World file (JSON; unknown keys and bad values are errors naming the key):
 *
 *   {
 *     "instance": {
 *       "id": "i-0123456789abcdef0",            required, ^i-[0-9a-f]{8,32}$
 *       "availability_zone": "us-east-1a",      required, ^([a-z]+-){2,3}[0-9][a-z]$
 *       "domain": "amazonaws.com",              optional (default amazonaws.com), one of the four
 *       "account_id": "111122223333",           required, 12 digits
 *       "imdsv2_required": true,                optional (default true)
 *       "private_ip": "127.0.0.1",              optional IPv4 (default 127.0.0.1; null: none), DescribeInstances
 *       "public_ip": "203.0.113.5",             optional IPv4 (default none)
 *       "ipv6": "2001:db8::5",                  optional IPv6 (default none)
 *       "vpc_id": "vpc-0e1c0de5e1c0de500",      optional (this default), ^vpc-[0-9a-f]{8,17}$
 *       "subnet_id": "subnet-0e1c0de5e1c0de501" optional (this default), ^subnet-[0-9a-f]{8,17}$
 *     },
 *     "instance_connect_endpoints": [           optional (absent: one endpoint in the instance's
 *       {"id": "eice-...",                      subnet, create-complete, port 22; []: none)
 *        "vpc_id": "vpc-...", "subnet_id": "subnet-...",
 *        "state": "create-complete",            optional (default create-complete)
 *        "dns_name": "...",                     optional (default <id>.<hash>.ec2-instance-connect-endpoint.<region>.amazonaws.com)
 *        "fips_dns_name": "...",                optional (default <id>.<hash>.fips.ec2-instance-connect-endpoint.<region>.amazonaws.com)
 *        "tags": {"Key": "value"},              optional, up to 16 (DescribeInstanceConnectEndpoints' tagSet, tag filters)
 *        "remote_ports": [22]}                  optional (default [22]): ports OpenTunnel may reach
 *     ],
 *     "key_lifetime": 60,                       optional, seconds, 1..3600
 *     "principals": [                           required, 1..64 entries
 *       {"arn": "...", "access_key_id": "AKIA...", "secret_access_key": "...",
 *        "session_token": "..."}                session_token optional
 *     ],
 *     "roles": [                                optional, up to 32: roles whose temporary credentials
 *       {"arn": "arn:aws:iam::ACCOUNT:role/NAME",  the emulator issues (STS, IMDS, container, SSO);
 *                                                 the caller is then
 *                                                 arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
 *        "trusted": ["glob", ...],              optional: principal ARNs that may AssumeRole it
 *        "external_id": "...",                  optional: the ExternalId AssumeRole must give
 *        "web_identity_tokens": ["..."],        optional: tokens AssumeRoleWithWebIdentity accepts
 *        "instance_profile": true,              optional: IMDS serves its credentials (one role
 *                                               at most; session name: the instance id)
 *        "container_path": "/v2/credentials/x", optional: served at this path (container
 *        "container_authorization": "...",      credentials; session "container"), to requests
 *                                               whose Authorization is this (optional)
 *        "sso_role_name": "PermissionSet",      optional: GetRoleCredentials(account of the
 *        "sso_access_tokens": ["..."],          ARN, this role name) with one of these tokens
 *                                               (session "sso")
 *        "mfa_serial": "arn:aws:iam::ACCOUNT:mfa/NAME",  optional, with "mfa_code": AssumeRole
 *        "mfa_code": "123456",                  must carry SerialNumber and TokenCode equal to them
 *        "max_session_duration": 3600,          optional, 900..43200: the most DurationSeconds,
 *                                               and the lifetime of credentials from IMDS, the
 *                                               container endpoint and the portal
 *        "credential_lifetime": 600}            optional, 60..43200 s: STS and the portal issue
 *     ],                                        credentials of exactly this lifetime, whatever
 *                                               was asked (tests of refreshing clients)
 *     "sso_users": [                            optional, up to 32: who signed in to the SSO portal
 *       {"name": "jdoe",                        2..64 of [\w+=,.@-]: the session name of the
 *        "access_tokens": ["..."],              credentials the portal issues for these tokens
 *                                               (a token of no user: "sso"; the roles' sso_access_tokens
 *                                               say which roles a token may take)
 *        "refresh_tokens": ["..."]}             optional: sso-oidc CreateToken (grant refresh_token)
 *     ],                                        renews the user's first access token for these
 *     "sso_oidc_clients": [                     optional, up to 16: the clients registered with
 *       {"client_id": "...",                    sso-oidc (as `aws sso login` registers one);
 *        "client_secret": "..."}                CreateToken wants one of them
 *     ],
 *     "policy": [                               optional (absent: every principal and role may push for
 *       {"principal": "glob", "instance": "glob", "os_user": "glob"}   any user of the instance
 *       {"action": "OpenTunnel", "principal": "glob", "instance_connect_endpoint": "glob"}
 *     ]                                         and tunnel through every endpoint; []: nobody
 *                                               may do either). "action" is "SendSSHPublicKey"
 *                                               (default) or "OpenTunnel".
 *   }
 */
#ifndef EMU_WORLD_H
#define EMU_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define EMU_WORLD_MAX_SIZE (256 * 1024)
#define EMU_WORLD_MAX_PRINCIPALS 64
#define EMU_WORLD_MAX_POLICY 256
#define EMU_KEY_LIFETIME_MIN 1
#define EMU_KEY_LIFETIME_MAX 3600

struct emu_principal {
    char *arn;
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL: long-term credentials */
    long long expires;   /* Unix time; 0: does not expire (the world's principals) */
};

#define EMU_WORLD_MAX_ROLES 32
#define EMU_ROLE_MAX_ITEMS 16

struct emu_role {
    char *arn;
    char *account_id;                /* from the ARN */
    char *name;                      /* the ARN's last path component */
    char *trusted[EMU_ROLE_MAX_ITEMS];
    size_t n_trusted;
    char *external_id;
    char *web_identity_tokens[EMU_ROLE_MAX_ITEMS];
    size_t n_web_identity_tokens;
    bool instance_profile;
    char *container_path;
    char *container_authorization;
    char *sso_role_name;
    char *sso_access_tokens[EMU_ROLE_MAX_ITEMS];
    size_t n_sso_access_tokens;
    char *mfa_serial; /* NULL: AssumeRole needs no MFA */
    char *mfa_code;
    long credential_lifetime; /* 0: as asked (STS), max_session_duration (the portal) */
    long max_session_duration;
};

struct emu_sso_user {
    char *name;
    char *access_tokens[EMU_ROLE_MAX_ITEMS];
    size_t n_access_tokens;
    char *refresh_tokens[EMU_ROLE_MAX_ITEMS];
    size_t n_refresh_tokens;
};

/* A client registered with sso-oidc. */
struct emu_sso_client {
    char *client_id;
    char *client_secret;
};

enum emu_action {
    EMU_ACTION_PUSH,        /* ec2-instance-connect:SendSSHPublicKey */
    EMU_ACTION_OPEN_TUNNEL, /* ec2-instance-connect:OpenTunnel */
};

struct emu_policy_rule {
    enum emu_action action;
    char *principal; /* fnmatch(3) globs, no FNM_PATHNAME: '*' also matches '/' */
    char *instance;  /* push rules */
    char *os_user;   /* push rules */
    char *endpoint;  /* OpenTunnel rules: the Instance Connect Endpoint id */
};

#define EMU_WORLD_MAX_ENDPOINTS 16
#define EMU_WORLD_MAX_PORTS 16
#define EMU_WORLD_MAX_TAGS 16

struct emu_tag {
    char *key;   /* 1..128 bytes, no control character, not starting with "aws:" */
    char *value; /* 0..256 bytes, no control character */
};

struct emu_endpoint {
    char *id;
    char *vpc_id;
    char *subnet_id;
    char *state;
    char *dns_name;
    char *fips_dns_name;
    struct emu_tag tags[EMU_WORLD_MAX_TAGS];
    size_t n_tags;
    unsigned int remote_ports[EMU_WORLD_MAX_PORTS];
    size_t n_remote_ports;
};

struct emu_world {
    char *source;            /* "embedded default" or the file's path */
    bool is_default;         /* the demo credentials may be printed; a file's secrets never are */
    char *instance_id;
    char *availability_zone;
    char *region;            /* the zone without its final letter */
    char *domain;
    char *account_id;
    bool imdsv2_required;
    char *private_ip;        /* default 127.0.0.1; NULL: none ("private_ip": null, IPv6 only) */
    char *public_ip;         /* NULL: none */
    char *ipv6;              /* NULL: none */
    char *vpc_id;
    char *subnet_id;
    struct emu_endpoint *endpoints;
    size_t n_endpoints;
    long key_lifetime;
    struct emu_principal *principals;
    size_t n_principals;
    struct emu_policy_rule *policy;
    size_t n_policy;
    struct emu_role *roles;
    size_t n_roles;
    struct emu_sso_user *sso_users;
    size_t n_sso_users;
    struct emu_sso_client *sso_oidc_clients;
    size_t n_sso_oidc_clients;
};

/* The embedded default world. Returns 0 or ENOMEM. */
int emu_world_default(struct emu_world **out);
/* Parse a world from memory; name is used in messages. Returns 0, EINVAL (err says which key
 * and why), ENOMEM. */
int emu_world_parse(const char *name, const char *text, size_t len, struct emu_world **out, char *err,
                    size_t err_len);
/* Read and parse a world file. Returns 0, EINVAL, ENOENT/EACCES/EMSGSIZE (err says so), ENOMEM. */
int emu_world_load(const char *path, struct emu_world **out, char *err, size_t err_len);
void emu_world_free(struct emu_world *world);

/* The principal owning access_key_id, or NULL. */
const struct emu_principal *emu_world_principal(const struct emu_world *world, const char *access_key_id);
/* Whether the policy lets principal_arn push a key for os_user on instance_id. */
bool emu_world_allows(const struct emu_world *world, const char *principal_arn, const char *instance_id,
                      const char *os_user);
/* Whether the policy lets principal_arn open tunnels through the endpoint endpoint_id. */
bool emu_world_allows_tunnel(const struct emu_world *world, const char *principal_arn, const char *endpoint_id);
/* The role whose ARN is arn, or NULL. */
const struct emu_role *emu_world_role(const struct emu_world *world, const char *arn);
/* The lifetime of credentials STS or the portal issues for role when asked for asked seconds. */
long emu_role_lifetime(const struct emu_role *role, long asked);
/* The role IMDS serves, or NULL. */
const struct emu_role *emu_world_instance_role(const struct emu_world *world);
/* The endpoint called id, or NULL. */
const struct emu_endpoint *emu_world_endpoint(const struct emu_world *world, const char *id);
/* Human-readable description (secrets only for the embedded default world). */
void emu_world_print(const struct emu_world *world, FILE *out);

#endif
