/* Checks on IMDS values and user names (eic_metadata.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "eic_metadata.h"

static void test_instance_id(void **state)
{
    (void)state;
    assert_true(eic_valid_instance_id("i-0123456789abcdef0"));
    assert_true(eic_valid_instance_id("i-01234567"));
    assert_true(eic_valid_instance_id("i-0123456789abcdef0123456789abcdef"));
    assert_false(eic_valid_instance_id("i-0123456"));                           /* 7 digits */
    assert_false(eic_valid_instance_id("i-0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(eic_valid_instance_id("i-0123456789ABCDEF0"));
    assert_false(eic_valid_instance_id("x-0123456789abcdef0"));
    assert_false(eic_valid_instance_id("i-0123456789abcdef0\n"));
    assert_false(eic_valid_instance_id(""));
}

static void test_zone(void **state)
{
    char region[32];

    (void)state;
    assert_true(eic_region_from_zone("us-east-1a", region, sizeof(region)));
    assert_string_equal(region, "us-east-1");
    assert_true(eic_region_from_zone("us-gov-west-1b", region, sizeof(region)));
    assert_string_equal(region, "us-gov-west-1");
    assert_true(eic_region_from_zone("ap-northeast-3c", region, sizeof(region)));
    assert_false(eic_region_from_zone("us-east-1", region, sizeof(region)));
    assert_false(eic_region_from_zone("east-1a", region, sizeof(region)));
    assert_false(eic_region_from_zone("a-b-c-d-1a", region, sizeof(region)));
    assert_false(eic_region_from_zone("us-east-12a", region, sizeof(region)));
    assert_false(eic_region_from_zone("us-East-1a", region, sizeof(region)));
    assert_false(eic_region_from_zone("us-east-1a\n", region, sizeof(region)));
    assert_false(eic_region_from_zone("us-east-1a", region, 4)); /* no room */
}

static void test_domain(void **state)
{
    (void)state;
    assert_true(eic_valid_domain("amazonaws.com"));
    assert_true(eic_valid_domain("amazonaws.com.cn"));
    assert_true(eic_valid_domain("c2s.ic.gov"));
    assert_true(eic_valid_domain("sc2s.sgov.gov"));
    assert_false(eic_valid_domain("amazonaws.com.evil.example"));
    assert_false(eic_valid_domain("example.com"));
    assert_false(eic_valid_domain(""));
}

static void test_login_name(void **state)
{
    (void)state;
    assert_true(eic_valid_login_name("alice"));
    assert_true(eic_valid_login_name("ec2-user"));
    assert_true(eic_valid_login_name("first.last"));
    assert_true(eic_valid_login_name("_svc"));
    assert_true(eic_valid_login_name("host$"));
    assert_true(eic_valid_login_name("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_false(eic_valid_login_name("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(eic_valid_login_name(""));
    assert_false(eic_valid_login_name("-rf"));
    assert_false(eic_valid_login_name(".."));
    assert_false(eic_valid_login_name("../../x"));
    assert_false(eic_valid_login_name("a/b"));
    assert_false(eic_valid_login_name("a b"));
    assert_false(eic_valid_login_name("a?b"));
    assert_false(eic_valid_login_name("a%2f"));
    assert_false(eic_valid_login_name("$"));
    assert_false(eic_valid_login_name("a$b"));
    assert_false(eic_valid_login_name("al\nice"));
    assert_false(eic_valid_login_name("alice@example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_id),
        cmocka_unit_test(test_zone),
        cmocka_unit_test(test_domain),
        cmocka_unit_test(test_login_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
