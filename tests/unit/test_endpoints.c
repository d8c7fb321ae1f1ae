/* Unit tests for client/endpoints.c and endpoint_config.c: the rule sets over the partitions table
 * (every case of tests/data/endpoints.tsv, which test_endpoints.sh has botocore agree with) and
 * the order of the configured URLs (endpoints.h, steps 1-5). */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "endpoints.h"

static char dir[] = "/tmp/eic-test-endpoints.XXXXXX";
static char config_path[160], creds_path[160];

static void test_table(void **state)
{
    FILE *f = fopen(TEST_DATA_DIR "/endpoints.tsv", "re");
    char line[512];
    int cases = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char service[64], region[64], fips[8], dual[8], want[256], err[256];
        char *url = NULL;
        int ret;

        if (line[0] == '#') {
            continue;
        }
        assert_int_equal(sscanf(line, "%63[^\t]\t%63[^\t]\t%7[^\t]\t%7[^\t]\t%255[^\n]", service, region, fips, dual,
                                want), 5);
        ret = eic_endpoint_builtin(service, region, strcmp(fips, "true") == 0, strcmp(dual, "true") == 0, &url, err,
                                   sizeof(err));
        if (strcmp(want, "ERROR") == 0) {
            assert_int_equal(ret, EINVAL);
        } else {
            assert_int_equal(ret, 0);
            if (strcmp(url, want) != 0) {
                fail_msg("%s %s fips=%s dualstack=%s: eic %s, botocore %s", service, region, fips, dual, url, want);
            }
        }
        free(url);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 200);
}

static void test_partitions(void **state)
{
    static const struct {
        const char *region, *partition;
    } cases[] = {
        {"us-east-1", "aws"}, {"aws-global", "aws"}, {"xx-foo-1", "aws"}, {"cn-north-1", "aws-cn"},
        {"us-gov-west-1", "aws-us-gov"}, {"us-iso-west-9", "aws-iso"}, {"us-isob-east-1", "aws-iso-b"},
        {"eu-isoe-west-1", "aws-iso-e"}, {"us-isof-south-1", "aws-iso-f"}, {"eusc-de-west-9", "aws-eusc"},
    };

    (void)state;
    for (size_t i = 0; i < eic_n_partitions; i++) {
        regex_t rx;

        assert_int_equal(regcomp(&rx, eic_partitions[i].region_regex, REG_EXTENDED | REG_NOSUB), 0);
        regfree(&rx);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(eic_partition_of(cases[i].region)->id, cases[i].partition);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void clear_env(void)
{
    const char *vars[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT",
                          "AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT",
                          "AWS_USE_DUALSTACK_ENDPOINT", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    setenv("AWS_CONFIG_FILE", config_path, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds_path, 1);
}

/* The URL for service under profile (NULL: default) and cli_url, or "ERROR: message". */
static char *resolve(const char *service, const char *profile, const char *cli_url)
{
    static char out[512];
    char err[256] = "";
    char *url = NULL;
    const char *source = NULL;
    int ret = eic_endpoint_resolve(service, "us-east-1", profile, cli_url, &url, &source, err, sizeof(err));

    snprintf(out, sizeof(out), "%s%s", ret == 0 ? "" : "ERROR: ", ret == 0 ? url : err);
    free(url);
    return out;
}

static void test_configured(void **state)
{
    (void)state;
    clear_env();
    write_file(creds_path, "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n");
    write_file(config_path, "[default]\n"
                            "services = local\n"
                            "endpoint_url = http://profile:1\n"
                            "\n"
                            "[services local]\n"
                            "ec2 =\n"
                            "  endpoint_url = http://section-ec2:2\n"
                            "  other = x\n"
                            "sts =\n"
                            "  other = y\n"
                            "[profile plain]\n"
                            "region = eu-west-1\n"
                            "[profile fips]\n"
                            "use_fips_endpoint = TRUE\n"
                            "use_dualstack_endpoint = true\n"
                            "[profile missing]\n"
                            "services = nowhere\n"
                            "[profile ignoring]\n"
                            "endpoint_url = http://profile:1\n"
                            "ignore_configured_endpoint_urls = true\n");
    /* 4 before 5: the section's URL for ec2; sts has none there, so the profile's. */
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, NULL), "http://section-ec2:2");
    assert_string_equal(resolve(EIC_SERVICE_STS, NULL, NULL), "http://profile:1");
    assert_string_equal(resolve(EIC_SERVICE_EIC, NULL, NULL), "http://profile:1");
    /* 3 before 4, 2 before 3, 1 before all; each variable for its own service only. */
    setenv("AWS_ENDPOINT_URL", "http://global:3", 1);
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, NULL), "http://global:3");
    setenv("AWS_ENDPOINT_URL_EC2", "http://env-ec2:4", 1);
    setenv("AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT", "", 1); /* empty: as if unset */
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, NULL), "http://env-ec2:4");
    assert_string_equal(resolve(EIC_SERVICE_EIC, NULL, NULL), "http://global:3");
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, "http://cli:5"), "http://cli:5");
    /* Ignoring configured URLs leaves --endpoint-url only. */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "True", 1);
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, NULL), "https://ec2.us-east-1.amazonaws.com");
    assert_string_equal(resolve(EIC_SERVICE_EC2, NULL, "http://cli:5"), "http://cli:5");
    clear_env();
    assert_string_equal(resolve(EIC_SERVICE_EC2, "ignoring", NULL), "https://ec2.us-east-1.amazonaws.com");
    assert_string_equal(resolve(EIC_SERVICE_EC2, "plain", NULL), "https://ec2.us-east-1.amazonaws.com");
    /* A services name without its section is botocore's configuration error. */
    assert_string_equal(resolve(EIC_SERVICE_EC2, "missing", NULL),
                        "ERROR: The profile is configured to use the services section but the \"nowhere\" services "
                        "configuration does not exist.");
    /* FIPS and dual-stack from the profile, from the environment (which wins), never for a
     * configured URL. */
    assert_string_equal(resolve(EIC_SERVICE_EIC, "fips", NULL), "https://ec2-instance-connect-fips.us-east-1.api.aws");
    assert_true(eic_endpoint_use_fips("fips"));
    setenv("AWS_USE_FIPS_ENDPOINT", "1", 1); /* not "true": false */
    assert_string_equal(resolve(EIC_SERVICE_EIC, "fips", NULL), "https://ec2-instance-connect.us-east-1.api.aws");
    assert_false(eic_endpoint_use_fips("fips"));
    assert_string_equal(resolve(EIC_SERVICE_EIC, "fips", "http://cli:5"), "http://cli:5");
    clear_env();
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof(config_path), "%s/config", dir);
    snprintf(creds_path, sizeof(creds_path), "%s/credentials", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config_path);
    unlink(creds_path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_configured),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
