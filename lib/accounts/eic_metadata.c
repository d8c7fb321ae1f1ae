#include "eic_metadata.h"

#include <string.h>

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool eic_valid_instance_id(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 + 8 || n > 2 + 32 || strncmp(s, "i-", 2) != 0) {
        return false;
    }
    for (size_t i = 2; i < n; i++) {
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
            return false;
        }
    }
    return true;
}

bool eic_region_from_zone(const char *zone, char *region, size_t region_len)
{
    size_t n = strlen(zone);
    size_t i = 0;
    int groups = 0;

    /* ([a-z]+-){2,3} */
    while (groups < 3 && i < n && is_lower(zone[i])) {
        size_t start = i;

        while (i < n && is_lower(zone[i])) {
            i++;
        }
        if (i == start || i >= n || zone[i] != '-') {
            i = start;
            break;
        }
        i++;
        groups++;
    }
    /* [0-9][a-z]$ */
    if (groups < 2 || i + 2 != n || !is_digit(zone[i]) || !is_lower(zone[i + 1]) || region_len < n) {
        return false;
    }
    memcpy(region, zone, n - 1);
    region[n - 1] = '\0';
    return true;
}

bool eic_valid_domain(const char *s)
{
    static const char *const domains[] = {"amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov"};

    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        if (strcmp(s, domains[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool eic_valid_login_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > EIC_LOGIN_NAME_MAX || s[0] == '-' || s[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '$' && i == n - 1 && n > 1) {
            continue;
        }
        if (!is_lower(c) && !(c >= 'A' && c <= 'Z') && !is_digit(c) && c != '_' && c != '-' && c != '.') {
            return false;
        }
    }
    return true;
}
