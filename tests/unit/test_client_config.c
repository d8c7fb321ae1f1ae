/* Unit tests for client/credentials.c: the ~/.aws file reader and the order in which
 * credentials, profile and region are looked up (botocore's order). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "credentials.h"

static char dir[] = "/tmp/eic-test-config.XXXXXX";
static char creds_path[160], config_path[160];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void clear_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                          "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    /* No instance metadata service is asked: the chain ends without one. */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int setup(void **state)
{
    char aws[128];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(aws, sizeof(aws), "%s/.aws", dir);
    assert_int_equal(mkdir(aws, 0700), 0);
    snprintf(creds_path, sizeof(creds_path), "%s/credentials", aws);
    snprintf(config_path, sizeof(config_path), "%s/config", aws);
    write_file(creds_path, "# comment\n"
                           "; another comment\n"
                           "[default]\n"
                           "aws_access_key_id = AKIADEFAULT\n"
                           "aws_secret_access_key = secret-default\n"
                           "\n"
                           "[work]\n"
                           "AWS_Access_Key_Id:AKIAWORK\n"
                           "aws_secret_access_key  =   secret with spaces   \r\n"
                           "aws_session_token = token-work\n"
                           "s3 =\n"
                           "    aws_access_key_id = nested-not-a-key\n"
                           "[ spaced ]\n"
                           "aws_access_key_id = AKIASPACED\n"
                           "[partial]\n"
                           "aws_access_key_id = AKIAPARTIAL\n"
                           "  aws_secret_access_key = continues-the-line-above\n");
    write_file(config_path, "[default]\n"
                            "region = eu-west-1\n"
                            "[profile cfg]\n"
                            "region = ap-south-1\n"
                            "aws_access_key_id = AKIACFG\n"
                            "aws_secret_access_key = secret-cfg\n"
                            "[profile \"quoted name\"]\n"
                            "region = us-west-2\n"
                            "[work]\n"
                            "region = not-a-profile-section\n"
                            "[profile bad]\n"
                            "region = Not_A_Region\n"
                            "[sso-session corp]\n"
                            "sso_region = eu-central-1\n"
                            "[sso-session 'quoted corp']\n"
                            "sso_region = eu-north-1\n");
    setenv("HOME", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(creds_path);
    unlink(config_path);
    *strrchr(creds_path, '/') = '\0';
    rmdir(creds_path);
    rmdir(dir);
    return 0;
}

static void expect_ini(const char *path, const char *profile, int config_style, const char *key, int ret,
                       const char *value)
{
    char *v = NULL;

    assert_int_equal(eic_ini_get(path, profile, config_style, key, &v), ret);
    if (value != NULL) {
        assert_non_null(v);
        assert_string_equal(v, value);
    } else {
        assert_null(v);
    }
    free(v);
}

static void test_ini(void **state)
{
    (void)state;
    expect_ini(creds_path, "default", 0, "aws_access_key_id", 0, "AKIADEFAULT");
    /* Keys case-insensitive, ':' as delimiter, values trimmed (CR too). */
    expect_ini(creds_path, "work", 0, "aws_access_key_id", 0, "AKIAWORK");
    expect_ini(creds_path, "work", 0, "aws_secret_access_key", 0, "secret with spaces");
    /* An indented line under "s3 =" belongs to it, not to the profile. */
    expect_ini(creds_path, "work", 0, "region", ENOENT, NULL);
    expect_ini(creds_path, "spaced", 0, "aws_access_key_id", 0, "AKIASPACED");
    expect_ini(creds_path, "nosuch", 0, "aws_access_key_id", ESRCH, NULL);
    /* Config style: [profile NAME], [default]; a bare [work] is no profile there. */
    expect_ini(config_path, "cfg", 1, "region", 0, "ap-south-1");
    expect_ini(config_path, "default", 1, "region", 0, "eu-west-1");
    expect_ini(config_path, "quoted name", 1, "region", 0, "us-west-2");
    expect_ini(config_path, "work", 1, "region", ESRCH, NULL);
    /* [sso-session NAME] only as an sso-session; "default" is no sso-session name of its own. */
    expect_ini(config_path, "corp", EIC_INI_SSO_SESSION, "sso_region", 0, "eu-central-1");
    expect_ini(config_path, "quoted corp", EIC_INI_SSO_SESSION, "sso_region", 0, "eu-north-1");
    expect_ini(config_path, "corp", 1, "sso_region", ESRCH, NULL);
    expect_ini(config_path, "cfg", EIC_INI_SSO_SESSION, "region", ESRCH, NULL);
    expect_ini(config_path, "default", EIC_INI_SSO_SESSION, "region", ESRCH, NULL);
    expect_ini("/nonexistent/file", "default", 0, "x", ENOENT, NULL);
}

static void test_credentials_order(void **state)
{
    struct eic_credentials c;
    char err[256];

    (void)state;
    clear_env();
    /* Files: default profile. */
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIADEFAULT");
    assert_null(c.session_token);
    assert_string_equal(c.source, "shared-credentials-file");
    eic_credentials_free(&c);
    /* The environment comes first... */
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    setenv("AWS_SECURITY_TOKEN", "legacy-token", 1);
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIAENV");
    assert_string_equal(c.session_token, "legacy-token");
    assert_string_equal(c.source, "env");
    eic_credentials_free(&c);
    /* ... also before AWS_PROFILE ... */
    setenv("AWS_PROFILE", "work", 1);
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIAENV");
    eic_credentials_free(&c);
    /* ... but not before an explicit --profile. */
    assert_int_equal(eic_credentials_resolve("work", &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIAWORK");
    assert_string_equal(c.secret_access_key, "secret with spaces");
    assert_string_equal(c.session_token, "token-work");
    eic_credentials_free(&c);
    clear_env();
    setenv("AWS_PROFILE", "work", 1);
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIAWORK");
    eic_credentials_free(&c);
    clear_env();
    /* From the config file when the credentials file lacks the profile. */
    assert_int_equal(eic_credentials_resolve("cfg", &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIACFG");
    assert_string_equal(c.source, "config-file");
    eic_credentials_free(&c);
    /* Errors. */
    assert_int_equal(eic_credentials_resolve("nosuch", &c, err, sizeof(err)), ESRCH);
    assert_string_equal(err, "The config profile (nosuch) could not be found");
    assert_int_equal(eic_credentials_resolve("partial", &c, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "missing: aws_secret_access_key"));
    assert_null(c.access_key_id);
    /* A profile with a section (region only) but no keys: nothing found, not "no profile". */
    assert_int_equal(eic_credentials_resolve("quoted name", &c, err, sizeof(err)), ENOENT);
    assert_non_null(strstr(err, "Unable to locate credentials"));
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "missing: AWS_SECRET_ACCESS_KEY"));
    clear_env();
    /* Files named by the environment. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
    setenv("AWS_CONFIG_FILE", "~/.aws/config", 1);
    assert_int_equal(eic_credentials_resolve("cfg", &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIACFG");
    eic_credentials_free(&c);
    assert_int_equal(eic_credentials_resolve(NULL, &c, err, sizeof(err)), ENOENT);
    clear_env();
}

static void expect_region(const char *arg, const char *profile, const char *zone, int ret, const char *region)
{
    char *r = NULL;
    char err[256];

    assert_int_equal(eic_region_resolve(arg, profile, zone, &r, err, sizeof(err)), ret);
    if (region != NULL) {
        assert_non_null(r);
        assert_string_equal(r, region);
    } else {
        assert_null(r);
        assert_true(err[0] != '\0');
    }
    free(r);
}

static void test_region_order(void **state)
{
    (void)state;
    clear_env();
    setenv("AWS_REGION", "us-east-2", 1);
    setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
    expect_region("ca-central-1", NULL, "sa-east-1a", 0, "ca-central-1");
    expect_region(NULL, NULL, "sa-east-1a", 0, "us-east-2");
    unsetenv("AWS_REGION");
    expect_region(NULL, NULL, "sa-east-1a", 0, "us-west-1");
    unsetenv("AWS_DEFAULT_REGION");
    expect_region(NULL, NULL, "sa-east-1a", 0, "eu-west-1"); /* [default] of ~/.aws/config */
    expect_region(NULL, "cfg", "sa-east-1a", 0, "ap-south-1");
    setenv("AWS_PROFILE", "quoted name", 1);
    expect_region(NULL, NULL, NULL, 0, "us-west-2");
    clear_env();
    expect_region(NULL, "bad", NULL, EINVAL, NULL);
    expect_region("US-EAST-1", NULL, NULL, EINVAL, NULL);
    expect_region("us-east-1/x", NULL, NULL, EINVAL, NULL);
    /* No config file: the zone decides. */
    setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
    expect_region(NULL, NULL, "sa-east-1a", 0, "sa-east-1");
    expect_region(NULL, NULL, "us-gov-west-1b", 0, "us-gov-west-1");
    expect_region(NULL, NULL, "us-east-1", EINVAL, NULL);
    expect_region(NULL, NULL, "useast1a", EINVAL, NULL);
    expect_region(NULL, NULL, "a-b-c-d-1a", EINVAL, NULL);
    expect_region(NULL, NULL, "us-east-1A", EINVAL, NULL);
    expect_region(NULL, NULL, NULL, ENOENT, NULL);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini),
        cmocka_unit_test(test_credentials_order),
        cmocka_unit_test(test_region_order),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
