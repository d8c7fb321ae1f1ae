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
    PH_COUNT,
};

static const char *const placeholder_names[PH_COUNT] = {"user", "role", "session", "account"};

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
                         "unknown placeholder '%.*s' in name template (known: {user}, {role}, {session}, {account})",
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
        snprintf(why, why_len, "name template has no placeholder ({user}, {role}, {session} or {account})");
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

static const char *principal_part(const struct eic_principal *pr, enum placeholder ph)
{
    switch (ph) {
    case PH_USER:
        return pr->user;
    case PH_ROLE:
        return pr->role;
    case PH_SESSION:
        return pr->session;
    case PH_ACCOUNT:
        return pr->account;
    case PH_COUNT:
        break;
    }
    return "";
}

/* Does the template only use parts the principal has? (Otherwise the rule does not apply.) */
static bool template_applies(const char *tmpl, const struct eic_principal *pr)
{
    for (const char *p = strchr(tmpl, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        enum placeholder ph;

        if (close == NULL) {
            return true; /* malformed: expand_template() refuses it */
        }
        ph = placeholder_at(p, close);
        if (ph != PH_COUNT && principal_part(pr, ph)[0] == '\0') {
            return false;
        }
    }
    return true;
}

/* Expand into out (out_len bytes). EINVAL for a malformed template (rules built by hand rather
 * than by the config parser), ENAMETOOLONG when the result does not fit. */
static int expand_template(const char *tmpl, const struct eic_principal *pr, char *out, size_t out_len)
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
            piece = principal_part(pr, ph);
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

        if (r->kind != EIC_RULE_MAP || r->name_template == NULL || !eic_glob_match(r->pattern, arn) ||
            !template_applies(r->name_template, &pr)) {
            continue;
        }
        /* This rule decides, whatever the outcome: falling through to a later rule when the
         * name is bad would let a principal pick its rule by choosing its session name. */
        if (rule != NULL) {
            *rule = r;
        }
        if (expand_template(r->name_template, &pr, derived, sizeof(derived)) != 0 ||
            !eic_mappable_name(derived) || name == NULL || strlen(derived) >= name_len) {
            return EIC_MAP_BAD_NAME;
        }
        memcpy(name, derived, strlen(derived) + 1);
        return EIC_MAP_OK;
    }
    return EIC_MAP_NO_RULE;
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
        for (size_t g = 0; g < r->n_groups && g < EIC_MAX_RULE_GROUPS; g++) {
            free(r->groups[g]);
        }
    }
    free(mapping->rules);
    mapping->rules = NULL;
    mapping->n_rules = 0;
}
