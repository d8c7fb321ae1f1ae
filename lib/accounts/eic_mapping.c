/* IAM principal -> local account mapping (issue #4; the rules are described in eic_mapping.h and
 * docs/CONFIG.md).
 *
 * Everything here is pure computation over strings the caller passes in: no I/O, no logging, no
 * allocation except in eic_mapping_free(), libc only. nss_eic's light path links it, and the
 * callers (nss_eic, pam_eic, eic-authorized-keys) log the outcome with the deciding rule's line.
 *
 * The ARN is untrusted input (it comes from a key record's #Caller field), so it is parsed
 * strictly against IAM's own character rules before any part of it can become a login name; a
 * derived name that fails eic_valid_login_name() is refused, never "fixed": rewriting
 * "a@b" into "a_b" could hand someone else's account to the principal. */
#include "eic_mapping.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_metadata.h"

/* IAM limits (IAM API reference: CreateUser, CreateRole, AssumeRole). */
#define IAM_NAME_MAX 64
#define IAM_SESSION_MIN 2
#define IAM_PATH_MAX 512 /* the whole path, leading and trailing '/' included */
#define ACCOUNT_DIGITS 12

static const char *const partitions[] = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"};

/* ---- ARN parsing ---------------------------------------------------------------------- */

/* [A-Za-z0-9+=,.@_-]: IAM user, role and role session names. Written out rather than using
 * isalnum(): the locale of the host process (NSS runs inside anything) must not change it. */
static bool is_iam_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '=' ||
           c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
}

/* An IAM name of min..IAM_NAME_MAX name characters, exactly len bytes long. */
static bool valid_iam_name(const char *s, size_t len, size_t min)
{
    if (len < min || len > IAM_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_iam_name_char(s[i])) {
            return false;
        }
    }
    return true;
}

static void copy_part(char *dst, const char *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "[path/]NAME" after "user/" or "role/": IAM paths are '/'-separated elements of printable
 * ASCII 0x21..0x7E (IAM's own rule), at most IAM_PATH_MAX bytes counting both outer slashes;
 * an empty element ("user//alice") is not something IAM produces. The name is the last
 * element. */
static int parse_path_and_name(const char *s, char *name)
{
    const char *last = strrchr(s, '/');
    const char *base = last != NULL ? last + 1 : s;

    if (last != NULL) {
        size_t path_len = (size_t)(last - s) + 2; /* with the leading and trailing '/' */
        const char *elem = s;

        if (path_len > IAM_PATH_MAX) {
            return EBADMSG;
        }
        for (const char *p = s; p <= last; p++) {
            if (*p == '/') {
                if (p == elem) {
                    return EBADMSG; /* empty element */
                }
                elem = p + 1;
            } else if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
                return EBADMSG;
            }
        }
    }
    if (!valid_iam_name(base, strlen(base), 1)) {
        return EBADMSG;
    }
    copy_part(name, base, strlen(base));
    return 0;
}

/* "ROLE/SESSION" after "assumed-role/": STS never puts the role's path here. */
static int parse_assumed_role(const char *s, struct eic_principal *out)
{
    const char *slash = strchr(s, '/');
    size_t role_len;

    if (slash == NULL) {
        return EBADMSG;
    }
    role_len = (size_t)(slash - s);
    if (!valid_iam_name(s, role_len, 1) || !valid_iam_name(slash + 1, strlen(slash + 1), IAM_SESSION_MIN)) {
        return EBADMSG;
    }
    copy_part(out->role, s, role_len);
    copy_part(out->session, slash + 1, strlen(slash + 1));
    return 0;
}

/* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE. The resource is everything after the fifth
 * ':' (IAM paths may themselves contain ':'). */
int eic_principal_parse(const char *arn, struct eic_principal *out)
{
    const char *field[5];
    size_t field_len[5];
    const char *p;
    const char *resource;
    bool known_partition = false;
    int ret = EBADMSG;

    if (out == NULL) {
        return EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (arn == NULL) {
        return EINVAL;
    }
    if (strnlen(arn, EIC_ARN_MAX + 1) > EIC_ARN_MAX) {
        goto done;
    }
    p = arn;
    for (size_t i = 0; i < 5; i++) {
        const char *colon = strchr(p, ':');

        if (colon == NULL) {
            goto done;
        }
        field[i] = p;
        field_len[i] = (size_t)(colon - p);
        p = colon + 1;
    }
    resource = p;
    if (field_len[0] != 3 || memcmp(field[0], "arn", 3) != 0) {
        goto done;
    }
    for (size_t i = 0; i < sizeof(partitions) / sizeof(partitions[0]); i++) {
        if (field_len[1] == strlen(partitions[i]) && memcmp(field[1], partitions[i], field_len[1]) == 0) {
            known_partition = true;
        }
    }
    /* IAM and STS principal ARNs are global: the region field is always empty. */
    if (!known_partition || field_len[3] != 0 || field_len[4] != ACCOUNT_DIGITS ||
        strspn(field[4], "0123456789") < ACCOUNT_DIGITS) {
        goto done;
    }
    if (field_len[2] == 3 && memcmp(field[2], "iam", 3) == 0) {
        if (strncmp(resource, "user/", 5) == 0) {
            ret = parse_path_and_name(resource + 5, out->user);
        } else if (strncmp(resource, "role/", 5) == 0) {
            ret = parse_path_and_name(resource + 5, out->role);
        }
    } else if (field_len[2] == 3 && memcmp(field[2], "sts", 3) == 0) {
        if (strncmp(resource, "assumed-role/", 13) == 0) {
            ret = parse_assumed_role(resource + 13, out);
        }
    }
    if (ret == 0) {
        copy_part(out->account, field[4], ACCOUNT_DIGITS);
    }

done:
    if (ret != 0) {
        memset(out, 0, sizeof(*out));
    }
    return ret;
}

/* ---- glob ----------------------------------------------------------------------------- */

/* The classic iterative matcher: on a mismatch, go back to the last '*' and let it swallow one
 * more character. Only the last '*' needs remembering (an earlier one could only swallow what a
 * later one can), so the cost is at most strlen(pattern) * strlen(text) steps whatever the
 * pattern ("****...a"), with no recursion and no allocation. */
int eic_glob_match(const char *pattern, const char *text)
{
    const char *p = pattern;
    const char *t = text;
    const char *star = NULL;
    const char *resume = NULL;

    if (pattern == NULL || text == NULL) {
        return 0;
    }
    while (*t != '\0') {
        if (*p == '*') {
            star = p++;
            resume = t;
        } else if (*p == '?' || (*p != '\0' && *p == *t)) {
            p++;
            t++;
        } else if (star != NULL) {
            p = star + 1;
            t = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}

int eic_glob_check(const char *pattern, char *why, size_t why_len)
{
    size_t len;

    if (pattern == NULL || pattern[0] == '\0') {
        snprintf(why, why_len, "missing ARN pattern");
        return EINVAL;
    }
    len = strlen(pattern);
    if (len > EIC_ARN_MAX) {
        snprintf(why, why_len, "ARN pattern longer than %d bytes", EIC_ARN_MAX);
        return EINVAL;
    }
    if (strncmp(pattern, "arn:", 4) != 0) {
        snprintf(why, why_len, "ARN pattern must start with 'arn:'");
        return EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pattern[i];

        /* Blanks and controls never occur in an ARN. Brackets, braces and backslashes could
         * (in an IAM path) but are refused so that nobody writes "[ab]" or "\*" expecting a
         * character class or an escape: this glob has none. */
        if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '{' || c == '}' || c == '\\') {
            snprintf(why, why_len,
                     "invalid character at position %zu of the ARN pattern (only '*' and '?' are special; "
                     "no blanks, brackets, braces or backslashes)", i + 1);
            return EINVAL;
        }
    }
    return 0;
}

/* ---- name templates ------------------------------------------------------------------- */

enum placeholder {
    PH_USER,
    PH_ROLE,
    PH_SESSION,
    PH_ACCOUNT,
    PH_EMAIL_LOCAL,
    PH_COUNT,
};

static const char *const placeholder_names[PH_COUNT] = {"user", "role", "session", "account", "email_local"};

/* "{NAME}" at s (s[0] == '{', close the matching '}'): the placeholder, or PH_COUNT. */
static enum placeholder placeholder_at(const char *s, const char *close)
{
    size_t len = (size_t)(close - s - 1);

    for (int i = 0; i < PH_COUNT; i++) {
        if (strlen(placeholder_names[i]) == len && memcmp(s + 1, placeholder_names[i], len) == 0) {
            return (enum placeholder)i;
        }
    }
    return PH_COUNT;
}

/* Literal template text must be made of login-name characters ([A-Za-z0-9._-]); anything else
 * could only ever produce names that are refused. */
static bool is_literal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int eic_template_check(const char *tmpl, char *why, size_t why_len)
{
    size_t n_placeholders = 0;
    size_t n_literal = 0;

    if (tmpl == NULL || tmpl[0] == '\0') {
        snprintf(why, why_len, "empty name template");
        return EINVAL;
    }
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (*p == '{') {
            const char *close = strchr(p + 1, '}');
            const char *open = strchr(p + 1, '{');

            if (close == NULL || (open != NULL && open < close)) {
                snprintf(why, why_len, "unbalanced '{' in name template");
                return EINVAL;
            }
            if (placeholder_at(p, close) == PH_COUNT) {
                snprintf(why, why_len,
                         "unknown placeholder '%.*s' in name template (known: {user}, {role}, {session}, "
                         "{account}, {email_local})",
                         (int)(close - p + 1 > 40 ? 40 : close - p + 1), p);
                return EINVAL;
            }
            n_placeholders++;
            p = close;
        } else if (*p == '}') {
            snprintf(why, why_len, "unbalanced '}' in name template");
            return EINVAL;
        } else if (!is_literal_char(*p)) {
            snprintf(why, why_len, "character '%c' in name template is not allowed in a login name "
                     "(literal text may hold A-Z, a-z, 0-9, '.', '_', '-')", *p);
            return EINVAL;
        } else {
            if (p == tmpl && (*p == '-' || *p == '.')) {
                snprintf(why, why_len, "name template may not start with '%c' (login names cannot)", *p);
                return EINVAL;
            }
            n_literal++;
        }
    }
    /* A name derived from nothing but literal text would give every matching principal the same
     * account, and an account (its UID, its files) must belong to one principal. */
    if (n_placeholders == 0) {
        snprintf(why, why_len,
                 "name template has no placeholder ({user}, {role}, {session}, {account} or {email_local})");
        return EINVAL;
    }
    /* Each placeholder yields at least one character. */
    if (n_literal + n_placeholders > EIC_LOGIN_NAME_MAX) {
        snprintf(why, why_len, "name template can never give a name of at most %d characters",
                 EIC_LOGIN_NAME_MAX);
        return EINVAL;
    }
    return 0;
}

/* What each placeholder stands for, for one principal under one rule: "" when the principal has
 * no such part ({session} of an IAM user; {email_local} of a name outside the rule's domain). */
struct template_values {
    const char *value[PH_COUNT];
    char email_local[IAM_NAME_MAX + 1];
};

/* ASCII only, whatever the locale of the process NSS runs in. */
static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_equal_nocase(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (ascii_lower(*a) != ascii_lower(*b)) {
            return false;
        }
    }
    return *a == *b;
}

/* {email_local}: LOCAL of "LOCAL@DOMAIN", the session name of a role session or the name of an
 * IAM user, when DOMAIN is the rule's email_domain. The domain is compared exactly, or
 * ASCII-case-insensitively under "lowercase = yes" (the administrator's word that the source is
 * case-insensitive): otherwise "a@Example.com" and "a@example.com", two session names, would both
 * give "a". LOCAL is the text before the final "@DOMAIN"; one with another '@' gives a name
 * eic_mappable_name() refuses. */
static void email_local_of(const struct eic_rule *rule, const struct eic_principal *pr, char *out)
{
    const char *source = pr->session[0] != '\0' ? pr->session : pr->user;
    size_t len = strlen(source);
    size_t domain_len;
    const char *at;

    out[0] = '\0';
    if (rule->email_domain == NULL) {
        return;
    }
    domain_len = strlen(rule->email_domain);
    if (len < domain_len + 2) {
        return; /* at least one character of LOCAL, the '@' and the domain */
    }
    at = source + len - domain_len - 1;
    if (*at != '@' ||
        !(rule->lowercase ? ascii_equal_nocase(at + 1, rule->email_domain) : strcmp(at + 1, rule->email_domain) == 0)) {
        return;
    }
    copy_part(out, source, (size_t)(at - source)); /* < IAM_NAME_MAX: source is an IAM name */
}

static void template_values_of(const struct eic_rule *rule, const struct eic_principal *pr,
                               struct template_values *tv)
{
    email_local_of(rule, pr, tv->email_local);
    tv->value[PH_USER] = pr->user;
    tv->value[PH_ROLE] = pr->role;
    tv->value[PH_SESSION] = pr->session;
    tv->value[PH_ACCOUNT] = pr->account;
    tv->value[PH_EMAIL_LOCAL] = tv->email_local;
}

/* Does the template only use parts the principal has? (Otherwise the rule does not apply.) */
static bool template_applies(const char *tmpl, const struct template_values *tv)
{
    for (const char *p = strchr(tmpl, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        enum placeholder ph;

        if (close == NULL) {
            return true; /* malformed: expand_template() refuses it */
        }
        ph = placeholder_at(p, close);
        if (ph != PH_COUNT && tv->value[ph][0] == '\0') {
            return false;
        }
    }
    return true;
}

/* Expand into out (out_len bytes). EINVAL for a malformed template (rules built by hand rather
 * than by the config parser), ENAMETOOLONG when the result does not fit. */
static int expand_template(const char *tmpl, const struct template_values *tv, char *out, size_t out_len)
{
    size_t len = 0;

    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *piece = p;
        size_t piece_len = 1;

        if (*p == '{') {
            const char *close = strchr(p + 1, '}');
            enum placeholder ph;

            if (close == NULL || (ph = placeholder_at(p, close)) == PH_COUNT) {
                return EINVAL;
            }
            piece = tv->value[ph];
            piece_len = strlen(piece);
            p = close;
        } else if (*p == '}') {
            return EINVAL;
        }
        if (piece_len >= out_len - len) {
            return ENAMETOOLONG;
        }
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    out[len] = '\0';
    return 0;
}

/* ---- resolving ------------------------------------------------------------------------ */

/* The partition of an ARN ("aws" of "arn:aws:..."), as a length at arn + 4; 0 when malformed. */
static size_t arn_partition_len(const char *arn)
{
    const char *colon;

    if (strncmp(arn, "arn:", 4) != 0 || (colon = strchr(arn + 4, ':')) == NULL) {
        return 0;
    }
    return (size_t)(colon - (arn + 4));
}

static bool identity_center_session(const struct eic_principal *p)
{
    return p->session[0] != '\0' &&
           strncmp(p->role, EIC_IDENTITY_CENTER_ROLE_PREFIX, sizeof(EIC_IDENTITY_CENTER_ROLE_PREFIX) - 1) == 0;
}

bool eic_same_identity(const char *a, const char *b)
{
    struct eic_principal pa, pb;
    size_t part_len;

    if (a == NULL || b == NULL) {
        return false;
    }
    if (strcmp(a, b) == 0) {
        return true;
    }
    if (eic_principal_parse(a, &pa) != 0 || eic_principal_parse(b, &pb) != 0) {
        return false;
    }
    part_len = arn_partition_len(a);
    return identity_center_session(&pa) && identity_center_session(&pb) && part_len > 0 &&
           part_len == arn_partition_len(b) && memcmp(a + 4, b + 4, part_len) == 0 &&
           strcmp(pa.account, pb.account) == 0 && strcmp(pa.session, pb.session) == 0;
}

enum eic_map_status eic_mapping_resolve(const struct eic_mapping *mapping, const char *arn, char *name,
                                        size_t name_len, const struct eic_rule **rule)
{
    struct eic_principal pr;
    struct template_values tv;
    /* Room for one character more than any valid name, so "too long" is seen, not truncated. */
    char derived[EIC_LOGIN_NAME_MAX + 2];

    if (rule != NULL) {
        *rule = NULL;
    }
    if (name != NULL && name_len > 0) {
        name[0] = '\0';
    }
    if (eic_principal_parse(arn, &pr) != 0) {
        return EIC_MAP_BAD_ARN;
    }
    if (mapping == NULL) {
        return EIC_MAP_NO_RULE;
    }
    /* Deny rules win wherever they are in the file: a pass over all of them first. */
    for (size_t i = 0; i < mapping->n_rules; i++) {
        const struct eic_rule *r = &mapping->rules[i];

        if (r->kind == EIC_RULE_DENY && eic_glob_match(r->pattern, arn)) {
            if (rule != NULL) {
                *rule = r;
            }
            return EIC_MAP_DENIED;
        }
    }
    for (size_t i = 0; i < mapping->n_rules; i++) {
        const struct eic_rule *r = &mapping->rules[i];

        if (r->kind != EIC_RULE_MAP || r->name_template == NULL || !eic_glob_match(r->pattern, arn)) {
            continue;
        }
        template_values_of(r, &pr, &tv);
        if (!template_applies(r->name_template, &tv)) {
            continue;
        }
        /* This rule decides, whatever the outcome: falling through to a later rule when the
         * name is bad would let a principal pick its rule by choosing its session name. */
        if (rule != NULL) {
            *rule = r;
        }
        if (expand_template(r->name_template, &tv, derived, sizeof(derived)) != 0) {
            return EIC_MAP_BAD_NAME;
        }
        if (r->lowercase) {
            for (char *c = derived; *c != '\0'; c++) {
                *c = ascii_lower(*c);
            }
        }
        if (!eic_mappable_name(derived) || name == NULL || strlen(derived) >= name_len) {
            return EIC_MAP_BAD_NAME;
        }
        memcpy(name, derived, strlen(derived) + 1);
        return EIC_MAP_OK;
    }
    return EIC_MAP_NO_RULE;
}

/* ---- unique by construction (checked at load) ------------------------------------------ */

/* What a rule may be asked to map: an ARN of one of these kinds, each with its own parts. */
enum principal_kind {
    KIND_USER,    /* arn:P:iam::A:user[/path]/NAME */
    KIND_ROLE,    /* arn:P:iam::A:role[/path]/NAME */
    KIND_SESSION, /* arn:P:sts::A:assumed-role/ROLE/SESSION */
    KIND_COUNT,
};

#define PH_BIT(ph) (1U << (ph))

/* The placeholders each kind of ARN can fill; a template using any other does not apply to it. */
static const unsigned int kind_parts[KIND_COUNT] = {
    [KIND_USER] = PH_BIT(PH_USER) | PH_BIT(PH_ACCOUNT) | PH_BIT(PH_EMAIL_LOCAL),
    [KIND_ROLE] = PH_BIT(PH_ROLE) | PH_BIT(PH_ACCOUNT),
    [KIND_SESSION] = PH_BIT(PH_ROLE) | PH_BIT(PH_SESSION) | PH_BIT(PH_ACCOUNT) | PH_BIT(PH_EMAIL_LOCAL),
};

static const char *const kind_names[KIND_COUNT] = {"IAM users", "IAM roles", "role sessions"};

enum session_roles {
    SESSION_ROLES_ANY,             /* sessions of possibly several roles */
    SESSION_ROLES_ONE,             /* of the one role the pattern names */
    SESSION_ROLES_IDENTITY_CENTER, /* of Identity Center's roles (AWSReservedSSO_*) only */
};

/* What a pattern tells for sure about the ARNs it can match. Every answer errs on the side of
 * "may match", "not named": a rule is then refused rather than let through. */
struct pattern_facts {
    bool partition_named;
    bool may_match[KIND_COUNT];
    bool account_named[KIND_COUNT];
    enum session_roles session_roles;
};

static bool has_glob(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '*' || s[i] == '?') {
            return true;
        }
    }
    return false;
}

/* Can the pattern match some text that starts with prefix? (A '*' can match the rest.) */
static bool may_start_with(const char *pattern, const char *prefix)
{
    for (; *prefix != '\0'; pattern++, prefix++) {
        if (*pattern == '*') {
            return true;
        }
        if (*pattern == '\0' || (*pattern != '?' && *pattern != *prefix)) {
            return false;
        }
    }
    return true;
}

static bool twelve_digits(const char *s, size_t len)
{
    if (len != ACCOUNT_DIGITS) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static void pattern_facts_of(const char *pattern, struct pattern_facts *f)
{
    const char *colon[6];
    size_t n_colons = 0;
    char prefix[32];
    size_t partition_len;

    memset(f, 0, sizeof(*f));
    f->session_roles = SESSION_ROLES_ANY;
    for (const char *p = strchr(pattern, ':'); p != NULL && n_colons < 6; p = strchr(p + 1, ':')) {
        colon[n_colons++] = p;
    }
    /* "arn:PART:" without a glob: only ARNs of that partition start like this (a partition holds
     * no ':'). Otherwise nothing is known, and the caller refuses the rule. */
    if (n_colons < 2 || has_glob(pattern, (size_t)(colon[1] - pattern))) {
        return;
    }
    partition_len = (size_t)(colon[1] - colon[0] - 1);
    if (partition_len == 0 || partition_len > 16) {
        return; /* no partition eic knows: the rule can match nothing */
    }
    f->partition_named = true;

    /* IAM users and roles. Their paths may hold ':', so a glob before the pattern's fifth ':'
     * could line that ':' up with one in a path ("arn:aws:*::111122223333:*" matches
     * "arn:aws:iam::444455556666:user/x::111122223333:y/bob"): only a prefix written out in full
     * names the account. */
    snprintf(prefix, sizeof(prefix), "arn:%.*s:iam::", (int)partition_len, colon[0] + 1);
    if (may_start_with(pattern, prefix)) {
        if (n_colons >= 5 && !has_glob(pattern, (size_t)(colon[4] - pattern))) {
            bool named = twelve_digits(colon[3] + 1, (size_t)(colon[4] - colon[3] - 1));

            f->may_match[KIND_USER] = may_start_with(colon[4] + 1, "user/");
            f->may_match[KIND_ROLE] = may_start_with(colon[4] + 1, "role/");
            f->account_named[KIND_USER] = named;
            f->account_named[KIND_ROLE] = named;
        } else {
            f->may_match[KIND_USER] = true;
            f->may_match[KIND_ROLE] = true;
        }
    }

    /* Role sessions. Their ARN holds exactly five ':' (IAM names hold none). Each ':' of the
     * pattern matches one of them, and a glob that swallowed one would leave too few for the
     * pattern's own; so a pattern with five ':' lines up with the ARN field for field, whatever
     * globs it has, and one with more matches no session. */
    snprintf(prefix, sizeof(prefix), "arn:%.*s:sts::", (int)partition_len, colon[0] + 1);
    if (!may_start_with(pattern, prefix) || n_colons > 5) {
        return;
    }
    f->may_match[KIND_SESSION] = true;
    if (n_colons == 5) {
        const char *resource = colon[4] + 1;
        static const char assumed[] = "assumed-role/";
        static const char idc[] = EIC_IDENTITY_CENTER_ROLE_PREFIX;

        f->account_named[KIND_SESSION] = twelve_digits(colon[3] + 1, (size_t)(colon[4] - colon[3] - 1));
        if (strncmp(resource, assumed, sizeof(assumed) - 1) == 0) {
            const char *role = resource + sizeof(assumed) - 1;
            size_t role_len = strcspn(role, "/*?");

            /* A role name holds no '/': a literal "ROLE/" is the whole role name. */
            if (role_len > 0 && role[role_len] == '/') {
                f->session_roles = SESSION_ROLES_ONE;
            } else if (strncmp(role, idc, sizeof(idc) - 1) == 0) {
                f->session_roles = SESSION_ROLES_IDENTITY_CENTER;
            }
        }
    }
}

/* The placeholders a template uses, as PH_BIT()s. */
static unsigned int template_parts(const char *tmpl)
{
    unsigned int parts = 0;

    for (const char *p = strchr(tmpl, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        enum placeholder ph;

        if (close == NULL) {
            break;
        }
        ph = placeholder_at(p, close);
        if (ph != PH_COUNT) {
            parts |= PH_BIT(ph);
        }
    }
    return parts;
}

/* One kind of principal the rule applies to: do different identities of that kind get different
 * names? The account, then the part that tells identities of an account apart. */
static int check_kind(const struct eic_rule *rule, const struct pattern_facts *f, enum principal_kind kind,
                      unsigned int parts, char *why, size_t why_len)
{
    const unsigned int session_parts = PH_BIT(PH_SESSION) | PH_BIT(PH_EMAIL_LOCAL);

    if (!f->account_named[kind] && (parts & PH_BIT(PH_ACCOUNT)) == 0) {
        snprintf(why, why_len,
                 "the pattern matches %s of more than one AWS account: put {account} into the name template, or "
                 "write the 12 digits of one account with no '*' or '?' before them", kind_names[kind]);
        return EINVAL;
    }
    switch (kind) {
    case KIND_USER:
        if ((parts & (PH_BIT(PH_USER) | PH_BIT(PH_EMAIL_LOCAL))) == 0) {
            snprintf(why, why_len, "all IAM users of an account would get one name: put {user} into the name template");
            return EINVAL;
        }
        break;
    case KIND_ROLE:
        if ((parts & PH_BIT(PH_ROLE)) == 0) {
            snprintf(why, why_len, "all IAM roles of an account would get one name: put {role} into the name template");
            return EINVAL;
        }
        break;
    case KIND_SESSION:
        if ((parts & session_parts) == 0) {
            snprintf(why, why_len,
                     "%s: put {session} (or {email_local}) into the name template",
                     (parts & PH_BIT(PH_ROLE)) != 0 ? "{role} names the role, not who assumed it: all its sessions "
                                                      "would share one account"
                                                    : "all role sessions of an account would get one name");
            return EINVAL;
        }
        if (f->session_roles == SESSION_ROLES_ANY) {
            snprintf(why, why_len,
                     "one session name under two roles is two identities: name one role in the pattern "
                     "(assumed-role/ROLE/*), or Identity Center's only (assumed-role/AWSReservedSSO_*/*)");
            return EINVAL;
        }
        /* "{role}-{session}": role "a-b" with session "c" and role "a" with session "b-c" both
         * give "a-b-c", and every character a login name may hold may also be in either part. */
        if (f->session_roles != SESSION_ROLES_ONE && (parts & PH_BIT(PH_ROLE)) != 0) {
            snprintf(why, why_len,
                     "{role} with {session} or {email_local} is ambiguous ('a-b'+'c', 'a'+'b-c') unless the pattern "
                     "names one role: drop {role}, or write one rule per role");
            return EINVAL;
        }
        if (rule->lowercase && f->session_roles != SESSION_ROLES_IDENTITY_CENTER) {
            snprintf(why, why_len,
                     "'lowercase = yes' for the sessions of a role other than Identity Center's: their names are "
                     "chosen freely and case-sensitively ('Alice', 'alice' are two identities)");
            return EINVAL;
        }
        break;
    case KIND_COUNT:
        break;
    }
    return 0;
}

int eic_rule_check(const struct eic_rule *rule, char *why, size_t why_len)
{
    struct pattern_facts facts;
    unsigned int parts;
    bool applies = false;

    if (rule == NULL || rule->kind != EIC_RULE_MAP) {
        return 0;
    }
    if (rule->pattern == NULL || rule->name_template == NULL) {
        snprintf(why, why_len, "map rule without a pattern or a name template");
        return EINVAL;
    }
    parts = template_parts(rule->name_template);
    if ((parts & PH_BIT(PH_EMAIL_LOCAL)) != 0 && rule->email_domain == NULL) {
        snprintf(why, why_len, "{email_local} needs 'email_domain' (the domain of the e-mail style names the rule "
                 "takes)");
        return EINVAL;
    }
    if ((parts & PH_BIT(PH_EMAIL_LOCAL)) == 0 && rule->email_domain != NULL) {
        snprintf(why, why_len, "'email_domain' is set, but the name template does not use {email_local}");
        return EINVAL;
    }
    pattern_facts_of(rule->pattern, &facts);
    if (!facts.partition_named) {
        snprintf(why, why_len,
                 "the pattern must name its partition ('arn:aws:', 'arn:aws-cn:', ...) with no '*' or '?': one "
                 "account number in two partitions is two accounts");
        return EINVAL;
    }
    for (int kind = 0; kind < KIND_COUNT; kind++) {
        int ret;

        if (!facts.may_match[kind] || (parts & ~kind_parts[kind]) != 0) {
            continue; /* the rule never applies to this kind */
        }
        applies = true;
        ret = check_kind(rule, &facts, (enum principal_kind)kind, parts, why, why_len);
        if (ret != 0) {
            return ret;
        }
    }
    if (!applies) {
        snprintf(why, why_len,
                 "the rule can never apply: no ARN the pattern matches has every placeholder of the name template "
                 "({user}: IAM users; {session}: role sessions)");
        return EINVAL;
    }
    return 0;
}

int eic_email_domain_check(const char *domain, char *why, size_t why_len)
{
    size_t len;
    size_t label_len = 0;

    if (domain == NULL || domain[0] == '\0') {
        snprintf(why, why_len, "empty e-mail domain");
        return EINVAL;
    }
    len = strlen(domain);
    /* "x@DOMAIN" must fit an IAM user or session name. */
    if (len > IAM_NAME_MAX - 2) {
        snprintf(why, why_len, "e-mail domain longer than %d characters (no IAM name 'x@DOMAIN' could hold it)",
                 IAM_NAME_MAX - 2);
        return EINVAL;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = domain[i];

        if (c == '.' || c == '\0') {
            if (label_len == 0 || domain[i - 1] == '-') {
                snprintf(why, why_len, "e-mail domain '%s' is not a domain name (labels of A-Z, a-z, 0-9 and '-', "
                         "joined by single dots, no '-' at a label's ends)", domain);
                return EINVAL;
            }
            label_len = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label_len > 0)) {
            label_len++;
        } else {
            snprintf(why, why_len, "e-mail domain '%s' is not a domain name (labels of A-Z, a-z, 0-9 and '-', "
                     "joined by single dots, no '-' at a label's ends)", domain);
            return EINVAL;
        }
    }
    return 0;
}

bool eic_mappable_name(const char *name)
{
    size_t len = strlen(name);

    /* All digits: chown, id, find -user and friends take such a name for a UID. A final '$'
     * (which eic_valid_login_name() lets through for Samba machine accounts) cannot come out of
     * a template: no placeholder and no literal text holds one; refused here all the same. */
    return eic_valid_login_name(name) && strspn(name, "0123456789") != len && name[len - 1] != '$';
}

const char *eic_map_status_name(enum eic_map_status status)
{
    switch (status) {
    case EIC_MAP_OK:
        return "ok";
    case EIC_MAP_DENIED:
        return "denied";
    case EIC_MAP_NO_RULE:
        return "no matching rule";
    case EIC_MAP_BAD_ARN:
        return "not a supported principal ARN";
    case EIC_MAP_BAD_NAME:
        return "derived name is not a valid login name";
    }
    return "unknown";
}

void eic_mapping_free(struct eic_mapping *mapping)
{
    if (mapping == NULL) {
        return;
    }
    for (size_t i = 0; i < mapping->n_rules; i++) {
        struct eic_rule *r = &mapping->rules[i];

        free(r->pattern);
        free(r->name_template);
        free(r->email_domain);
        for (size_t g = 0; g < r->n_groups && g < EIC_MAX_RULE_GROUPS; g++) {
            free(r->groups[g]);
        }
    }
    free(mapping->rules);
    mapping->rules = NULL;
    mapping->n_rules = 0;
}
