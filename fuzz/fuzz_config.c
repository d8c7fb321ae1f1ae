/* The configuration parser (lib/accounts/eic_config.c, with the [map]/[deny] rules of
 * lib/accounts/eic_mapping.c) from memory. A file the parser accepts must hold only values in the
 * documented ranges, and the rules it built must map principals to valid login names. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "eic_config.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "fuzz_common.h"

/* Principals of every shape eic_principal_parse() knows, to drive the rules of an accepted file. */
static const char *const principals[] = {
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/division/Bob.Smith",
    "arn:aws:sts::111122223333:assumed-role/Admins/carol@example.com",
    "arn:aws:sts::111122223333:federated-user/dave",
    "arn:aws:iam::111122223333:root",
    "arn:aws-cn:iam::111122223333:user/erin",
    "not an arn",
};

static void check_config(const struct eic_config *cfg)
{
    FUZZ_CHECK(strcmp(cfg->imds_endpoint, EIC_IMDS_ENDPOINT_AUTO) == 0 ||
               eic_config_check_endpoint(cfg->imds_endpoint) == 0);
    FUZZ_CHECK(cfg->n_chain_commands <= EIC_CHAIN_MAX);
    for (size_t i = 0; i < cfg->n_chain_commands; i++) {
        FUZZ_CHECK(eic_config_check_chain_command(cfg->chain_commands[i], NULL, 0) == 0);
    }
    FUZZ_CHECK(cfg->imds_timeout_ms >= 1 && cfg->imds_timeout_ms <= 60000);
    FUZZ_CHECK(cfg->imds_token_ttl >= 1 && cfg->imds_token_ttl <= 21600);
    FUZZ_CHECK(cfg->imds_max_response >= 1024 && cfg->imds_max_response <= 16L * 1024 * 1024);
    FUZZ_CHECK(cfg->deadline_ms >= 100 && cfg->deadline_ms <= 60000);
    FUZZ_CHECK(cfg->uid_min >= 1000 && cfg->uid_min < cfg->uid_max && cfg->uid_max <= 4294967294u);
    FUZZ_CHECK(cfg->uid_max - cfg->uid_min >= 99);
    FUZZ_CHECK(cfg->negative_cache_ttl >= 0 && cfg->negative_cache_ttl <= 3600);
    FUZZ_CHECK(cfg->cache_dir != NULL && cfg->cache_dir[0] == '/');
    FUZZ_CHECK(cfg->home_base != NULL && cfg->home_base[0] == '/' && strchr(cfg->home_base, ':') == NULL);
    FUZZ_CHECK(cfg->shell != NULL && cfg->shell[0] == '/' && strchr(cfg->shell, ':') == NULL);
    FUZZ_CHECK(cfg->ca_file == NULL || cfg->ca_file[0] == '/');
    FUZZ_CHECK(cfg->ca_path == NULL || cfg->ca_path[0] == '/');
    FUZZ_CHECK(cfg->log_file == NULL || cfg->log_file[0] == '/');

    for (size_t i = 0; i < sizeof(principals) / sizeof(principals[0]); i++) {
        char name[EIC_LOGIN_NAME_MAX + 1];
        const struct eic_rule *rule = NULL;
        enum eic_map_status status = eic_mapping_resolve(&cfg->mapping, principals[i], name, sizeof(name), &rule);

        FUZZ_CHECK(strcmp(eic_map_status_name(status), "unknown") != 0);
        if (status == EIC_MAP_OK) {
            FUZZ_CHECK(rule != NULL);
            FUZZ_CHECK(eic_valid_login_name(name));
            FUZZ_CHECK(strspn(name, "0123456789") != strlen(name));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eic_config cfg;
    char err[512];
    int ret;

    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
    ret = eic_config_parse("fuzz.conf", (const char *)data, size, &cfg, err, sizeof(err));
    FUZZ_CHECK(ret == 0 || ret == EINVAL || ret == ENOMEM || ret == EMSGSIZE);
    FUZZ_CHECK(ret != EINVAL || strncmp(err, "fuzz.conf:", 10) == 0);
    if (ret == 0) {
        check_config(&cfg);
    }
    eic_config_free(&cfg);
    return 0;
}
