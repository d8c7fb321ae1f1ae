/* The validators of IMDS values and login names (lib/accounts/eic_metadata.c), checked against the
 * POSIX regular expressions their documentation states (eic_metadata.h): the hand-written
 * matchers must agree with regexec() on every input. */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eic_metadata.h"
#include "fuzz_common.h"

static regex_t instance_re;
static regex_t zone_re;
static regex_t login_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(regcomp(&instance_re, "^i-[0-9a-f]{8,32}$", REG_EXTENDED | REG_NOSUB) == 0);
    FUZZ_CHECK(regcomp(&zone_re, "^([a-z]+-){2,3}[0-9][a-z]$", REG_EXTENDED | REG_NOSUB) == 0);
    /* 1..32 of [A-Za-z0-9._-], not starting with '-' or '.', or such a name of 1..31 then '$'. */
    FUZZ_CHECK(regcomp(&login_re, "^[A-Za-z0-9_]([A-Za-z0-9._-]{0,31}|[A-Za-z0-9._-]{0,30}[$])$",
                       REG_EXTENDED | REG_NOSUB) == 0);
    return 0;
}

static bool matches(const regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstring(data, size);
    size_t len = strlen(s);
    char *region = malloc(len + 1);
    static const char *const domains[] = {"amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov"};
    bool known_domain = false;

    FUZZ_CHECK(region != NULL);
    FUZZ_CHECK(eic_valid_instance_id(s) == matches(&instance_re, s));
    FUZZ_CHECK(eic_valid_login_name(s) == matches(&login_re, s));
    if (eic_region_from_zone(s, region, len + 1)) {
        FUZZ_CHECK(matches(&zone_re, s));
        FUZZ_CHECK(strlen(region) == len - 1 && strncmp(region, s, len - 1) == 0);
        /* A buffer one byte short of the zone is refused. */
        FUZZ_CHECK(!eic_region_from_zone(s, region, len - 1));
    } else {
        FUZZ_CHECK(!matches(&zone_re, s));
    }
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        known_domain = known_domain || strcmp(s, domains[i]) == 0;
    }
    FUZZ_CHECK(eic_valid_domain(s) == known_domain);
    free(region);
    free(s);
    return 0;
}
