/* Unit tests for the principal -> account mapping (lib/accounts/eic_mapping.c) and its configuration
 * ("[map GLOB]" / "[deny GLOB]" sections and the account keys of lib/accounts/eic_config.c).
 *
 * Fixtures are in tests/data/mapping/: good-rules.conf, and bad-*.conf files that state the error
 * they must produce in their first line, "# expect-error: LINE: reason-prefix" (the convention of
 * tests/data/config/, whose bad-*.conf cover the new top-level keys through test_config). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_config.h"
#include "eic_mapping.h"
#include "eic_metadata.h"

#define MAPPING_DIR TEST_DATA_DIR "/mapping"
#define CONFIG_DIR TEST_DATA_DIR "/config"

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- ARN parsing ---------------------------------------------------------------------- */

static void test_parse_good(void **state)
{
    static const struct {
        const char *arn;
        const char *account;
        const char *user;
        const char *role;
        const char *session;
    } cases[] = {
        {"arn:aws:iam::111122223333:user/alice", "111122223333", "alice", "", ""},
        {"arn:aws:iam::111122223333:user/division_abc/subdivision_xyz/Bob", "111122223333", "Bob", "", ""},
        {"arn:aws:iam::111122223333:user/a", "111122223333", "a", "", ""},
        {"arn:aws:iam::111122223333:user/A+b=c,d.e@f_g-h", "111122223333", "A+b=c,d.e@f_g-h", "", ""},
        /* IAM paths are any printable ASCII but '/', ':' included. */
        {"arn:aws:iam::111122223333:user/p:q!~/alice", "111122223333", "alice", "", ""},
        {"arn:aws:iam::000000000000:role/Admins", "000000000000", "", "Admins", ""},
        {"arn:aws:iam::111122223333:role/service-role/MyRole", "111122223333", "", "MyRole", ""},
        {"arn:aws:sts::111122223333:assumed-role/Admins/bob", "111122223333", "", "Admins", "bob"},
        {"arn:aws:sts::111122223333:assumed-role/Admins/bob@example.com", "111122223333", "", "Admins",
         "bob@example.com"},
        {"arn:aws:sts::111122223333:assumed-role/R/ab", "111122223333", "", "R", "ab"},
        {"arn:aws-cn:iam::111122223333:user/alice", "111122223333", "alice", "", ""},
        {"arn:aws-us-gov:sts::111122223333:assumed-role/Admins/bob", "111122223333", "", "Admins", "bob"},
        {"arn:aws-iso:iam::111122223333:role/r", "111122223333", "", "r", ""},
        {"arn:aws-iso-b:iam::111122223333:user/alice", "111122223333", "alice", "", ""},
    };
    struct eic_principal pr;
    char *name64 = repeat('n', 64);
    char arn[EIC_ARN_MAX + 64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (eic_principal_parse(cases[i].arn, &pr) != 0) {
            fail_msg("refused: %s", cases[i].arn);
        }
        assert_string_equal(pr.account, cases[i].account);
        assert_string_equal(pr.user, cases[i].user);
        assert_string_equal(pr.role, cases[i].role);
        assert_string_equal(pr.session, cases[i].session);
    }
    /* The longest names IAM allows. */
    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", name64);
    assert_int_equal(eic_principal_parse(arn, &pr), 0);
    assert_string_equal(pr.user, name64);
    snprintf(arn, sizeof(arn), "arn:aws:sts::111122223333:assumed-role/%s/%s", name64, name64);
    assert_int_equal(eic_principal_parse(arn, &pr), 0);
    assert_string_equal(pr.role, name64);
    assert_string_equal(pr.session, name64);
    free(name64);
    /* The longest path IAM allows: 512 bytes with both slashes. */
    {
        char *elem = repeat('p', 510);

        snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s/alice", elem);
        assert_int_equal(eic_principal_parse(arn, &pr), 0);
        assert_string_equal(pr.user, "alice");
        free(elem);
    }
}

static void test_parse_bad(void **state)
{
    static const char *bad[] = {
        "",
        "arn",
        "arn:aws:iam::111122223333",
        "arn:aws:iam::111122223333:",
        "ARN:aws:iam::111122223333:user/alice",          /* case matters */
        "urn:aws:iam::111122223333:user/alice",
        "arn:aws-x:iam::111122223333:user/alice",        /* unknown partitions */
        "arn:AWS:iam::111122223333:user/alice",
        "arn::iam::111122223333:user/alice",
        "arn:aws-iso-c:iam::111122223333:user/alice",
        "arn:aws:ec2::111122223333:user/alice",          /* wrong service */
        "arn:aws:IAM::111122223333:user/alice",
        "arn:aws:sts::111122223333:user/alice",          /* user is an iam resource */
        "arn:aws:iam::111122223333:assumed-role/R/s",    /* assumed-role is an sts resource */
        "arn:aws:iam:us-east-1:111122223333:user/alice", /* principals have no region */
        "arn:aws:iam::11112222333:user/alice",           /* 11 digits */
        "arn:aws:iam::1111222233334:user/alice",         /* 13 digits */
        "arn:aws:iam::11112222333a:user/alice",
        "arn:aws:iam::-11122223333:user/alice",
        "arn:aws:iam:::user/alice",
        "arn:aws:iam::111122223333:root",                /* unsupported principal kinds */
        "arn:aws:iam::111122223333:group/admins",
        "arn:aws:sts::111122223333:federated-user/bob",
        "arn:aws:iam::111122223333:users/alice",
        "arn:aws:iam::111122223333:user",
        "arn:aws:iam::111122223333:user/",               /* empty name */
        "arn:aws:iam::111122223333:user/path/",
        "arn:aws:iam::111122223333:user/alice!",         /* characters IAM does not allow */
        "arn:aws:iam::111122223333:user/alice smith",
        "arn:aws:iam::111122223333:user/al:ice",
        "arn:aws:iam::111122223333:user/al*ce",
        "arn:aws:iam::111122223333:user/\xc3\xa9",
        "arn:aws:iam::111122223333:user//alice",         /* empty path element */
        "arn:aws:iam::111122223333:user/a//alice",
        "arn:aws:iam::111122223333:user/a b/alice",      /* blank in path */
        "arn:aws:iam::111122223333:user/a\tb/alice",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:role/Ad$mins",
        "arn:aws:sts::111122223333:assumed-role/Admins",  /* no session */
        "arn:aws:sts::111122223333:assumed-role/Admins/",
        "arn:aws:sts::111122223333:assumed-role//bob",
        "arn:aws:sts::111122223333:assumed-role/Admins/b", /* session: 2..64 */
        "arn:aws:sts::111122223333:assumed-role/Admins/bob/x",
        "arn:aws:sts::111122223333:assumed-role/path/Admins/bob",
        "arn:aws:sts::111122223333:assumed-role/Admins/b ob",
        "arn:aws:sts::111122223333:assumed-role/Ad:mins/bob",
    };
    static const struct {
        const char *before;
        const char *after;
    } too_long[] = {
        /* around a 65-character name */
        {"arn:aws:iam::111122223333:user/", ""},
        {"arn:aws:iam::111122223333:role/", ""},
        {"arn:aws:sts::111122223333:assumed-role/", "/bob"},
        {"arn:aws:sts::111122223333:assumed-role/Admins/", ""},
    };
    struct eic_principal pr;
    char *name65 = repeat('n', 65);
    char *elem = repeat('p', 511);
    char *huge = repeat('x', EIC_ARN_MAX);
    char arn[EIC_ARN_MAX * 2];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&pr, 'x', sizeof(pr));
        if (eic_principal_parse(bad[i], &pr) != EBADMSG) {
            fail_msg("accepted: '%s'", bad[i]);
        }
        /* Nothing of a refused ARN is left in the output. */
        assert_string_equal(pr.account, "");
        assert_string_equal(pr.user, "");
        assert_string_equal(pr.role, "");
        assert_string_equal(pr.session, "");
    }
    for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
        snprintf(arn, sizeof(arn), "%s%s%s", too_long[i].before, name65, too_long[i].after);
        if (eic_principal_parse(arn, &pr) != EBADMSG) {
            fail_msg("accepted: '%s'", arn);
        }
    }
    /* A path of 513 bytes with both slashes. */
    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s/alice", elem);
    assert_int_equal(eic_principal_parse(arn, &pr), EBADMSG);
    /* Longer than EIC_ARN_MAX, though every part would be fine. */
    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s/alice", huge);
    assert_int_equal(eic_principal_parse(arn, &pr), EBADMSG);
    assert_int_equal(eic_principal_parse(NULL, &pr), EINVAL);
    assert_int_equal(eic_principal_parse("arn:aws:iam::111122223333:user/alice", NULL), EINVAL);
    free(name65);
    free(elem);
    free(huge);
}

/* ---- glob ----------------------------------------------------------------------------- */

static void test_glob(void **state)
{
    static const struct {
        const char *pattern;
        const char *text;
        int match;
    } cases[] = {
        {"", "", 1},
        {"", "a", 0},
        {"a", "", 0},
        {"*", "", 1},
        {"**", "", 1},
        {"?", "", 0},
        {"abc", "abc", 1},
        {"abc", "abd", 0},
        {"abc", "ab", 0},
        {"ab", "abc", 0},
        {"ABC", "abc", 0}, /* case-sensitive */
        {"*", "arn:aws:iam::1:user/a/b", 1},
        {"a*", "a", 1},
        {"*a", "a", 1},
        {"*a", "ba", 1},
        {"*a", "ab", 0},
        {"a*c", "ac", 1},
        {"a*c", "abbbc", 1},
        {"a*c", "abbbcd", 0},
        {"a*c*", "abbbcd", 1},
        {"?", "a", 1},
        {"?", "ab", 0},
        {"??", "a", 0},
        {"a?c", "abc", 1},
        {"a?c", "ac", 0},
        {"*?", "", 0},
        {"*?", "a", 1},
        {"?*?", "ab", 1},
        {"?*?", "a", 0},
        {"*ab*ab*", "xxabyyabzz", 1},
        {"*ab*ab*", "xxabyyazz", 0},
        {"a*b*c*d", "aXbXcXd", 1},
        {"a*b*c*d", "aXcXbXd", 0},
        {"*aab", "aaaab", 1}, /* needs backtracking into the star */
        {"*a?b", "aacb", 1},
        /* '*' crosses '/' and ':' */
        {"arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/path/alice", 1},
        {"arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:role/alice", 0},
        {"arn:*:iam::111122223333:user/alice", "arn:aws-us-gov:iam::111122223333:user/alice", 1},
        {"arn:aws:iam::????????????:user/*", "arn:aws:iam::111122223333:user/x", 1},
        {"arn:aws:iam::????????????:user/*", "arn:aws:iam::11112222333:user/x", 0},
        /* A pattern is anchored at both ends: no substring matches (nsscache's "bob" vs "bobby"). */
        {"arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:user/bobby", 0},
        {"arn:aws:iam::111122223333:user/bob", "xarn:aws:iam::111122223333:user/bob", 0},
        /* Brackets and backslashes are plain characters. */
        {"[ab]", "a", 0},
        {"[ab]", "[ab]", 1},
        {"\\*", "\\abc", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (eic_glob_match(cases[i].pattern, cases[i].text) != cases[i].match) {
            fail_msg("glob '%s' on '%s': expected %d", cases[i].pattern, cases[i].text, cases[i].match);
        }
    }
    assert_int_equal(eic_glob_match(NULL, "a"), 0);
    assert_int_equal(eic_glob_match("a", NULL), 0);
}

/* The pathological patterns of recursive matchers ("a*a*a*...b" on "aaaa...") stay cheap. */
static void test_glob_no_blowup(void **state)
{
    char *text = repeat('a', EIC_ARN_MAX);
    char *stars = repeat('*', EIC_ARN_MAX);
    char pattern[EIC_ARN_MAX + 2];
    struct timespec t0;
    struct timespec t1;
    double elapsed;

    (void)state;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
    for (size_t i = 0; i + 2 < sizeof(pattern); i += 2) {
        pattern[i] = 'a';
        pattern[i + 1] = '*';
    }
    pattern[sizeof(pattern) - 2] = 'b';
    pattern[sizeof(pattern) - 1] = '\0';
    assert_int_equal(eic_glob_match(pattern, text), 0);
    stars[EIC_ARN_MAX - 1] = 'b';
    assert_int_equal(eic_glob_match(stars, text), 0);
    stars[EIC_ARN_MAX - 1] = 'a';
    assert_int_equal(eic_glob_match(stars, text), 1);
    stars[EIC_ARN_MAX - 1] = '*';
    assert_int_equal(eic_glob_match(stars, text), 1);
    assert_int_equal(eic_glob_match(stars, ""), 1);
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
    elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* Quadratic worst case: a few million steps, far below a second even under valgrind. */
    assert_true(elapsed < 5.0);
    free(text);
    free(stars);
}

static void test_glob_check(void **state)
{
    static const char *good[] = {
        "arn:",
        "arn:*",
        "arn:aws:iam::111122223333:user/*",
        "arn:aws:sts::????????????:assumed-role/Admins/*",
        "arn:aws:iam::*:user/odd#name!~",
    };
    static const char *bad[] = {
        "", "*", "ar*", "ARN:*", " arn:*", "arn:a b", "arn:a\tb", "arn:[ab]", "arn:a]", "arn:{user}",
        "arn:a\\*", "arn:\xc3\xa9",
    };
    char why[256];
    char *huge = repeat('*', EIC_ARN_MAX + 1);

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (eic_glob_check(good[i], why, sizeof(why)) != 0) {
            fail_msg("good pattern refused: '%s': %s", good[i], why);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (eic_glob_check(bad[i], why, sizeof(why)) != EINVAL) {
            fail_msg("bad pattern accepted: '%s'", bad[i]);
        }
        assert_true(why[0] != '\0');
    }
    memcpy(huge, "arn:", 4);
    assert_int_equal(eic_glob_check(huge, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "ARN pattern longer than 2048 bytes");
    huge[EIC_ARN_MAX] = '\0';
    assert_int_equal(eic_glob_check(huge, why, sizeof(why)), 0);
    assert_int_equal(eic_glob_check(NULL, NULL, 0), EINVAL);
    free(huge);
}

static void test_template_check(void **state)
{
    static const char *good[] = {
        "{user}", "{role}", "{session}", "{account}", "aws-{user}", "{role}.{session}", "r-{role}-{account}",
        "_{user}", "{user}_x", "A{user}Z", "{user}{user}", "a2345678901234567890123456789{user}", "a234567890123456789012345678901{user}",
    };
    static const char *bad[] = {
        "", "shared", "{}", "{ user}", "{USER}", "{usr}", "{user", "user}", "{{user}}", "{user}}", "{user}{",
        "{user}@corp", "{user} ", "a b{user}", "{user}$", "-{user}", ".{user}", "{user}/x", "a234567890123456789012345678901{user}{role}",
        "{user}\xc3\xa9",
    };
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (eic_template_check(good[i], why, sizeof(why)) != 0) {
            fail_msg("good template refused: '%s': %s", good[i], why);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (eic_template_check(bad[i], why, sizeof(why)) != EINVAL) {
            fail_msg("bad template accepted: '%s'", bad[i]);
        }
        assert_true(why[0] != '\0');
    }
    assert_int_equal(eic_template_check(NULL, NULL, 0), EINVAL);
}

/* ---- resolving ------------------------------------------------------------------------ */

/* Rules built in code: {kind, pattern, template, groups...}. */
struct rule_spec {
    enum eic_rule_kind kind;
    const char *pattern;
    const char *name_template;
    const char *groups[3];
};

static void build(struct eic_mapping *m, const struct rule_spec *specs, size_t n)
{
    m->rules = calloc(n, sizeof(*m->rules));
    assert_non_null(m->rules);
    m->n_rules = n;
    for (size_t i = 0; i < n; i++) {
        struct eic_rule *r = &m->rules[i];

        r->kind = specs[i].kind;
        r->line = (unsigned int)(i + 1);
        r->pattern = strdup(specs[i].pattern);
        assert_non_null(r->pattern);
        if (specs[i].name_template != NULL) {
            r->name_template = strdup(specs[i].name_template);
            assert_non_null(r->name_template);
        }
        for (size_t g = 0; g < 3 && specs[i].groups[g] != NULL; g++) {
            r->groups[g] = strdup(specs[i].groups[g]);
            assert_non_null(r->groups[g]);
            r->n_groups++;
        }
    }
}

/* Resolve and check the status, the name and the deciding rule's line (0: none). */
static void expect(const struct eic_mapping *m, const char *arn, enum eic_map_status status, const char *name,
                   unsigned int line)
{
    static const struct eic_rule sentinel;
    char out[EIC_LOGIN_NAME_MAX + 1];
    const struct eic_rule *rule = &sentinel; /* must be overwritten */
    enum eic_map_status got;

    memset(out, 'x', sizeof(out));
    got = eic_mapping_resolve(m, arn, out, sizeof(out), &rule);
    if (got != status) {
        fail_msg("%s: got '%s', expected '%s'", arn, eic_map_status_name(got), eic_map_status_name(status));
    }
    assert_string_equal(out, status == EIC_MAP_OK ? name : "");
    if (line == 0) {
        assert_null(rule);
    } else {
        assert_non_null(rule);
        if (rule->line != line) {
            fail_msg("%s: decided by rule %u, expected %u", arn, rule->line, line);
        }
    }
}

static void test_resolve_examples(void **state)
{
    static const struct rule_spec specs[] = {
        /* 1 */ {EIC_RULE_MAP, "arn:aws:iam::111122223333:user/*", "{user}", {NULL}},
        /* 2 */ {EIC_RULE_DENY, "arn:aws:iam::111122223333:user/mallory", NULL, {NULL}},
        /* 3 */ {EIC_RULE_MAP, "arn:aws:sts::111122223333:assumed-role/Admins/*", "{session}", {"sudo", "eic-admins"}},
        /* 4 */ {EIC_RULE_MAP, "arn:aws:sts::111122223333:assumed-role/*", "{role}-{session}", {NULL}},
        /* 5 */ {EIC_RULE_MAP, "arn:aws:*::444455556666:*", "{session}", {"ops"}},
        /* 6 */ {EIC_RULE_MAP, "arn:aws:iam::444455556666:user/*", "aws-{user}", {NULL}},
        /* 7 */ {EIC_RULE_MAP, "arn:aws:iam::*:role/*", "r{account}", {NULL}},
        /* 8 */ {EIC_RULE_MAP, "arn:aws:iam::999999999999:user/*", "{account}", {NULL}},
        /* 9 */ {EIC_RULE_MAP, "arn:aws:iam::*:user/*", "x{user}", {NULL}},
        /* 10 */ {EIC_RULE_DENY, "arn:aws:sts::*:assumed-role/*/root", NULL, {NULL}},
    };
    struct eic_mapping m;
    const struct eic_rule *rule = NULL;
    char out[EIC_LOGIN_NAME_MAX + 1];
    char arn[256];
    char *long_name = repeat('b', 33);

    (void)state;
    build(&m, specs, sizeof(specs) / sizeof(specs[0]));

    /* alice -> alice, by rule 1. */
    expect(&m, "arn:aws:iam::111122223333:user/alice", EIC_MAP_OK, "alice", 1);
    expect(&m, "arn:aws:iam::111122223333:user/eng/alice", EIC_MAP_OK, "alice", 1);
    /* assumed-role/Admins/bob -> bob, with the rule's groups. */
    assert_int_equal(eic_mapping_resolve(&m, "arn:aws:sts::111122223333:assumed-role/Admins/bob", out, sizeof(out),
                                         &rule),
                     EIC_MAP_OK);
    assert_string_equal(out, "bob");
    assert_non_null(rule);
    assert_int_equal(rule->line, 3);
    assert_int_equal(rule->n_groups, 2);
    assert_string_equal(rule->groups[0], "sudo");
    assert_string_equal(rule->groups[1], "eic-admins");
    /* Deny wins though it is listed after the map rule that matches. */
    expect(&m, "arn:aws:iam::111122223333:user/mallory", EIC_MAP_DENIED, NULL, 2);
    expect(&m, "arn:aws:sts::111122223333:assumed-role/Admins/root", EIC_MAP_DENIED, NULL, 10);
    /* The first matching map rule wins (3 before 4). */
    expect(&m, "arn:aws:sts::111122223333:assumed-role/Admins/carol", EIC_MAP_OK, "carol", 3);
    expect(&m, "arn:aws:sts::111122223333:assumed-role/Dev/carol", EIC_MAP_OK, "Dev-carol", 4);
    /* {session}: rule 5 matches every ARN of that account, but applies to sessions only; an IAM
     * user falls through to rule 6 (aws-{user}). */
    expect(&m, "arn:aws:sts::444455556666:assumed-role/Ops/dave", EIC_MAP_OK, "dave", 5);
    expect(&m, "arn:aws:iam::444455556666:user/dave", EIC_MAP_OK, "aws-dave", 6);
    /* {account}; an IAM role (not assumed) has no session, so rule 5 does not apply either. */
    expect(&m, "arn:aws:iam::444455556666:role/Ops", EIC_MAP_OK, "r444455556666", 7);
    /* A name with '@' (valid in IAM, not in a login name) is refused, and no later rule is tried. */
    expect(&m, "arn:aws:sts::111122223333:assumed-role/Admins/bob@example.com", EIC_MAP_BAD_NAME, NULL, 3);
    expect(&m, "arn:aws:iam::111122223333:user/a+b", EIC_MAP_BAD_NAME, NULL, 1);
    expect(&m, "arn:aws:iam::111122223333:user/a=b", EIC_MAP_BAD_NAME, NULL, 1);
    expect(&m, "arn:aws:iam::111122223333:user/a,b", EIC_MAP_BAD_NAME, NULL, 1);
    /* IAM allows a leading '-' or '.'; login names do not. */
    expect(&m, "arn:aws:iam::111122223333:user/-rf", EIC_MAP_BAD_NAME, NULL, 1);
    expect(&m, "arn:aws:iam::111122223333:user/.hidden", EIC_MAP_BAD_NAME, NULL, 1);
    /* Longer than 32: refused, not cut. 32 exactly is fine. */
    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", long_name);
    expect(&m, arn, EIC_MAP_BAD_NAME, NULL, 1);
    long_name[32] = '\0';
    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", long_name);
    expect(&m, arn, EIC_MAP_OK, long_name, 1);
    /* 31 characters become 32 with the "x" prefix of rule 9; 32 become 33. */
    long_name[31] = '\0';
    snprintf(arn, sizeof(arn), "arn:aws:iam::222233334444:user/%s", long_name);
    assert_int_equal(eic_mapping_resolve(&m, arn, out, sizeof(out), &rule), EIC_MAP_OK);
    assert_int_equal(strlen(out), 32);
    long_name[31] = 'b';
    snprintf(arn, sizeof(arn), "arn:aws:iam::222233334444:user/%s", long_name);
    expect(&m, arn, EIC_MAP_BAD_NAME, NULL, 9);
    /* {account} alone: a name of digits only would be taken for a UID. */
    expect(&m, "arn:aws:iam::999999999999:user/zed", EIC_MAP_BAD_NAME, NULL, 8);
    expect(&m, "arn:aws:iam::222233334444:user/1234", EIC_MAP_OK, "x1234", 9);
    /* No rule. */
    expect(&m, "arn:aws:sts::222233334444:assumed-role/Dev/erin", EIC_MAP_NO_RULE, NULL, 0);
    expect(&m, "arn:aws-cn:iam::111122223333:user/alice", EIC_MAP_NO_RULE, NULL, 0);
    /* Not an ARN eic understands: no rule is even looked at. */
    expect(&m, "arn:aws:iam::111122223333:root", EIC_MAP_BAD_ARN, NULL, 0);
    expect(&m, "arn:aws:iam::111122223333:user/mal ory", EIC_MAP_BAD_ARN, NULL, 0);
    expect(&m, "", EIC_MAP_BAD_ARN, NULL, 0);
    assert_int_equal(eic_mapping_resolve(&m, NULL, out, sizeof(out), NULL), EIC_MAP_BAD_ARN);
    /* A buffer too small for the name: refused, never truncated. */
    memset(out, 'x', sizeof(out));
    assert_int_equal(eic_mapping_resolve(&m, "arn:aws:iam::111122223333:user/alice", out, 5, NULL), EIC_MAP_BAD_NAME);
    assert_string_equal(out, "");
    assert_int_equal(eic_mapping_resolve(&m, "arn:aws:iam::111122223333:user/alice", out, 6, NULL), EIC_MAP_OK);
    assert_string_equal(out, "alice");
    assert_int_equal(eic_mapping_resolve(&m, "arn:aws:iam::111122223333:user/alice", NULL, 0, NULL),
                     EIC_MAP_BAD_NAME);
    /* No mapping at all. */
    expect(NULL, "arn:aws:iam::111122223333:user/alice", EIC_MAP_NO_RULE, NULL, 0);

    eic_mapping_free(&m);
    eic_mapping_free(&m); /* idempotent */
    assert_null(m.rules);
    assert_int_equal(m.n_rules, 0);
    free(long_name);
}

/* Rules built by hand with a broken template (the parser never produces one) refuse the name. */
static void test_resolve_malformed_rule(void **state)
{
    static const struct rule_spec specs[] = {
        {EIC_RULE_MAP, "arn:aws:iam::*:user/a*", "{user", {NULL}},
        {EIC_RULE_MAP, "arn:aws:iam::*:user/b*", "{nope}", {NULL}},
        {EIC_RULE_MAP, "arn:aws:iam::*:user/c*", "x}", {NULL}},
        {EIC_RULE_MAP, "arn:aws:iam::*:user/*", NULL, {NULL}}, /* no template: skipped */
    };
    struct eic_mapping m;

    (void)state;
    build(&m, specs, sizeof(specs) / sizeof(specs[0]));
    expect(&m, "arn:aws:iam::111122223333:user/alice", EIC_MAP_BAD_NAME, NULL, 1);
    expect(&m, "arn:aws:iam::111122223333:user/bob", EIC_MAP_BAD_NAME, NULL, 2);
    expect(&m, "arn:aws:iam::111122223333:user/carol", EIC_MAP_BAD_NAME, NULL, 3);
    expect(&m, "arn:aws:iam::111122223333:user/dave", EIC_MAP_NO_RULE, NULL, 0);
    eic_mapping_free(&m);
}

/* The names a rule can ever give: what nss_eic asks before a by-name miss goes to IMDS. */
static void test_mappable_names(void **state)
{
    static const char *const yes[] = {"alice", "x1234", "a.b_c-d", "A", "u1"};
    static const char *const no[] = {"", "1000", "0", "HOST$", "a$", "-x", ".x", "a b", "a@b",
                                     "a23456789012345678901234567890123"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_true(eic_mappable_name(yes[i]));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_false(eic_mappable_name(no[i]));
    }
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(eic_map_status_name(EIC_MAP_OK), "ok");
    assert_string_equal(eic_map_status_name(EIC_MAP_DENIED), "denied");
    assert_string_equal(eic_map_status_name(EIC_MAP_NO_RULE), "no matching rule");
    assert_string_equal(eic_map_status_name(EIC_MAP_BAD_ARN), "not a supported principal ARN");
    assert_string_equal(eic_map_status_name(EIC_MAP_BAD_NAME), "derived name is not a valid login name");
    assert_string_equal(eic_map_status_name((enum eic_map_status)99), "unknown");
}

/* ---- configuration -------------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
    struct eic_config cfg;

    (void)state;
    assert_int_equal(eic_config_defaults(&cfg), 0);
    assert_int_equal(cfg.uid_min, 2010000000);
    assert_int_equal(cfg.uid_max, 2109999999);
    assert_string_equal(cfg.cache_dir, "/var/lib/eic");
    assert_string_equal(cfg.home_base, "/home");
    assert_string_equal(cfg.shell, "/bin/bash");
    assert_int_equal(cfg.negative_cache_ttl, 15);
    assert_null(cfg.mapping.rules);
    assert_int_equal(cfg.mapping.n_rules, 0);
    eic_config_free(&cfg);
}

static void test_config_good_rules(void **state)
{
    struct eic_config cfg;
    const struct eic_rule *r;
    char err[512];

    (void)state;
    if (eic_config_load(MAPPING_DIR "/good-rules.conf", geteuid(), &cfg, err, sizeof(err)) != 0) {
        fail_msg("good-rules.conf refused: %s", err);
    }
    assert_int_equal(cfg.uid_min, 500000);
    assert_int_equal(cfg.uid_max, 599999);
    assert_int_equal(cfg.mapping.n_rules, 7);
    r = cfg.mapping.rules;
    assert_int_equal(r[0].kind, EIC_RULE_MAP);
    assert_string_equal(r[0].pattern, "arn:aws:iam::111122223333:user/*");
    assert_string_equal(r[0].name_template, "{user}");
    assert_int_equal(r[0].n_groups, 0);
    assert_int_equal(r[0].line, 7);
    assert_int_equal(r[1].kind, EIC_RULE_DENY);
    assert_string_equal(r[1].pattern, "arn:aws:iam::111122223333:user/mallory");
    assert_null(r[1].name_template);
    assert_int_equal(r[1].line, 10);
    assert_int_equal(r[2].kind, EIC_RULE_MAP);
    assert_string_equal(r[2].name_template, "{session}");
    assert_int_equal(r[2].n_groups, 3);
    assert_string_equal(r[2].groups[0], "sudo");
    assert_string_equal(r[2].groups[1], "eic-admins");
    assert_string_equal(r[2].groups[2], "adm");
    assert_int_equal(r[3].n_groups, 1);
    assert_string_equal(r[3].groups[0], "ops");
    assert_string_equal(r[4].name_template, "aws-{user}");
    assert_string_equal(r[5].name_template, "r-{role}-{account}");
    assert_int_equal(r[6].kind, EIC_RULE_DENY);
    assert_string_equal(r[6].pattern, "arn:aws:sts::????????????:assumed-role/Blocked/*");
    assert_int_equal(r[6].line, 28);

    /* The header's examples, through the parsed file. */
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/alice", EIC_MAP_OK, "alice", 7);
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/mallory", EIC_MAP_DENIED, NULL, 10);
    expect(&cfg.mapping, "arn:aws:sts::111122223333:assumed-role/Admins/bob", EIC_MAP_OK, "bob", 12);
    expect(&cfg.mapping, "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/erin",
           EIC_MAP_OK, "erin", 17);
    expect(&cfg.mapping, "arn:aws:sts::444455556666:assumed-role/Any/erin", EIC_MAP_NO_RULE, NULL, 0);
    expect(&cfg.mapping, "arn:aws:iam::444455556666:user/erin", EIC_MAP_OK, "aws-erin", 21);
    expect(&cfg.mapping, "arn:aws-cn:iam::777788889999:role/svc/web", EIC_MAP_OK, "r-web-777788889999", 24);
    expect(&cfg.mapping, "arn:aws:sts::444455556666:assumed-role/Blocked/erin", EIC_MAP_DENIED, NULL, 28);
    expect(&cfg.mapping, "arn:aws:sts::111122223333:assumed-role/Dev/bob", EIC_MAP_NO_RULE, NULL, 0);
    eic_config_free(&cfg);
}

/* tests/data/config/all-keys.conf sets the account keys and two rules to non-default values. */
static void test_config_all_keys(void **state)
{
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(eic_config_load(CONFIG_DIR "/all-keys.conf", geteuid(), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.uid_min, 1000);
    assert_int_equal(cfg.uid_max, 4294967294U);
    assert_string_equal(cfg.cache_dir, "/var/lib/eic test");
    assert_string_equal(cfg.home_base, "/");
    assert_string_equal(cfg.shell, "/usr/bin/zsh");
    assert_int_equal(cfg.negative_cache_ttl, 0);
    assert_int_equal(cfg.mapping.n_rules, 2);
    assert_string_equal(cfg.mapping.rules[0].pattern, "arn:aws:iam::*:user/root#1");
    assert_string_equal(cfg.mapping.rules[1].name_template, "u-{user}");
    assert_int_equal(cfg.mapping.rules[1].n_groups, 1);
    assert_string_equal(cfg.mapping.rules[1].groups[0], "sudo");
    eic_config_free(&cfg);
}

/* Limits of the account keys are inclusive; a range of exactly 100 IDs is enough. */
static void test_config_id_limits(void **state)
{
    static const char *good[] = {
        "uid_min = 1000\nuid_max = 1099\n",
        "uid_min = 4294967195\nuid_max = 4294967294\n",
        "uid_max = 4294967294\nuid_min = 0000001000\n",
        "negative_cache_ttl = 3600\n",
        "home_base = /\nshell = /bin/sh\ncache_dir = /\n",
        "uid_min = 00000000000000000000001000\n",
    };
    static const char *bad[] = {
        "uid_min = 1000\nuid_max = 1098\n",
        "uid_max = 2010000000\n", /* equal to the default uid_min */
        "uid_min = 2109999999\n", /* equal to the default uid_max */
        "uid_min = 4294967294\n",
        "uid_min = 1e4\n",
        "uid_min = -1000\n",
    };
    struct eic_config cfg;
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (eic_config_parse("mem", good[i], strlen(good[i]), &cfg, err, sizeof(err)) != 0) {
            fail_msg("refused: '%s': %s", good[i], err);
        }
        eic_config_free(&cfg);
    }
    assert_int_equal(eic_config_parse("mem", good[1], strlen(good[1]), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.uid_min, 4294967195U);
    assert_int_equal(cfg.uid_max, 4294967294U);
    eic_config_free(&cfg);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (eic_config_parse("mem", bad[i], strlen(bad[i]), &cfg, err, sizeof(err)) != EINVAL) {
            fail_msg("accepted: '%s'", bad[i]);
        }
        assert_memory_equal(err, "mem:", 4);
        assert_int_equal(cfg.uid_min, 2010000000);
        eic_config_free(&cfg);
    }
}

/* Every tests/data/mapping/bad-*.conf: EINVAL, the exact "path:line: reason" prefix it announces,
 * and nothing of the file applied (no rule, default keys). */
static void test_config_bad_rules(void **state)
{
    DIR *dir = opendir(MAPPING_DIR);
    struct dirent *de;
    size_t count = 0;

    (void)state;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        static const char marker[] = "# expect-error: ";
        struct eic_config cfg;
        char path[PATH_MAX];
        char first[512];
        char expected[PATH_MAX + 512];
        char err[512];
        FILE *f;
        int ret;

        if (strncmp(de->d_name, "bad-", 4) != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", MAPPING_DIR, de->d_name);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(first, sizeof(first), f));
        fclose(f);
        first[strcspn(first, "\n")] = '\0';
        assert_memory_equal(first, marker, sizeof(marker) - 1);
        snprintf(expected, sizeof(expected), "%s:%s", path, first + sizeof(marker) - 1);

        memset(err, 'x', sizeof(err));
        ret = eic_config_load(path, geteuid(), &cfg, err, sizeof(err));
        if (ret != EINVAL || strncmp(err, expected, strlen(expected)) != 0) {
            fail_msg("%s: returned %d, message '%s', expected EINVAL and '%s...'", de->d_name, ret, err, expected);
        }
        assert_true(strlen(err) < strlen(path) + 200);
        assert_null(cfg.mapping.rules);
        assert_int_equal(cfg.mapping.n_rules, 0);
        assert_int_equal(cfg.uid_min, 2010000000);
        assert_int_equal(cfg.log_level, LOG_INFO);
        eic_config_free(&cfg);
        count++;
    }
    closedir(dir);
    assert_true(count >= 28);
}

/* Limits that fixtures do not show well: a 2048-byte pattern is fine, 2049 is not; 16 groups are
 * fine; many rules are fine. */
static void test_config_rule_limits(void **state)
{
    struct eic_config cfg;
    char err[512];
    char *text = malloc(64 * 1024);
    char *pattern = repeat('*', EIC_ARN_MAX);
    static const char head[] = "arn:aws:iam::111122223333:user/";
    size_t len;

    (void)state;
    assert_non_null(text);
    memcpy(pattern, head, sizeof(head) - 1);
    len = (size_t)snprintf(text, 64 * 1024,
                           "[map %s]\nname = {user}\n"
                           "groups = g1,g2,g3,g4,g5,g6,g7,g8,g9,g10,g11,g12,g13,g14,g15,abcdefghijklmnopqrstuvwxyz012345\n",
                           pattern);
    assert_int_equal(eic_config_parse("mem", text, len, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.mapping.n_rules, 1);
    assert_int_equal(cfg.mapping.rules[0].n_groups, 16);
    assert_int_equal(cfg.mapping.rules[0].line, 1);
    eic_config_free(&cfg);

    len = (size_t)snprintf(text, 64 * 1024, "\n[map %s*]\nname = {user}\n", pattern);
    assert_int_equal(eic_config_parse("mem", text, len, &cfg, err, sizeof(err)), EINVAL);
    assert_string_equal(err, "mem:2: ARN pattern longer than 2048 bytes");
    assert_int_equal(cfg.mapping.n_rules, 0);
    eic_config_free(&cfg);

    /* A group name of 33 characters. */
    len = (size_t)snprintf(text, 64 * 1024, "[map arn:*]\nname = {user}\ngroups = %s\n",
                           "abcdefghijklmnopqrstuvwxyz0123456");
    assert_int_equal(eic_config_parse("mem", text, len, &cfg, err, sizeof(err)), EINVAL);
    assert_memory_equal(err, "mem:3: invalid group name", 25);
    eic_config_free(&cfg);

    /* 1000 rules, in order. */
    len = 0;
    for (int i = 0; i < 1000; i++) {
        len += (size_t)snprintf(text + len, 64 * 1024 - len, "[%s arn:aws:iam::111122223333:user/u%d]\n%s",
                                i % 2 ? "deny" : "map", i, i % 2 ? "" : "name = {user}\n");
    }
    assert_int_equal(eic_config_parse("mem", text, len, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.mapping.n_rules, 1000);
    assert_int_equal(cfg.mapping.rules[999].kind, EIC_RULE_DENY);
    assert_string_equal(cfg.mapping.rules[998].pattern, "arn:aws:iam::111122223333:user/u998");
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/u998", EIC_MAP_OK, "u998", 1498);
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/u999", EIC_MAP_DENIED, NULL, 1500);
    eic_config_free(&cfg);
    free(text);
    free(pattern);
}

/* Parse one rule from memory; expect it loaded (why == NULL) or refused with why at line 1. */
static void expect_rule(const char *text, const char *why)
{
    struct eic_config cfg;
    char err[512];
    char expected[512];
    int ret;

    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    ret = eic_config_parse("mem", text, strlen(text), &cfg, err, sizeof(err));
    if (why == NULL) {
        if (ret != 0) {
            fail_msg("refused: '%s': %s", text, err);
        }
    } else {
        snprintf(expected, sizeof(expected), "mem:1: %s", why);
        if (ret != EINVAL || strncmp(err, expected, strlen(expected)) != 0) {
            fail_msg("'%s': returned %d, message '%s', expected '%s...'", text, ret, err, expected);
        }
        assert_int_equal(cfg.mapping.n_rules, 0);
    }
    eic_config_free(&cfg);
}

/* Unique by construction: the rules that load, and those refused with their reasons. */
static void test_rule_unique(void **state)
{
    static const char *good[] = {
        /* one account and (for sessions) one role named */
        "[map arn:aws:iam::111122223333:user/*]\nname = {user}\n",
        "[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {session}\n",
        "[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {role}-{session}\n",
        /* any account, with {account} */
        "[map arn:aws:iam::*:user/*]\nname = {user}-{account}\n",
        "[map arn:aws:sts::????????????:assumed-role/Admins/*]\nname = {account}.{session}\n",
        "[map arn:aws-cn:iam::*:role/*]\nname = r-{role}-{account}\n",
        /* Identity Center: any of its roles, one person per session name */
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}\n",
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_*/*]\nname = {session}\nlowercase = yes\n",
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*]\nname = {email_local}\n"
        "email_domain = example.com\nlowercase = yes\n",
        "[map arn:aws:sts::*:assumed-role/AWSReservedSSO_*/*]\nname = {email_local}-{account}\n"
        "email_domain = corp.example.com\n",
        /* for sessions the account lines up whatever globs come before it (five ':', none in IAM names) */
        "[map arn:aws:*::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}\n",
        /* IAM users: case-insensitive names, e-mail style names */
        "[map arn:aws:iam::111122223333:user/*]\nname = {user}\nlowercase = yes\n",
        "[map arn:aws:iam::111122223333:user/*]\nname = {email_local}\nemail_domain = example.com\n",
        /* a pattern for users and sessions: each kind the template fits passes */
        "[map arn:aws:*::*]\nname = {user}-{account}\n",
        /* a glob before the account (an IAM path may hold "::111122223333:"): {account} it is */
        "[map arn:aws:*::111122223333:*]\nname = u-{account}-{user}\n",
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}\nlowercase = no\n",
    };
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"[map arn:aws:iam::*:user/*]\nname = {user}\n", "the pattern matches IAM users of more than one AWS account"},
        {"[map arn:aws:iam::11112222333?:user/*]\nname = {user}\n", "the pattern matches IAM users of more than one"},
        {"[map arn:aws:sts::*:assumed-role/Admins/*]\nname = {session}\n",
         "the pattern matches role sessions of more than one AWS account"},
        {"[map arn:aws:*::111122223333:*]\nname = {session}\n", "one session name under two roles is two identities"},
        /* a glob before the account: an IAM path may hold "::111122223333:" */
        {"[map arn:aws:*::111122223333:*]\nname = {user}\n", "the pattern matches IAM users of more than one"},
        {"[map arn:aws:sts::111122223333:assumed-role/*/*]\nname = {session}\n", "one session name under two roles"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admin?/*]\nname = {session}\n", "one session name under two"},
        {"[map arn:aws:sts::111122223333:assumed-role/AWSReserved*/*]\nname = {session}\n", "one session name under"},
        {"[map arn:aws:sts::111122223333:assumed-role/*]\nname = {role}-{session}\n", "one session name under two"},
        {"[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}.{role}\n",
         "{role} with {session} or {email_local} is ambiguous"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {role}\n", "{role} names the role, not who"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = s{account}\n",
         "all role sessions of an account would get one name"},
        {"[map arn:aws:iam::111122223333:role/*]\nname = r{account}\n", "all IAM roles of an account would get one"},
        {"[map arn:aws:iam::111122223333:user/*]\nname = u{account}\n", "all IAM users of an account would get one"},
        {"[map arn:*]\nname = {user}\n", "the pattern must name its partition"},
        {"[map arn:aws?:iam::111122223333:user/*]\nname = {user}\n", "the pattern must name its partition"},
        {"[map arn:aws:iam::111122223333:user/*]\nname = {session}\n", "the rule can never apply"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {user}\n", "the rule can never apply"},
        {"[map arn:aws:iam::111122223333:role/*]\nname = {email_local}\nemail_domain = example.com\n",
         "the rule can never apply"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {session}\nlowercase = yes\n",
         "'lowercase = yes' for the sessions of a role other than Identity Center's"},
        {"[map arn:aws:sts::111122223333:assumed-role/Admins/*]\nname = {email_local}\nemail_domain = example.com\n"
         "lowercase = yes\n",
         "'lowercase = yes' for the sessions"},
        {"[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {email_local}\n",
         "{email_local} needs 'email_domain'"},
        {"[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}\nemail_domain = a.com\n",
         "'email_domain' is set, but the name template does not use {email_local}"},
    };
    static const char *bad_domains[] = {
        "", ".example.com", "example.com.", "example..com", "-a.com", "a-.com", "ex_ample.com", "exa mple.com",
        "a@example.com", "*.example.com",
        "abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefgh", /* 63 */
    };
    struct eic_config cfg;
    char err[512];
    char text[512];
    char why[200];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        expect_rule(good[i], NULL);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_rule(bad[i].text, bad[i].why);
    }
    /* Why a '*' before the account names none: an IAM path may hold ':'. */
    {
        static const char crafted[] = "arn:aws:iam::444455556666:user/x::111122223333:y/bob";
        struct eic_principal pr;

        assert_int_equal(eic_principal_parse(crafted, &pr), 0);
        assert_string_equal(pr.account, "444455556666");
        assert_true(eic_glob_match("arn:aws:*::111122223333:*", crafted));
    }
    for (size_t i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++) {
        why[0] = '\0';
        if (eic_email_domain_check(bad_domains[i], why, sizeof(why)) != EINVAL) {
            fail_msg("bad e-mail domain accepted: '%s'", bad_domains[i]);
        }
        assert_true(why[0] != '\0');
    }
    assert_int_equal(eic_email_domain_check(NULL, why, sizeof(why)), EINVAL);
    assert_int_equal(eic_email_domain_check("x", why, sizeof(why)), 0);
    assert_int_equal(eic_email_domain_check("Example-1.co.uk", why, sizeof(why)), 0);
    /* 62 characters: "x@" + it is an IAM name of 64 */
    assert_int_equal(eic_email_domain_check("abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefg", why,
                                            sizeof(why)),
                     0);
    /* A rule built by hand without a template, a deny rule, no rule. */
    {
        struct eic_rule r = {.kind = EIC_RULE_MAP, .pattern = (char *)"arn:aws:iam::111122223333:user/*"};

        assert_int_equal(eic_rule_check(&r, why, sizeof(why)), EINVAL);
        r.kind = EIC_RULE_DENY;
        assert_int_equal(eic_rule_check(&r, why, sizeof(why)), 0);
        assert_int_equal(eic_rule_check(NULL, why, sizeof(why)), 0);
    }
    /* Key values: reported at their own line. */
    snprintf(text, sizeof(text), "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\nname = {session}\n"
             "lowercase = Yes\n");
    assert_int_equal(eic_config_parse("mem", text, strlen(text), &cfg, err, sizeof(err)), EINVAL);
    assert_string_equal(err, "mem:3: 'lowercase' must be 'yes' or 'no', not 'Yes'");
    eic_config_free(&cfg);
    snprintf(text, sizeof(text), "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\n"
             "name = {email_local}\nemail_domain = example.com.\n");
    assert_int_equal(eic_config_parse("mem", text, strlen(text), &cfg, err, sizeof(err)), EINVAL);
    assert_memory_equal(err, "mem:3: e-mail domain 'example.com.' is not a domain name", 55);
    eic_config_free(&cfg);
}

/* IAM Identity Center with e-mail style user names: {email_local}, email_domain, lowercase. */
static void test_resolve_email(void **state)
{
    static const char rules[] =
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_*/*]\n" /* 1 */
        "email_domain = example.com\n"
        "name = {email_local}\n"
        "lowercase = yes\n"
        "groups = eic-admins\n"
        "[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]\n" /* 6 */
        "email_domain = example.com\n"
        "name = {email_local}\n"
        "lowercase = yes\n"
        "[map arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_*/*]\n" /* 10 */
        "email_domain = Example.com\n"
        "name = x-{email_local}\n"
        "[map arn:aws:iam::111122223333:user/*]\n" /* 13 */
        "email_domain = example.com\n"
        "name = {email_local}\n"
        "[map arn:aws:iam::111122223333:user/*]\n" /* 16 */
        "name = {user}\n"
        "lowercase = yes\n";
    static const char admin[] = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/";
    static const char read[] = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/";
    static const char other[] = "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/";
    struct eic_config cfg;
    char err[512];
    char arn[256];
    const struct eic_rule *rule = NULL;
    char out[EIC_LOGIN_NAME_MAX + 1];

    (void)state;
    if (eic_config_parse("mem", rules, strlen(rules), &cfg, err, sizeof(err)) != 0) {
        fail_msg("refused: %s", err);
    }
    /* One person under two permission sets: one name; the first rule's groups for Admin only. */
    snprintf(arn, sizeof(arn), "%sJane.Doe@example.com", admin);
    assert_int_equal(eic_mapping_resolve(&cfg.mapping, arn, out, sizeof(out), &rule), EIC_MAP_OK);
    assert_string_equal(out, "jane.doe");
    assert_int_equal(rule->line, 1);
    assert_int_equal(rule->n_groups, 1);
    snprintf(arn, sizeof(arn), "%sJane.Doe@example.com", read);
    expect(&cfg.mapping, arn, EIC_MAP_OK, "jane.doe", 6);
    /* lowercase = yes: the domain is compared without case too */
    snprintf(arn, sizeof(arn), "%sJane.Doe@EXAMPLE.COM", read);
    expect(&cfg.mapping, arn, EIC_MAP_OK, "jane.doe", 6);
    /* another domain, a sub-domain, a look-alike, no '@', nothing before the '@': not this rule's */
    snprintf(arn, sizeof(arn), "%sx@evil.example", admin);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    snprintf(arn, sizeof(arn), "%sx@mail.example.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    snprintf(arn, sizeof(arn), "%sx@notexample.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    snprintf(arn, sizeof(arn), "%sexample.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    snprintf(arn, sizeof(arn), "%s@example.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    /* LOCAL must itself be a login name: refused, never altered (and no later rule tried) */
    snprintf(arn, sizeof(arn), "%sa@b@example.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_BAD_NAME, NULL, 1);
    snprintf(arn, sizeof(arn), "%sa+b@example.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_BAD_NAME, NULL, 1);
    snprintf(arn, sizeof(arn), "%s1234@example.com", admin);
    expect(&cfg.mapping, arn, EIC_MAP_BAD_NAME, NULL, 1);
    /* without lowercase: the name keeps its case and the domain must be written as in the rule */
    snprintf(arn, sizeof(arn), "%sJane.Doe@Example.com", other);
    expect(&cfg.mapping, arn, EIC_MAP_OK, "x-Jane.Doe", 10);
    snprintf(arn, sizeof(arn), "%sJane.Doe@example.com", other);
    expect(&cfg.mapping, arn, EIC_MAP_NO_RULE, NULL, 0);
    /* IAM users: an e-mail style user name, then any other name (lower-cased by rule 16) */
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/Bob@example.com", EIC_MAP_OK, "Bob", 13);
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/Bob", EIC_MAP_OK, "bob", 16);
    expect(&cfg.mapping, "arn:aws:iam::111122223333:user/Bob@example.org", EIC_MAP_BAD_NAME, NULL, 16);
    eic_config_free(&cfg);
}

/* The commented examples of configs/eic.conf parse once uncommented, and do what they say. */
/* One identity per account (docs/SECURITY.md): which principals may share one. */
static void test_same_identity(void **state)
{
    static const char sso_admin[] = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jdoe";
    static const char sso_read[] = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/jdoe";

    (void)state;
    /* the same ARN: an IAM user across pushes, the same role session */
    assert_true(eic_same_identity("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice"));
    assert_true(eic_same_identity("arn:aws:sts::111122223333:assumed-role/R/s", "arn:aws:sts::111122223333:assumed-role/R/s"));
    /* the takeover of the review: a role session that chose an IAM user's name */
    assert_false(eic_same_identity("arn:aws:iam::111122223333:user/alice",
                                   "arn:aws:sts::111122223333:assumed-role/R/alice"));
    /* two roles' sessions of one name; one name in two accounts */
    assert_false(eic_same_identity("arn:aws:sts::111122223333:assumed-role/R1/alice",
                                   "arn:aws:sts::111122223333:assumed-role/R2/alice"));
    assert_false(eic_same_identity("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::444455556666:user/alice"));
    /* an IAM user moved to another path is another ARN: another identity */
    assert_false(eic_same_identity("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/ops/alice"));
    /* IAM Identity Center: one user under two permission sets */
    assert_true(eic_same_identity(sso_admin, sso_read));
    /* ... but not another Identity Center user, account or partition, nor a role that is not one */
    assert_false(eic_same_identity(sso_admin, "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jroe"));
    assert_false(eic_same_identity(sso_admin, "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jdoe"));
    assert_false(eic_same_identity(sso_admin, "arn:aws-cn:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jdoe"));
    assert_false(eic_same_identity(sso_admin, "arn:aws:sts::111122223333:assumed-role/Admin/jdoe"));
    assert_false(eic_same_identity(sso_admin, "arn:aws:iam::111122223333:user/jdoe"));
    /* nothing eic cannot parse, and no NULL */
    assert_false(eic_same_identity(sso_admin, "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_x"));
    assert_false(eic_same_identity(NULL, sso_admin));
    assert_false(eic_same_identity(sso_admin, NULL));
}

static void test_sample_examples(void **state)
{
    FILE *f = fopen(EIC_SAMPLE_CONFIG, "re");
    char *text = malloc(64 * 1024);
    char line[1024];
    size_t len = 0;
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_non_null(f);
    assert_non_null(text);
    while (fgets(line, sizeof(line), f) != NULL) {
        /* "#[", "#name", "#groups", "#email_domain", "#lowercase": example rule lines. */
        const char *p = line;

        if (strncmp(line, "#[", 2) == 0 || strncmp(line, "#name", 5) == 0 || strncmp(line, "#groups", 7) == 0 ||
            strncmp(line, "#email_domain", 13) == 0 || strncmp(line, "#lowercase", 10) == 0) {
            p++;
        }
        assert_true(len + strlen(p) < 64 * 1024);
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    fclose(f);
    if (eic_config_parse("eic.conf", text, len, &cfg, err, sizeof(err)) != 0) {
        fail_msg("uncommented sample refused: %s", err);
    }
    assert_int_equal(cfg.mapping.n_rules, 5);
    assert_int_equal(cfg.mapping.rules[0].kind, EIC_RULE_DENY);
    assert_int_equal(eic_mapping_resolve(&cfg.mapping, "arn:aws:iam::111122223333:user/mallory", line,
                                         sizeof(line), NULL),
                     EIC_MAP_DENIED);
    assert_int_equal(eic_mapping_resolve(&cfg.mapping, "arn:aws:sts::111122223333:assumed-role/Admins/bob", line,
                                         sizeof(line), NULL),
                     EIC_MAP_OK);
    assert_string_equal(line, "bob");
    assert_int_equal(eic_mapping_resolve(&cfg.mapping, "arn:aws:iam::444455556666:user/carol", line, sizeof(line),
                                         NULL),
                     EIC_MAP_OK);
    assert_string_equal(line, "partner-carol");
    assert_int_equal(eic_mapping_resolve(&cfg.mapping,
                                         "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/"
                                         "Jane.Doe@example.com",
                                         line, sizeof(line), NULL),
                     EIC_MAP_OK);
    assert_string_equal(line, "jane.doe");
    eic_config_free(&cfg);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_glob_no_blowup),
        cmocka_unit_test(test_glob_check),
        cmocka_unit_test(test_template_check),
        cmocka_unit_test(test_resolve_examples),
        cmocka_unit_test(test_resolve_malformed_rule),
        cmocka_unit_test(test_mappable_names),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_good_rules),
        cmocka_unit_test(test_config_all_keys),
        cmocka_unit_test(test_config_id_limits),
        cmocka_unit_test(test_config_bad_rules),
        cmocka_unit_test(test_config_rule_limits),
        cmocka_unit_test(test_sample_examples),
        cmocka_unit_test(test_same_identity),
        cmocka_unit_test(test_rule_unique),
        cmocka_unit_test(test_resolve_email),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
