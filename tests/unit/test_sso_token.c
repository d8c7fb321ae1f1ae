/* Unit tests for the pure parts of client/cred_sso_token.c: the SSO token cache document `aws sso
 * login` writes (parse), whether botocore would renew it, a CreateToken answer applied to it, and
 * the document botocore writes back after a renewal (compose). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cred_sso_token.h"

/* 2026-01-01T00:00:00Z */
#define T0 ((time_t)1767225600)

/* What `aws sso login` caches for an sso-session, with the client registration. */
static const char full[] =
    "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"us-east-1\", \"accessToken\": \"at-old\", "
    "\"expiresAt\": \"2026-01-01T00:10:00Z\", \"clientId\": \"cid\", \"clientSecret\": \"csecret\", "
    "\"registrationExpiresAt\": \"2026-04-01T00:00:00Z\", \"refreshToken\": \"rt-1\"}";

static void parse_ok(const char *text, struct eic_sso_token *t)
{
    assert_int_equal(eic_sso_token_parse(text, strlen(text), t), 0);
}

static void test_parse(void **state)
{
    static const char *const invalid[] = {
        "", "[]", "not json", "{\"expiresAt\": \"2026-01-01T00:10:00Z\"}", "{\"accessToken\": \"at\"}",
        "{\"accessToken\": \"\", \"expiresAt\": \"2026-01-01T00:10:00Z\"}",
        "{\"accessToken\": 1, \"expiresAt\": \"2026-01-01T00:10:00Z\"}",
        "{\"accessToken\": \"at\", \"expiresAt\": \"tomorrow\"}",
        "{\"accessToken\": \"at\", \"expiresAt\": 1767226200}",
        /* The token goes into a header line. */
        "{\"accessToken\": \"at\\r\\nX-Evil: 1\", \"expiresAt\": \"2026-01-01T00:10:00Z\"}",
        "{\"accessToken\": \"a t\", \"expiresAt\": \"2026-01-01T00:10:00Z\"}",
    };
    struct eic_sso_token t;

    (void)state;
    parse_ok(full, &t);
    assert_string_equal(t.access_token, "at-old");
    assert_int_equal(t.expires_at, T0 + 600);
    assert_string_equal(t.refresh_token, "rt-1");
    assert_string_equal(t.client_id, "cid");
    assert_string_equal(t.client_secret, "csecret");
    assert_string_equal(t.registration_expires_at, "2026-04-01T00:00:00Z");
    eic_sso_token_free(&t);
    /* Older AWS CLI v2 releases: "...UTC"; no registration: those members NULL. */
    parse_ok("{\"accessToken\": \"at\", \"expiresAt\": \"2026-01-01T00:10:00UTC\", \"refreshToken\": 5}", &t);
    assert_int_equal(t.expires_at, T0 + 600);
    assert_null(t.refresh_token);
    assert_null(t.client_id);
    assert_null(t.registration_expires_at);
    eic_sso_token_free(&t);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (eic_sso_token_parse(invalid[i], strlen(invalid[i]), &t) != EINVAL) {
            fail_msg("case %zu (%s) is not EINVAL", i, invalid[i]);
        }
        assert_null(t.access_token);
    }
}

static void test_unrenewable(void **state)
{
    struct eic_sso_token t;

    (void)state;
    parse_ok(full, &t);
    assert_null(eic_sso_token_unrenewable(&t, T0));
    /* The registration expired (at the second, as botocore's "<= 0"). */
    assert_non_null(strstr(eic_sso_token_unrenewable(&t, T0 + 90 * 86400), "registration has expired"));
    free(t.registration_expires_at);
    t.registration_expires_at = strdup("soon");
    assert_non_null(t.registration_expires_at);
    assert_non_null(strstr(eic_sso_token_unrenewable(&t, T0), "not a time"));
    eic_sso_token_free(&t);
    /* Each of the four members is needed. */
    for (int i = 0; i < 4; i++) {
        char **members[4];

        parse_ok(full, &t);
        members[0] = &t.refresh_token;
        members[1] = &t.client_id;
        members[2] = &t.client_secret;
        members[3] = &t.registration_expires_at;
        free(*members[i]);
        *members[i] = NULL;
        assert_non_null(strstr(eic_sso_token_unrenewable(&t, T0), "no refreshToken"));
        eic_sso_token_free(&t);
    }
}

static void test_renewed(void **state)
{
    static const char *const bad[] = {
        "", "[]", "{\"expiresIn\": 28800}", "{\"accessToken\": \"at-new\"}",
        "{\"accessToken\": \"at-new\", \"expiresIn\": 0}", "{\"accessToken\": \"at-new\", \"expiresIn\": \"28800\"}",
        "{\"accessToken\": \"at-new\", \"expiresIn\": 99999999999}",
        "{\"accessToken\": \"at new\", \"expiresIn\": 28800}",
        "{\"accessToken\": \"at-new\", \"expiresIn\": 28800, \"refreshToken\": 7}",
    };
    const char *answer = "{\"accessToken\": \"at-new\", \"expiresIn\": 28800, \"tokenType\": \"Bearer\"}";
    struct eic_sso_token t;

    (void)state;
    parse_ok(full, &t);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (eic_sso_token_renewed(bad[i], strlen(bad[i]), T0, &t) != EINVAL) {
            fail_msg("answer %zu (%s) is not EINVAL", i, bad[i]);
        }
    }
    assert_string_equal(t.access_token, "at-old");
    /* Without refreshToken the cached one stays. */
    assert_int_equal(eic_sso_token_renewed(answer, strlen(answer), T0, &t), 0);
    assert_string_equal(t.access_token, "at-new");
    assert_int_equal(t.expires_at, T0 + 28800);
    assert_string_equal(t.refresh_token, "rt-1");
    answer = "{\"accessToken\": \"at-3\", \"expiresIn\": 3600, \"refreshToken\": \"rt-2\", \"idToken\": \"x\"}";
    assert_int_equal(eic_sso_token_renewed(answer, strlen(answer), T0 + 60, &t), 0);
    assert_string_equal(t.access_token, "at-3");
    assert_int_equal(t.expires_at, T0 + 3660);
    assert_string_equal(t.refresh_token, "rt-2");
    eic_sso_token_free(&t);
}

static void test_compose(void **state)
{
    const char *answer = "{\"accessToken\": \"at/new\", \"expiresIn\": 28800}";
    struct eic_sso_token t, again;
    char *text = NULL;
    size_t len = 0;

    (void)state;
    parse_ok(full, &t);
    assert_int_equal(eic_sso_token_renewed(answer, strlen(answer), T0, &t), 0);
    assert_int_equal(eic_sso_token_compose("https://corp.awsapps.com/start", "us-east-1", &t, &text, &len), 0);
    /* botocore's keys in botocore's order; expiresAt as %Y-%m-%dT%H:%M:%SZ; '/' not escaped. */
    assert_string_equal(text, "{\"startUrl\":\"https://corp.awsapps.com/start\",\"region\":\"us-east-1\","
                              "\"accessToken\":\"at/new\",\"expiresAt\":\"2026-01-01T08:00:00Z\",\"clientId\":\"cid\","
                              "\"clientSecret\":\"csecret\",\"registrationExpiresAt\":\"2026-04-01T00:00:00Z\","
                              "\"refreshToken\":\"rt-1\"}");
    assert_int_equal(len, strlen(text));
    /* What is written is read back the same. */
    assert_int_equal(eic_sso_token_parse(text, len, &again), 0);
    assert_string_equal(again.access_token, "at/new");
    assert_int_equal(again.expires_at, T0 + 28800);
    assert_null(eic_sso_token_unrenewable(&again, T0));
    eic_sso_token_free(&again);
    free(text);
    /* No refresh token: no refreshToken key; no registration: nothing to write. */
    free(t.refresh_token);
    t.refresh_token = NULL;
    assert_int_equal(eic_sso_token_compose("u", "r", &t, &text, &len), 0);
    assert_null(strstr(text, "refreshToken"));
    free(text);
    free(t.client_id);
    t.client_id = NULL;
    assert_int_equal(eic_sso_token_compose("u", "r", &t, &text, &len), EINVAL);
    assert_null(text);
    eic_sso_token_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_unrenewable),
        cmocka_unit_test(test_renewed),
        cmocka_unit_test(test_compose),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
