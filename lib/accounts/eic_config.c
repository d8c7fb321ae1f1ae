/* The configuration file, /etc/eic/eic.conf.
 *
 * Syntax (docs/CONFIG.md is the user-facing description):
 *
 *     # a comment: '#' as the first non-blank character of a line
 *     key = value
 *
 * - One setting per line; blanks (space, tab) around the key, the '=' and the value are ignored.
 * - '#' starts a comment only at the start of a line. A '#' after a value is part of the value,
 *   so values (paths, later ARN globs) may contain '#'.
 * - Values are taken literally: no quoting, no escapes, no variable expansion. They may not be
 *   empty.
 * - Every key may appear once per section; unknown keys are errors, never ignored, because a
 *   misspelt security setting must not silently fall back to its default.
 * - Lines are at most EIC_CONFIG_LINE_MAX bytes; NUL bytes and other control characters (except
 *   tab) are errors, which also rejects CRLF line endings.
 * - "[name ...]" lines open a section: "[map GLOB]" (keys name, groups, logins, email_domain,
 *   lowercase) and "[deny GLOB]" (no
 *   keys) are the principal -> account mapping rules (issue #4, eic_mapping.h), kept in file
 *   order in cfg->mapping. A section's keys run to the next header or the end of the file, so
 *   top-level keys must come before the first section.
 *
 * A file is parsed into a scratch copy of the configuration, which replaces the caller's only
 * once the whole file is good: a bad file never leaves half of itself applied. */
#include "eic_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "eic_log.h"
#include "eic_metadata.h"
#include "eic_proto.h"
#include "eic_util.h"

#define EIC_CONFIG_LINE_MAX 4096 /* bytes per line, not counting the '\n' */
#define KEY_NAME_MAX 64          /* longer keys are refused before they are ever echoed */
#define VALUE_ECHO_MAX 40        /* at most this much of a bad value goes into a message */

/* ---- parser state --------------------------------------------------------------------- */

struct config_key;

/* One section type. The top level is a section without a name. "[map ...]" and "[deny ...]"
 * (issue #4) are entries in config_sections[]: begin() appends a fresh rule to the configuration
 * and returns it as the object its keys' setters fill, end() checks the rule is complete. */
struct config_section {
    const char *name;                 /* the word after '['; NULL for the top level */
    const struct config_key *keys;
    size_t n_keys;
    /* "[name args]" seen on line `line`. Returns 0 and sets *obj, or EINVAL/ENOMEM with why
     * filled in. */
    int (*begin)(struct eic_config *cfg, const char *args, size_t line, void **obj, char *why, size_t why_len);
    /* The section ends (next header or end of file). Returns 0 or EINVAL with why filled in; the
     * error is reported at the section's header line, where the incomplete section is. */
    int (*end)(struct eic_config *cfg, void *obj, char *why, size_t why_len);
};

/* One key: where it is stored (offset into the section's object), its range when it is a
 * number, and the setter that parses and checks the value. Setters return 0, ENOMEM, or EINVAL
 * with a reason (not naming the file or line: the caller adds those) in why. */
struct config_key {
    const char *name;
    size_t offset;
    long min;
    long max;
    int (*set)(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len);
};

struct parse_ctx {
    const char *name;                 /* file name for messages */
    size_t lineno;
    struct eic_config *cfg;           /* the scratch configuration being filled */
    const struct config_section *section;
    void *obj;                        /* what the current section's setters write into */
    size_t section_line;              /* line of the current section's header; 0 at the top level */
    uint64_t seen;                    /* bit i: key i of the current section was set */
    size_t top_lines[64];             /* line each top-level key was set on (0: not set), for
                                         checks that involve two keys */
    char *err;
    size_t err_len;
};

/* Blanks around keys, values, header arguments and list items. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- messages ------------------------------------------------------------------------- */


/* "name:line: reason"; returns EINVAL so callers can `return fail(...)`. */
static int fail(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse_ctx *ctx, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    eic_set_err(ctx->err, ctx->err_len, "%s:%zu: %s", ctx->name, ctx->lineno, reason);
    return EINVAL;
}

/* A bad value is quoted in a message, but cut short: the line may be 4 KiB long. Values have
 * already been checked to hold no control characters, so they cannot forge log lines. */
static const char *ellipsis(const char *value)
{
    return strlen(value) > VALUE_ECHO_MAX ? "..." : "";
}

/* "path: reason" for errors about the whole file. strerror_r (GNU form), not strerror: this
 * code runs inside multi-threaded hosts through NSS. */
static void set_file_err(char *err, size_t err_len, const char *path, int errnum)
{
    char buf[128];

    eic_set_err(err, err_len, "%s: %s", path, strerror_r(errnum, buf, sizeof(buf)));
}

/* ---- setters -------------------------------------------------------------------------- */

/* Decimal integer, whole value consumed, within [key->min, key->max]. strtol alone would accept
 * leading blanks, a '+' and trailing junk; none of that is allowed here. */
static int set_long(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    char *end = NULL;
    long v;

    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            eic_set_err(why, why_len, "'%s' must be a decimal integer in %ld..%ld, not '%.*s%s'", key->name,
                    key->min, key->max, VALUE_ECHO_MAX, value, ellipsis(value));
            return EINVAL;
        }
    }
    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < key->min || v > key->max) {
        eic_set_err(why, why_len, "'%s' must be in %ld..%ld, not '%.*s%s'", key->name, key->min, key->max,
                VALUE_ECHO_MAX, value, ellipsis(value));
        return EINVAL;
    }
    *(long *)(void *)((char *)obj + key->offset) = v;
    return 0;
}

static int replace_string(char **slot, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL) {
        return ENOMEM;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

static int set_endpoint(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    if (eic_config_check_endpoint(value) != 0) {
        eic_set_err(why, why_len, "'%s' must be http://IPV4[:PORT] or http://[IPV6][:PORT] (no host name, no path), "
                "not '%.*s%s'", key->name, VALUE_ECHO_MAX, value, ellipsis(value));
        return EINVAL;
    }
    return replace_string((char **)(void *)((char *)obj + key->offset), value);
}

/* Files named in the configuration are opened by programs whose working directory is not
 * under the administrator's control (sshd's AuthorizedKeysCommand, NSS inside any process), so
 * a relative path would mean something different in each of them. */
static int set_abs_path(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    if (value[0] != '/') {
        eic_set_err(why, why_len, "'%s' must be an absolute path, not '%.*s%s'", key->name, VALUE_ECHO_MAX, value,
                ellipsis(value));
        return EINVAL;
    }
    return replace_string((char **)(void *)((char *)obj + key->offset), value);
}

static const struct {
    const char *name;
    int priority;
} log_levels[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"notice", LOG_NOTICE}, {"warning", LOG_WARNING}, {"error", LOG_ERR},
};

static int set_log_level(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
        if (strcmp(value, log_levels[i].name) == 0) {
            *(int *)(void *)((char *)obj + key->offset) = log_levels[i].priority;
            return 0;
        }
    }
    eic_set_err(why, why_len, "'%s' must be one of debug, info, notice, warning, error, not '%.*s%s'", key->name,
            VALUE_ECHO_MAX, value, ellipsis(value));
    return EINVAL;
}

/* UIDs and GIDs for mapped accounts. A setter of its own rather than set_long: the upper bound
 * 4294967294 (the largest uid_t that is not (uid_t)-1) does not fit a 32-bit long. */
#define EIC_ID_MIN 1000UL
#define EIC_ID_MAX 4294967294UL

static int set_id(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    unsigned long long v;
    char *end = NULL;

    if (strspn(value, "0123456789") != strlen(value)) {
        goto bad;
    }
    errno = 0;
    v = strtoull(value, &end, 10);
    if (errno != 0 || *end != '\0' || v < EIC_ID_MIN || v > EIC_ID_MAX) {
        goto bad;
    }
    *(uid_t *)(void *)((char *)obj + key->offset) = (uid_t)v;
    return 0;

bad:
    eic_set_err(why, why_len, "'%s' must be a decimal integer in %lu..%lu, not '%.*s%s'", key->name, EIC_ID_MIN,
            EIC_ID_MAX, VALUE_ECHO_MAX, value, ellipsis(value));
    return EINVAL;
}

/* A path that ends up in a passwd entry (pw_dir, pw_shell): absolute, and without ':', the
 * field separator of every passwd-format consumer (getent output, /etc/passwd-style parsers). */
static int set_passwd_path(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    if (strchr(value, ':') != NULL) {
        eic_set_err(why, why_len, "'%s' may not contain ':' (it goes into passwd entries)", key->name);
        return EINVAL;
    }
    return set_abs_path(key, obj, value, why, why_len);
}

/* The base of home directories, HOME_BASE/NAME: a trailing '/' would give "//" in every home. */
static int set_home_base(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    size_t len = strlen(value);

    if (len > 1 && value[len - 1] == '/') {
        eic_set_err(why, why_len, "'%s' must not end with '/'", key->name);
        return EINVAL;
    }
    return set_passwd_path(key, obj, value, why, why_len);
}

/* ---- mapping rules: "[map GLOB]" and "[deny GLOB]" ------------------------------------ */

/* "name = TEMPLATE" in a [map] section. */
static int set_template(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    int ret = eic_template_check(value, why, why_len);

    if (ret != 0) {
        return ret;
    }
    return replace_string((char **)(void *)((char *)obj + key->offset), value);
}

/* "groups = a, b, c": login-name-valid group names, blanks around commas ignored, no empty
 * entry, no duplicate, at most EIC_MAX_RULE_GROUPS. */
static int set_groups(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    struct eic_rule *rule = obj;
    char *groups[EIC_MAX_RULE_GROUPS];
    size_t n = 0;
    const char *p = value;
    int ret = 0;

    (void)key;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char *name;

        while (len > 0 && is_blank(*p)) {
            p++;
            len--;
        }
        while (len > 0 && is_blank(p[len - 1])) {
            len--;
        }
        if (len == 0) {
            eic_set_err(why, why_len, "empty group name in 'groups'");
            ret = EINVAL;
            goto done;
        }
        if (n == EIC_MAX_RULE_GROUPS) {
            eic_set_err(why, why_len, "more than %d groups in 'groups'", EIC_MAX_RULE_GROUPS);
            ret = EINVAL;
            goto done;
        }
        name = strndup(p, len);
        if (name == NULL) {
            ret = ENOMEM;
            goto done;
        }
        groups[n++] = name;
        /* All digits: chgrp and friends would take it for a GID. */
        if (!eic_valid_login_name(name) || strspn(name, "0123456789") == len) {
            eic_set_err(why, why_len, "invalid group name '%.*s%s' in 'groups' (1..%d of A-Z, a-z, 0-9, '.', '_', "
                    "'-', not starting with '-' or '.', not all digits)", VALUE_ECHO_MAX, name, ellipsis(name),
                    EIC_LOGIN_NAME_MAX);
            ret = EINVAL;
            goto done;
        }
        for (size_t i = 0; i + 1 < n; i++) {
            if (strcmp(groups[i], name) == 0) {
                eic_set_err(why, why_len, "group '%s' listed twice in 'groups'", name);
                ret = EINVAL;
                goto done;
            }
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    for (size_t i = 0; i < rule->n_groups; i++) {
        free(rule->groups[i]);
    }
    memcpy(rule->groups, groups, n * sizeof(groups[0]));
    rule->n_groups = n;
    n = 0;

done:
    for (size_t i = 0; i < n; i++) {
        free(groups[i]);
    }
    return ret;
}

/* Append a rule for "[KIND GLOB]" on line `line`. */
static int rule_begin(struct eic_config *cfg, enum eic_rule_kind kind, const char *args, size_t line, void **obj,
                      char *why, size_t why_len)
{
    struct eic_mapping *m = &cfg->mapping;
    struct eic_rule *rules;
    struct eic_rule *rule;
    int ret = eic_glob_check(args, why, why_len);

    if (ret != 0) {
        return ret;
    }
    /* One rule more per section; the file's size bounds the count. */
    rules = realloc(m->rules, (m->n_rules + 1) * sizeof(*rules));
    if (rules == NULL) {
        return ENOMEM;
    }
    m->rules = rules;
    rule = &rules[m->n_rules];
    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    rule->line = line > UINT_MAX ? UINT_MAX : (unsigned int)line;
    rule->pattern = strdup(args);
    if (rule->pattern == NULL) {
        return ENOMEM;
    }
    m->n_rules++;
    *obj = rule;
    return 0;
}

static int map_begin(struct eic_config *cfg, const char *args, size_t line, void **obj, char *why, size_t why_len)
{
    return rule_begin(cfg, EIC_RULE_MAP, args, line, obj, why, why_len);
}

static int deny_begin(struct eic_config *cfg, const char *args, size_t line, void **obj, char *why, size_t why_len)
{
    return rule_begin(cfg, EIC_RULE_DENY, args, line, obj, why, why_len);
}

static int map_end(struct eic_config *cfg, void *obj, char *why, size_t why_len)
{
    const struct eic_rule *rule = obj;

    (void)cfg;
    if (rule->name_template == NULL) {
        eic_set_err(why, why_len, "'[map ...]' section without a 'name' (the login name template)");
        return EINVAL;
    }
    /* The rule as a whole, now that all its keys are known: no two identities may ever derive
     * one name through it (docs/CONFIG.md, "Unique by construction"). */
    return eic_rule_check(rule, why, why_len);
}

/* "email_domain = example.com" (eic_mapping.h). */
static int set_email_domain(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    int ret = eic_email_domain_check(value, why, why_len);

    if (ret != 0) {
        return ret;
    }
    return replace_string((char **)(void *)((char *)obj + key->offset), value);
}

/* "yes" or "no", nothing else (no "true", "1", "on": one spelling to grep for). */
static int set_yes_no(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    bool *flag = (bool *)(void *)((char *)obj + key->offset);

    if (strcmp(value, "yes") == 0) {
        *flag = true;
    } else if (strcmp(value, "no") == 0) {
        *flag = false;
    } else {
        eic_set_err(why, why_len, "'%s' must be 'yes' or 'no', not '%.*s%s'", key->name, VALUE_ECHO_MAX, value,
                    ellipsis(value));
        return EINVAL;
    }
    return 0;
}

/* "logins = pushed-keys | any": how a map rule's accounts may log in (docs/CONFIG.md). */
static int set_logins(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    bool *any = (bool *)(void *)((char *)obj + key->offset);

    if (strcmp(value, "pushed-keys") == 0) {
        *any = false;
    } else if (strcmp(value, "any") == 0) {
        *any = true;
    } else {
        eic_set_err(why, why_len, "'%s' must be 'pushed-keys' or 'any', not '%.*s%s'", key->name, VALUE_ECHO_MAX,
                    value, ellipsis(value));
        return EINVAL;
    }
    return 0;
}

/* A local account name (the service looks it up with getpwnam). */
static int set_login_name(const struct config_key *key, void *obj, const char *value, char *why, size_t why_len)
{
    if (!eic_valid_login_name(value)) {
        eic_set_err(why, why_len, "'%s' must be a valid login name, not '%.*s%s'", key->name, VALUE_ECHO_MAX, value,
                    ellipsis(value));
        return EINVAL;
    }
    return replace_string((char **)(void *)((char *)obj + key->offset), value);
}

/* ---- the tables ----------------------------------------------------------------------- */

#define LONG_KEY(field, lo, hi) {#field, offsetof(struct eic_config, field), (lo), (hi), set_long}
#define KEY(field, setter) {#field, offsetof(struct eic_config, field), 0, 0, (setter)}
#define RULE_KEY(name, field, setter) {(name), offsetof(struct eic_rule, field), 0, 0, (setter)}

/* The top-level keys. A new setting is one line here plus its field, default and documentation
 * (eic_config.h, eic_config_defaults(), configs/eic.conf, docs/CONFIG.md). */
static const struct config_key top_keys[] = {
    KEY(imds_endpoint, set_endpoint),
    LONG_KEY(imds_timeout_ms, 1, 60000),
    LONG_KEY(imds_token_ttl, 1, 21600),
    LONG_KEY(imds_max_response, 1024, 16L * 1024 * 1024),
    LONG_KEY(deadline_ms, 100, 60000),
    KEY(ca_file, set_abs_path),
    KEY(ca_path, set_abs_path),
    KEY(log_file, set_abs_path),
    KEY(log_level, set_log_level),
    KEY(uid_min, set_id),
    KEY(uid_max, set_id),
    KEY(cache_dir, set_abs_path),
    KEY(home_base, set_home_base),
    KEY(shell, set_passwd_path),
    LONG_KEY(negative_cache_ttl, 0, 3600),
    KEY(service_socket, set_abs_path),
    KEY(authorized_keys_user, set_login_name),
};

static const struct config_key map_keys[] = {
    RULE_KEY("name", name_template, set_template),
    RULE_KEY("groups", groups, set_groups),
    RULE_KEY("logins", any_login, set_logins),
    RULE_KEY("email_domain", email_domain, set_email_domain),
    RULE_KEY("lowercase", lowercase, set_yes_no),
};

static const struct config_section config_sections[] = {
    {NULL, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), NULL, NULL},
    {"map", map_keys, sizeof(map_keys) / sizeof(map_keys[0]), map_begin, map_end},
    {"deny", NULL, 0, deny_begin, NULL},
};

/* The seen-set is one bit per key (and top_lines has 64 slots). */
_Static_assert(sizeof(top_keys) / sizeof(top_keys[0]) <= 64, "more than 64 keys in one section");
_Static_assert(sizeof(map_keys) / sizeof(map_keys[0]) <= 64, "more than 64 keys in one section");

/* ---- defaults and lifetime ------------------------------------------------------------ */

int eic_config_defaults(struct eic_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->imds_timeout_ms = 1000;
    cfg->imds_token_ttl = 21600;
    cfg->imds_max_response = 1024L * 1024;
    cfg->deadline_ms = 5000;
    cfg->log_level = LOG_INFO;
    /* Allocated (not a string literal) so that every string field is owned the same way and a
     * setter can simply free the previous value. */
    cfg->imds_endpoint = strdup("http://169.254.169.254");
    /* Clear of every range a Linux host hands out on its own: regular users (1000..60000),
     * systemd's (homed, DynamicUser, containers 524288..1879048191, foreign 2147352576..),
     * shadow's subordinate IDs (SUB_UID_MIN..SUB_UID_MAX, 100000..600100000: a local user's
     * /etc/subuid range lets them act as those UIDs in a user namespace) and SSSD's default ID
     * mapping (200000..2000200000); below 2^31 for software that keeps a UID in an int. */
    cfg->uid_min = 2010000000;
    cfg->uid_max = 2109999999;
    cfg->negative_cache_ttl = 15;
    cfg->cache_dir = strdup("/var/lib/eic");
    cfg->home_base = strdup("/home");
    cfg->shell = strdup("/bin/bash");
    cfg->service_socket = strdup(EIC_SERVICE_SOCKET_DEFAULT);
    cfg->authorized_keys_user = strdup("eic");
    if (cfg->imds_endpoint == NULL || cfg->cache_dir == NULL || cfg->home_base == NULL || cfg->shell == NULL ||
        cfg->service_socket == NULL || cfg->authorized_keys_user == NULL) {
        return ENOMEM;
    }
    return 0;
}

void eic_config_free(struct eic_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free(cfg->imds_endpoint);
    free(cfg->ca_file);
    free(cfg->ca_path);
    free(cfg->log_file);
    free(cfg->cache_dir);
    free(cfg->home_base);
    free(cfg->shell);
    free(cfg->service_socket);
    free(cfg->authorized_keys_user);
    cfg->imds_endpoint = NULL;
    cfg->ca_file = NULL;
    cfg->ca_path = NULL;
    cfg->log_file = NULL;
    cfg->cache_dir = NULL;
    cfg->home_base = NULL;
    cfg->shell = NULL;
    cfg->service_socket = NULL;
    cfg->authorized_keys_user = NULL;
    eic_mapping_free(&cfg->mapping);
}

/* ---- endpoint ------------------------------------------------------------------------- */

int eic_config_check_endpoint(const char *endpoint)
{
    static const char scheme[] = "http://";
    char host[INET6_ADDRSTRLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *p;
    const char *host_end;
    size_t host_len;
    int family;

    if (endpoint == NULL || strncmp(endpoint, scheme, sizeof(scheme) - 1) != 0) {
        return EINVAL;
    }
    p = endpoint + sizeof(scheme) - 1;
    if (*p == '[') {
        p++;
        host_end = strchr(p, ']');
        if (host_end == NULL) {
            return EINVAL;
        }
        family = AF_INET6;
    } else {
        host_end = p + strspn(p, "0123456789.");
        family = AF_INET;
    }
    host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof(host)) {
        return EINVAL;
    }
    memcpy(host, p, host_len);
    host[host_len] = '\0';
    /* inet_pton is strict: exactly four decimal parts without leading zeros for IPv4 (no
     * "127.1", no octal, no hex), and no zone index ("%eth0") for IPv6. */
    if (inet_pton(family, host, addr) != 1) {
        return EINVAL;
    }
    p = host_end + (family == AF_INET6 ? 1 : 0);
    if (*p == ':') {
        size_t digits;
        long port = 0;

        p++;
        digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 5 || p[digits] != '\0') {
            return EINVAL;
        }
        for (size_t i = 0; i < digits; i++) {
            port = port * 10 + (p[i] - '0');
        }
        if (port < 1 || port > 65535) {
            return EINVAL;
        }
        p += digits;
    }
    return *p == '\0' ? 0 : EINVAL;
}

/* ---- the parser ----------------------------------------------------------------------- */

/* Close the current section: its end() hook checks it is complete. An incomplete section is
 * reported at its header line, not at whatever line happens to follow it. */
static int end_section(struct parse_ctx *ctx)
{
    char why[200];
    size_t lineno = ctx->lineno;
    int ret;

    if (ctx->section->end == NULL) {
        return 0;
    }
    why[0] = '\0';
    ret = ctx->section->end(ctx->cfg, ctx->obj, why, sizeof(why));
    if (ret == EINVAL) {
        ctx->lineno = ctx->section_line;
        ret = fail(ctx, "%s", why);
        ctx->lineno = lineno;
    }
    return ret;
}

static size_t top_key_line(const struct parse_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
        if (strcmp(top_keys[i].name, name) == 0) {
            return ctx->top_lines[i];
        }
    }
    return 0;
}

/* Checks that involve more than one top-level key, once the whole file is read; reported at the
 * later of the lines involved. */
static int check_top_level(struct parse_ctx *ctx)
{
    const struct eic_config *cfg = ctx->cfg;
    size_t min_line = top_key_line(ctx, "uid_min");
    size_t max_line = top_key_line(ctx, "uid_max");

    /* At least 100 IDs: hashing names into a smaller range would make collisions the rule. */
    if (cfg->uid_min >= cfg->uid_max || cfg->uid_max - cfg->uid_min < 99) {
        ctx->lineno = min_line > max_line ? min_line : max_line;
        return fail(ctx, "'uid_min' (%lu) must be below 'uid_max' (%lu), with at least 100 IDs in the range",
                    (unsigned long)cfg->uid_min, (unsigned long)cfg->uid_max);
    }
    return 0;
}

/* "[name args]": close the current section and open the named one. */
static int parse_section_header(struct parse_ctx *ctx, char *line, size_t len)
{
    const struct config_section *section = NULL;
    char why[200];
    char *name;
    char *args;
    size_t name_len;
    int ret;

    if (line[len - 1] != ']') {
        return fail(ctx, "section header must end with ']'");
    }
    line[len - 1] = '\0';
    name = line + 1;
    while (is_blank(*name)) {
        name++;
    }
    name_len = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (name_len == 0 || name_len > KEY_NAME_MAX || (name[name_len] != '\0' && !is_blank(name[name_len]))) {
        return fail(ctx, "invalid section header (expected '[name ...]' with name in a-z, 0-9, _)");
    }
    args = name + name_len;
    if (*args != '\0') {
        *args++ = '\0';
        while (is_blank(*args)) {
            args++;
        }
        for (size_t end = strlen(args); end > 0 && is_blank(args[end - 1]); end--) {
            args[end - 1] = '\0';
        }
    }
    for (size_t i = 0; i < sizeof(config_sections) / sizeof(config_sections[0]); i++) {
        if (config_sections[i].name != NULL && strcmp(config_sections[i].name, name) == 0) {
            section = &config_sections[i];
            break;
        }
    }
    if (section == NULL) {
        return fail(ctx, "unknown section '[%s]'", name);
    }
    ret = end_section(ctx);
    if (ret != 0) {
        return ret;
    }
    ctx->section = section;
    ctx->section_line = ctx->lineno;
    ctx->seen = 0;
    ctx->obj = NULL;
    why[0] = '\0';
    ret = section->begin(ctx->cfg, args, ctx->lineno, &ctx->obj, why, sizeof(why));
    if (ret == EINVAL) {
        return fail(ctx, "%s", why);
    }
    return ret;
}

/* "key = value", already stripped of surrounding blanks. */
static int parse_setting(struct parse_ctx *ctx, char *line)
{
    const struct config_section *section = ctx->section;
    char why[256];
    char *eq = strchr(line, '=');
    char *key = line;
    char *value;
    size_t key_len;
    int ret;

    if (eq == NULL) {
        return fail(ctx, "expected 'key = value'");
    }
    key_len = (size_t)(eq - line);
    while (key_len > 0 && is_blank(key[key_len - 1])) {
        key_len--;
    }
    if (key_len == 0) {
        return fail(ctx, "missing key before '='");
    }
    key[key_len] = '\0';
    /* Keys are checked before they are echoed in any message. */
    if (key_len > KEY_NAME_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != key_len) {
        return fail(ctx, "invalid key (keys are at most %d characters of a-z, 0-9, _)", KEY_NAME_MAX);
    }
    value = eq + 1;
    while (is_blank(*value)) {
        value++;
    }
    if (*value == '\0') {
        return fail(ctx, "empty value for '%s'", key);
    }
    for (size_t i = 0; i < section->n_keys; i++) {
        const struct config_key *k = &section->keys[i];

        if (strcmp(k->name, key) != 0) {
            continue;
        }
        if (ctx->seen & (UINT64_C(1) << i)) {
            return fail(ctx, "duplicate key '%s'", key);
        }
        ctx->seen |= UINT64_C(1) << i;
        if (section == &config_sections[0]) {
            ctx->top_lines[i] = ctx->lineno;
        }
        why[0] = '\0';
        ret = k->set(k, ctx->obj, value, why, sizeof(why));
        if (ret == EINVAL) {
            return fail(ctx, "%s", why);
        }
        return ret;
    }
    if (section->name != NULL) {
        for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
            if (strcmp(top_keys[i].name, key) == 0) {
                return fail(ctx, "unknown key '%s' in section '[%s]' (top-level settings go before the first "
                            "section)", key, section->name);
            }
        }
        return fail(ctx, "unknown key '%s' in section '[%s]'", key, section->name);
    }
    return fail(ctx, "unknown key '%s'", key);
}

/* One line, without its '\n'. line[len] is writable (it held the '\n' or is the spare byte of
 * the copy), so the line can be NUL-terminated in place. */
static int parse_line(struct parse_ctx *ctx, char *line, size_t len)
{
    if (len > EIC_CONFIG_LINE_MAX) {
        return fail(ctx, "line longer than %d bytes", EIC_CONFIG_LINE_MAX);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c == '\0') {
            return fail(ctx, "NUL byte in line");
        }
        if (c == '\r') {
            return fail(ctx, "carriage return in line (DOS line endings are not accepted)");
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return fail(ctx, "control character 0x%02x in line", c);
        }
    }
    line[len] = '\0';
    while (len > 0 && is_blank(line[len - 1])) {
        line[--len] = '\0';
    }
    while (is_blank(*line)) {
        line++;
        len--;
    }
    if (len == 0 || line[0] == '#') {
        return 0;
    }
    if (line[0] == '[') {
        return parse_section_header(ctx, line, len);
    }
    return parse_setting(ctx, line);
}

int eic_config_parse(const char *name, const char *text, size_t len, struct eic_config *cfg, char *err,
                     size_t err_len)
{
    struct eic_config scratch;
    struct parse_ctx ctx;
    char *copy = NULL;
    size_t pos = 0;
    int ret;

    eic_set_err(err, err_len, "%s", "");
    ret = eic_config_defaults(cfg);
    if (ret != 0) {
        return ret;
    }
    if (len > EIC_CONFIG_MAX_SIZE) {
        eic_set_err(err, err_len, "%s: larger than %d bytes", name, EIC_CONFIG_MAX_SIZE);
        return EMSGSIZE;
    }
    ret = eic_config_defaults(&scratch);
    if (ret != 0) {
        goto done;
    }
    /* A private, writable copy with one spare byte: lines are cut in place. */
    copy = malloc(len + 1);
    if (copy == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (len > 0) {
        memcpy(copy, text, len);
    }
    copy[len] = '\0';

    memset(&ctx, 0, sizeof(ctx));
    ctx.name = name;
    ctx.cfg = &scratch;
    ctx.section = &config_sections[0];
    ctx.obj = &scratch;
    ctx.err = err;
    ctx.err_len = err_len;
    while (pos < len) {
        char *nl = memchr(copy + pos, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (copy + pos)) : len - pos;

        ctx.lineno++;
        ret = parse_line(&ctx, copy + pos, line_len);
        if (ret != 0) {
            goto done;
        }
        pos += line_len + 1;
    }
    ret = end_section(&ctx);
    if (ret != 0) {
        goto done;
    }
    ret = check_top_level(&ctx);
    if (ret != 0) {
        goto done;
    }
    /* Commit: the whole file was good. */
    eic_config_free(cfg);
    *cfg = scratch;
    memset(&scratch, 0, sizeof(scratch));

done:
    eic_config_free(&scratch);
    free(copy);
    return ret;
}

/* Read at most EIC_CONFIG_MAX_SIZE + 1 bytes: one byte more than allowed is enough to know
 * the file is too large, whatever fstat said (the file may grow while it is read). */
static int read_all(int fd, char **out, size_t *out_len)
{
    size_t cap = EIC_CONFIG_MAX_SIZE + 1;
    size_t len = 0;
    char *buf = malloc(cap);

    if (buf == NULL) {
        return ENOMEM;
    }
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);

        if (n < 0) {
            int saved = errno;

            if (saved == EINTR) {
                continue;
            }
            free(buf);
            return saved;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int eic_config_load(const char *path, uid_t owner, struct eic_config *cfg, char *err, size_t err_len)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int fd = -1;
    int ret;

    if (path == NULL) {
        path = EIC_CONFIG_DEFAULT_PATH;
    }
    eic_set_err(err, err_len, "%s", "");
    ret = eic_config_defaults(cfg);
    if (ret != 0) {
        goto done;
    }
    /* No O_NOFOLLOW: /etc/eic/eic.conf is legitimately a symlink on systems whose /etc is
     * assembled by configuration management (NixOS /etc/static, ostree, Ansible "link" setups),
     * and following it is safe because only root can place that symlink in a root-owned /etc.
     * What matters is what is finally opened, and fstat below checks that on the open fd.
     * O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer appears; the
     * flag has no effect on the regular files that pass the fstat check. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ret = errno;
        set_file_err(err, err_len, path, ret);
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        ret = errno;
        set_file_err(err, err_len, path, ret);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = EINVAL;
        eic_set_err(err, err_len, "%s: not a regular file", path);
        goto done;
    }
    /* Checked on the open fd, not by a stat() of the path beforehand, so that what is read is
     * what was checked: a path swapped between the two would otherwise pass. */
    if ((st.st_uid != 0 && st.st_uid != owner) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ret = EPERM;
        eic_set_err(err, err_len, "%s must be owned by root and writable by root only; refusing to use it", path);
        goto done;
    }
    if (st.st_size > EIC_CONFIG_MAX_SIZE) {
        ret = EMSGSIZE;
        eic_set_err(err, err_len, "%s: larger than %d bytes", path, EIC_CONFIG_MAX_SIZE);
        goto done;
    }
    ret = read_all(fd, &text, &len);
    if (ret != 0) {
        set_file_err(err, err_len, path, ret);
        goto done;
    }
    /* eic_config_parse() starts again from the defaults, so release the ones set above first. */
    eic_config_free(cfg);
    ret = eic_config_parse(path, text, len, cfg, err, err_len);

done:
    if (fd >= 0) {
        close(fd);
    }
    free(text);
    return ret;
}
