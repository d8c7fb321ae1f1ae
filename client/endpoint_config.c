/* Where the configuration says an endpoint is (endpoints.h, steps 1-5), and the FIPS and
 * dual-stack settings, read as botocore's configprovider.py reads them. */
#include "endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "credentials.h"
#include "eic.h"
#include "eic_log.h"

/* botocore's boolean settings: the variable's value env when it is set at all (ensure_boolean:
 * "true" in any case is true, anything else false), else the profile's key. */
static bool setting_on(const char *env, const char *profile_arg, const char *key)
{
    char *value = NULL;
    bool on;

    if (env != NULL) {
        return strcasecmp(env, "true") == 0;
    }
    if (eic_profile_get(eic_profile_name(profile_arg), key, &value) != 0) {
        return false;
    }
    on = strcasecmp(value, "true") == 0;
    free(value);
    return on;
}

bool eic_endpoint_use_fips(const char *profile_arg)
{
    return setting_on(getenv("AWS_USE_FIPS_ENDPOINT"), profile_arg, "use_fips_endpoint");
}

/* s without its leading and trailing blanks (cut in place). */
static char *trim(char *s)
{
    char *end = s + strlen(s);

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    while (end > s && strchr(" \t\r", end[-1]) != NULL) {
        end--;
    }
    *end = '\0';
    return s;
}

/* "endpoint_url" in a nested block ("\nendpoint_url = URL\n..."; botocore's _parse_nested:
 * '=' only, both sides trimmed, the key as written). Returns a pointer into block, cut there. */
static char *nested_endpoint_url(char *block)
{
    char *save = NULL;

    for (char *line = strtok_r(block, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');

        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        if (strcmp(trim(line), "endpoint_url") == 0) {
            return trim(eq + 1);
        }
    }
    return NULL;
}

/* Step 4 of endpoints.h: the services section's URL for svc (*url NULL when none). */
static int services_section_url(const struct eic_service *svc, const char *profile, char **url, char *err,
                                size_t err_len)
{
    char *name = NULL, *section = NULL, *block = NULL;
    const char *found;
    int ret;

    *url = NULL;
    ret = eic_profile_get(profile, "services", &name);
    if (ret != 0) {
        return ret == ENOENT ? 0 : ret;
    }
    if (asprintf(&section, "services %s", name) < 0) {
        section = NULL;
        ret = ENOMEM;
        goto done;
    }
    ret = eic_config_section_get(section, svc->config_id, &block);
    if (ret == ESRCH) {
        snprintf(err, err_len, "The profile is configured to use the services section but the \"%.100s\" services "
                 "configuration does not exist.", name);
        ret = EINVAL;
        goto done;
    }
    if (ret == ENOENT) {
        ret = 0;
        goto done;
    }
    if (ret != 0) {
        goto done;
    }
    found = nested_endpoint_url(block);
    if (found != NULL && found[0] != '\0') {
        *url = strdup(found);
        ret = *url ? 0 : ENOMEM;
    }
done:
    free(name);
    free(section);
    free(block);
    return ret;
}

/* AWS_ENDPOINT_URL_<SERVICE> (each name written out: test_man checks that eic(1) lists every
 * variable the client reads). */
static const char *service_env(const struct eic_service *svc)
{
    if (strcmp(svc->name, EIC_SERVICE_EC2) == 0) {
        return getenv("AWS_ENDPOINT_URL_EC2");
    }
    if (strcmp(svc->name, EIC_SERVICE_EIC) == 0) {
        return getenv("AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT");
    }
    if (strcmp(svc->name, EIC_SERVICE_SSO) == 0) {
        return getenv("AWS_ENDPOINT_URL_SSO");
    }
    if (strcmp(svc->name, EIC_SERVICE_SSO_OIDC) == 0) {
        return getenv("AWS_ENDPOINT_URL_SSO_OIDC");
    }
    return getenv("AWS_ENDPOINT_URL_STS");
}

/* Steps 2-5 of endpoints.h (*url NULL when none is configured). */
static int configured_url(const struct eic_service *svc, const char *profile_arg, char **url, const char **source,
                          char *err, size_t err_len)
{
    const char *profile = eic_profile_name(profile_arg);
    const char *env;
    int ret;

    *url = NULL;
    if (setting_on(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), profile_arg, "ignore_configured_endpoint_urls")) {
        return 0;
    }
    env = service_env(svc);
    *source = "AWS_ENDPOINT_URL_<SERVICE>";
    if (env == NULL || env[0] == '\0') {
        env = getenv("AWS_ENDPOINT_URL");
        *source = "AWS_ENDPOINT_URL";
    }
    if (env != NULL && env[0] != '\0') {
        *url = strdup(env);
        return *url ? 0 : ENOMEM;
    }
    ret = services_section_url(svc, profile, url, err, err_len);
    *source = "the profile's services section";
    if (ret != 0 || *url != NULL) {
        return ret;
    }
    ret = eic_profile_get(profile, "endpoint_url", url);
    *source = "the profile's endpoint_url";
    if (ret == 0 && (*url)[0] == '\0') {
        free(*url);
        *url = NULL;
    }
    return ret == ENOENT ? 0 : ret;
}

int eic_endpoint_resolve(const char *service, const char *region, const char *profile_arg, const char *cli_url,
                         char **url, const char **source, char *err, size_t err_len)
{
    const struct eic_service *svc = eic_service_find(service);
    int ret;

    *url = NULL;
    *source = "--endpoint-url";
    if (cli_url != NULL) {
        *url = strdup(cli_url);
        return *url ? 0 : ENOMEM;
    }
    if (svc == NULL) {
        snprintf(err, err_len, "no endpoint rules for the service %s", service);
        return EINVAL;
    }
    ret = configured_url(svc, profile_arg, url, source, err, err_len);
    if (ret != 0 || *url != NULL) {
        return ret;
    }
    *source = "the endpoint rules";
    return eic_endpoint_builtin(service, region, eic_endpoint_use_fips(profile_arg),
                                setting_on(getenv("AWS_USE_DUALSTACK_ENDPOINT"), profile_arg, "use_dualstack_endpoint"),
                                url,
                                err, err_len);
}

int eic_endpoint_for_call(struct eic_api_call *call, const char *profile_arg, const char *cli_url, char **url)
{
    const char *source = NULL;
    char err[512] = "";
    int ret = eic_endpoint_resolve(call->service, call->region, profile_arg, cli_url, url, &source, err, sizeof(err));

    if (ret != 0) {
        fprintf(stderr, "%s\n", ret == ENOMEM ? "out of memory" : err);
        return ret == ENOMEM ? EIC_EXIT_OTHER : EIC_EXIT_CONFIG;
    }
    eic_log(LOG_DEBUG, "%s endpoint %s (from %s)", call->service, *url, source);
    call->endpoint_url = *url;
    return EIC_EXIT_OK;
}
