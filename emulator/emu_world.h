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
 *       "private_ip": "127.0.0.1",              optional IPv4 (default 127.0.0.1), DescribeInstances
 *       "public_ip": "203.0.113.5",             optional IPv4 (default none)
 *       "ipv6": "2001:db8::5"                   optional IPv6 (default none)
 *     },
 *     "key_lifetime": 60,                       optional, seconds, 1..3600
 *     "principals": [                           required, 1..64 entries
 *       {"arn": "...", "access_key_id": "AKIA...", "secret_access_key": "...",
 *        "session_token": "..."}                session_token optional
 *     ],
 *     "policy": [                               optional (absent: every principal may push for
 *       {"principal": "glob", "instance": "glob", "os_user": "glob"}   any user of the instance;
 *     ]                                         [] : nobody may push)
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
};

struct emu_policy_rule {
    char *principal; /* fnmatch(3) globs, no FNM_PATHNAME: '*' also matches '/' */
    char *instance;
    char *os_user;
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
    char *private_ip;        /* never NULL once parsed (default 127.0.0.1) */
    char *public_ip;         /* NULL: none */
    char *ipv6;              /* NULL: none */
    long key_lifetime;
    struct emu_principal *principals;
    size_t n_principals;
    struct emu_policy_rule *policy;
    size_t n_policy;
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
/* Human-readable description (secrets only for the embedded default world). */
void emu_world_print(const struct emu_world *world, FILE *out);

#endif
