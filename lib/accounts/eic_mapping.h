/* IAM principal -> local account mapping (docs/CONFIG.md, "Mapping rules").
 *
 * Rules live in eic.conf as sections, evaluated in file order (the example is in // lines below
 * because the patterns contain the two characters that would end this comment). */
//
//   # deny rules win over every map rule
//   [deny arn:aws:iam::111122223333:user/mallory]
//
//   # name: the role session name; groups: extra groups (local or eic-managed)
//   [map arn:aws:sts::111122223333:assumed-role/Admins/*]
//   name = {session}
//   groups = sudo, eic-admins
//
//   [map arn:aws:iam::111122223333:user/*]
//   name = {user}
//
/* (eic.conf has no trailing comments: a '#' after a value is part of the value.)
 *
 * Pattern: a glob over the whole ARN ('*' matches any run of characters including '/' and ':',
 * '?' one character; no other metacharacters). A principal is denied when any deny rule matches;
 * otherwise the first matching map rule decides; no match: not mapped.
 * Name template placeholders: {user} (IAM user name, last path element), {role} (role name),
 * {session} (role session name), {account} (12 digits), {email_local} (LOCAL of a session or
 * IAM user name "LOCAL@DOMAIN" whose DOMAIN is the rule's email_domain); literal text around them
 * is kept ("aws-{user}"). A placeholder the ARN does not have (e.g. {session} for an IAM user,
 * {email_local} for a name of another domain) makes the rule not apply to that ARN. The derived
 * name (lower-cased with "lowercase = yes") must pass eic_valid_login_name() and is refused,
 * never mangled, otherwise.
 *
 * Unique by construction: eic_rule_check(), run when the configuration is loaded, refuses a map
 * rule through which two identities (eic_same_identity() false) could derive one name.
 *
 * This file is pure (no I/O) and libc-only, so the light part of nss_eic can use it. */
#ifndef EIC_MAPPING_H
#define EIC_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#define EIC_MAX_RULE_GROUPS 16
#define EIC_ARN_MAX 2048

enum eic_rule_kind {
    EIC_RULE_MAP,
    EIC_RULE_DENY,
};

struct eic_rule {
    enum eic_rule_kind kind;
    char *pattern;                       /* ARN glob */
    char *name_template;                 /* map rules only */
    char *groups[EIC_MAX_RULE_GROUPS];   /* map rules only: group names */
    size_t n_groups;
    bool any_login;                      /* map rules only: "logins = any" — the accounts may also log
                                            in without a key verified at that login (authorized_keys,
                                            a password); default: a pushed key only (revocation) */
    char *email_domain;                  /* map rules only, NULL when unset: the rule applies to user
                                            and session names "LOCAL@email_domain" only, and
                                            {email_local} is LOCAL */
    bool lowercase;                      /* map rules only: "lowercase = yes" — the derived name is
                                            lower-cased (a source that is case-insensitive) */
    unsigned int line;                   /* line of the section header, for log lines */
};

struct eic_mapping {
    struct eic_rule *rules;
    size_t n_rules;
};

/* A parsed principal ARN. Supported forms (partition aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b):
 *   arn:PART:iam::ACCOUNT:user[/path]/NAME
 *   arn:PART:sts::ACCOUNT:assumed-role/ROLE/SESSION
 *   arn:PART:iam::ACCOUNT:role[/path]/NAME
 * Every part is checked against IAM's character rules; anything else is EBADMSG. */
struct eic_principal {
    char account[13];
    char user[65];      /* "" when absent */
    char role[65];
    char session[65];
};

int eic_principal_parse(const char *arn, struct eic_principal *out);

/* The role name prefix IAM Identity Center gives the roles of its permission sets
 * (AWSReservedSSO_<PermissionSet>_<hex>, path /aws-reserved/sso.amazonaws.com/). */
#define EIC_IDENTITY_CENTER_ROLE_PREFIX "AWSReservedSSO_"

/* Are a and b (principal ARNs) the same identity, so that one account may serve both? An account
 * belongs to the identity that created it (docs/SECURITY.md, "One identity per account"):
 *   - the same ARN: an IAM user across its pushes, a role session of the same role and name;
 *   - IAM Identity Center: role sessions of roles named AWSReservedSSO_* in the same partition and
 *     AWS account with the same session name — one Identity Center user (Identity Center sets
 *     the session name to the user name) under any of their permission sets.
 * Anything else is another identity: an IAM user and a role session of the same name, two roles'
 * sessions of the same name, the same name in two AWS accounts. Pure, libc only. */
bool eic_same_identity(const char *a, const char *b);

enum eic_map_status {
    EIC_MAP_OK = 0,
    EIC_MAP_DENIED,      /* a deny rule matched */
    EIC_MAP_NO_RULE,     /* no map rule matched */
    EIC_MAP_BAD_ARN,     /* not a principal ARN eic understands */
    EIC_MAP_BAD_NAME,    /* the first matching rule derived an invalid login name */
};

/* Map arn to a local name (name must hold EIC_LOGIN_NAME_MAX + 1 bytes). *rule is set to the
 * deciding rule (deny or map), or NULL. The first map rule that matches and applies decides even
 * when its name is refused (BAD_NAME: no later rule is tried). Besides eic_valid_login_name(), an
 * all-digit name (taken for a UID by chown, id, find) and one that does not fit name_len are
 * refused. Pure: the caller logs the outcome (eic_map_status_name(), rule->line). */
enum eic_map_status eic_mapping_resolve(const struct eic_mapping *mapping, const char *arn, char *name,
                                        size_t name_len, const struct eic_rule **rule);
const char *eic_map_status_name(enum eic_map_status status);
/* Can a rule ever derive name? eic_valid_login_name(), not all digits, no final '$'. The one test
 * of a derived name (eic_mapping_resolve() applies it), also asked by nss_eic before a by-name
 * miss goes to IMDS: a name no rule can give is not looked up there. */
bool eic_mappable_name(const char *name);
/* '*' and '?' glob over the whole string. Returns 1 for a match, 0 otherwise (also for NULL). */
int eic_glob_match(const char *pattern, const char *text);
/* Added for the config parser (additive): checks of a rule's pattern (starts with "arn:", at most
 * EIC_ARN_MAX bytes, printable without blanks, no '[' ']' '{' '}' '\\') and of a name template
 * (known placeholders only, balanced braces, literal text of login-name characters, at least one
 * placeholder, able to give a name of at most EIC_LOGIN_NAME_MAX characters). Return 0 or EINVAL
 * with the reason in why (no file or line: the parser adds those). */
int eic_glob_check(const char *pattern, char *why, size_t why_len);
int eic_template_check(const char *tmpl, char *why, size_t why_len);
/* The value of "email_domain": a DNS name (labels of A-Z a-z 0-9 '-', separated by single dots,
 * no leading or trailing dot or '-' at a label's ends), short enough that "x@DOMAIN" fits an IAM
 * name. 0 or EINVAL with the reason in why. */
int eic_email_domain_check(const char *domain, char *why, size_t why_len);
/* The check of a complete map rule at load (after eic_glob_check() and eic_template_check()):
 * {email_local} and email_domain go together, and no two identities can ever derive the same
 * name through the rule (docs/CONFIG.md, "Unique by construction"):
 *   - the template holds the part that tells identities apart for every kind of principal the
 *     rule can apply to: {user} or {email_local} for IAM users, {session} or {email_local} for
 *     role sessions, {role} for roles;
 *   - the pattern names its partition, and names one account or the template holds {account};
 *   - for role sessions, the pattern names one role, or only Identity Center roles
 *     (assumed-role/AWSReservedSSO_...): a session name is one identity per role, except under
 *     Identity Center (eic_same_identity()); {role} next to {session} only with one role named
 *     (two parts of any length, joined by characters both may hold, are ambiguous);
 *   - "lowercase = yes" not for the sessions of roles other than Identity Center's, whose session
 *     names are chosen freely and case-sensitively.
 * Returns 0 or EINVAL with the reason and the remedy in why (no file or line). */
int eic_rule_check(const struct eic_rule *rule, char *why, size_t why_len);
void eic_mapping_free(struct eic_mapping *mapping);

#endif
