/* Which URL an AWS API call goes to, as botocore (and so the AWS CLI) chooses it.
 *
 * A configured URL first, the first of:
 *   1. --endpoint-url, for the service of the command only (the caller passes it or NULL)
 *   2. AWS_ENDPOINT_URL_<SERVICE>  (EC2, EC2_INSTANCE_CONNECT, STS, SSO, SSO_OIDC)
 *   3. AWS_ENDPOINT_URL
 *   4. the profile's "services = NAME": in the config file's "[services NAME]" section,
 *      "<service> =" followed by an indented "endpoint_url = URL" (ec2, ec2_instance_connect, sts,
 *      sso, sso_oidc)
 *   5. the profile's endpoint_url
 * 2-5 are skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (else the profile's
 * ignore_configured_endpoint_urls) is "true".
 * Else the service's endpoint rule set (botocore's endpoint-rule-set-1.json of ec2,
 * ec2-instance-connect, sts, sso (the IAM Identity Center portal) and sso-oidc): the region's
 * partition (partitions.h) gives the DNS suffix; FIPS (AWS_USE_FIPS_ENDPOINT, else
 * use_fips_endpoint) adds "-fips" to the service's host label, dual-stack
 * (AWS_USE_DUALSTACK_ENDPOINT, else use_dualstack_endpoint) takes the partition's dual-stack
 * suffix: https://HOST[-fips].REGION.SUFFIX (HOST "portal.sso" for sso, "oidc" for sso-oidc, the
 * service's name for the others). Two exceptions of the rule sets: EC2
 * and STS with FIPS alone in aws-us-gov are https://SERVICE.REGION.amazonaws.com, and STS in
 * region aws-global is https://sts.amazonaws.com. FIPS and dual-stack never change a configured
 * URL (botocore ignores both then). */
#ifndef EIC_CLIENT_ENDPOINTS_H
#define EIC_CLIENT_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "partitions.h"

/* The services eic calls, by botocore's names for them (for the signed ones also the signing
 * name). */
#define EIC_SERVICE_EC2 "ec2"
#define EIC_SERVICE_EIC "ec2-instance-connect"
#define EIC_SERVICE_STS "sts"
#define EIC_SERVICE_SSO "sso"
#define EIC_SERVICE_SSO_OIDC "sso-oidc"

struct eic_service {
    const char *name;          /* botocore's service name */
    const char *host;          /* the rule set's first host label (the endpoint prefix) */
    const char *config_id;     /* its key in a "[services NAME]" section */
    bool us_gov_fips_is_plain; /* the rule set's aws-us-gov FIPS exception */
};

/* The service's entry, or NULL when eic has no rules for it. */
const struct eic_service *eic_service_find(const char *name);

/* The partition of region (never NULL: the first partition when none claims it). */
const struct eic_partition *eic_partition_of(const char *region);

/* The rule set's URL (pure). Returns 0 (*url malloc'd), EINVAL (an unknown service, or FIPS or
 * dual-stack where the partition has none: err says why) or ENOMEM. */
int eic_endpoint_builtin(const char *service, const char *region, bool fips, bool dual_stack, char **url,
                         char *err, size_t err_len);

/* The whole rule above, for profile_arg (--profile or NULL) and cli_url (the command's
 * --endpoint-url when it names this service, else NULL). Returns as eic_endpoint_builtin;
 * *source names where the URL came from, for --debug. */
int eic_endpoint_resolve(const char *service, const char *region, const char *profile_arg, const char *cli_url,
                         char **url, const char **source, char *err, size_t err_len);

/* The region a request to the rule set's URL is signed for (STS in aws-global: us-east-1). */
const char *eic_endpoint_signing_region(const char *service, const char *region);

/* Whether FIPS endpoints are asked for (AWS_USE_FIPS_ENDPOINT, else use_fips_endpoint): the
 * tunnel then goes to the Instance Connect Endpoint's FipsDnsName. */
bool eic_endpoint_use_fips(const char *profile_arg);

/* call->service's URL for a command (eic_endpoint_resolve for call->service and call->region):
 * *url (malloc'd, freed by the caller after the calls) becomes call->endpoint_url. Returns 0, or
 * prints why and returns the exit status (EIC_EXIT_CONFIG, EIC_EXIT_OTHER). */
int eic_endpoint_for_call(struct eic_api_call *call, const char *profile_arg, const char *cli_url, char **url);

#endif
