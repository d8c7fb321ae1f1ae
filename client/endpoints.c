/* The endpoint rule sets of endpoints.h over the partitions table (pure: no configuration read
 * here; endpoint_config.c reads it). */
#include "endpoints.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each service: its name, its endpoint prefix, its key in a "[services NAME]" section (botocore's
 * service id, snake case), and whether its rule set has the aws-us-gov FIPS exception
 * (endpoints.h). */
static const struct eic_service services[] = {
    {EIC_SERVICE_EC2, "ec2", "ec2", true},
    {EIC_SERVICE_EIC, "ec2-instance-connect", "ec2_instance_connect", false},
    {EIC_SERVICE_STS, "sts", "sts", true},
    {EIC_SERVICE_SSO, "portal.sso", "sso", true},
    {EIC_SERVICE_SSO_OIDC, "oidc", "sso_oidc", true},
};

const struct eic_service *eic_service_find(const char *name)
{
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        if (strcmp(services[i].name, name) == 0) {
            return &services[i];
        }
    }
    return NULL;
}

const struct eic_partition *eic_partition_of(const char *region)
{
    for (size_t i = 0; i < eic_n_partitions; i++) {
        for (const char *const *r = eic_partitions[i].regions; *r != NULL; r++) {
            if (strcmp(*r, region) == 0) {
                return &eic_partitions[i];
            }
        }
    }
    for (size_t i = 0; i < eic_n_partitions; i++) {
        regex_t rx;
        bool match;

        if (regcomp(&rx, eic_partitions[i].region_regex, REG_EXTENDED | REG_NOSUB) != 0) {
            continue; /* cannot happen: test_endpoints compiles every expression */
        }
        match = regexec(&rx, region, 0, NULL, 0) == 0;
        regfree(&rx);
        if (match) {
            return &eic_partitions[i];
        }
    }
    return &eic_partitions[0];
}

int eic_endpoint_builtin(const char *service, const char *region, bool fips, bool dual_stack, char **url,
                         char *err, size_t err_len)
{
    const struct eic_service *svc = eic_service_find(service);
    const struct eic_partition *p = eic_partition_of(region);
    int n;

    *url = NULL;
    if (svc == NULL) {
        snprintf(err, err_len, "no endpoint rules for the service %s", service);
        return EINVAL;
    }
    /* The rule sets' errors, word for word. */
    if (fips && dual_stack && (!p->supports_fips || !p->supports_dual_stack)) {
        snprintf(err, err_len, "FIPS and DualStack are enabled, but this partition does not support one or both");
        return EINVAL;
    }
    if (fips && !p->supports_fips) {
        snprintf(err, err_len, "FIPS is enabled but this partition does not support FIPS");
        return EINVAL;
    }
    if (dual_stack && !p->supports_dual_stack) {
        snprintf(err, err_len, "DualStack is enabled but this partition does not support DualStack");
        return EINVAL;
    }
    if (fips && !dual_stack && svc->us_gov_fips_is_plain && strcmp(p->id, "aws-us-gov") == 0) {
        n = asprintf(url, "https://%s.%s.amazonaws.com", svc->host, region);
    } else if (!fips && !dual_stack && strcmp(service, EIC_SERVICE_STS) == 0 && strcmp(region, "aws-global") == 0) {
        n = asprintf(url, "https://sts.amazonaws.com");
    } else {
        n = asprintf(url, "https://%s%s.%s.%s", svc->host, fips ? "-fips" : "", region,
                     dual_stack ? p->dual_stack_dns_suffix : p->dns_suffix);
    }
    if (n < 0) {
        *url = NULL;
        return ENOMEM;
    }
    return 0;
}

const char *eic_endpoint_signing_region(const char *service, const char *region)
{
    /* The rule set's global STS endpoint is signed for us-east-1. */
    return strcmp(service, EIC_SERVICE_STS) == 0 && strcmp(region, "aws-global") == 0 ? "us-east-1" : region;
}
