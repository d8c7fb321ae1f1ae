#include "eic_accounts.h"

#include <errno.h>
#include <string.h>

#include "eic_cache.h"
#include "eic_log.h"
#include "eic_metadata.h"

int eic_account_mapped_as(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len,
                          uid_t *shadowed_uid)
{
    struct eic_cache *cache = NULL;
    struct eic_cached_user cached;
    int ret = eic_cache_open(cache_dir, &cache);

    *shadowed_uid = (uid_t)-1;
    if (ret != 0) {
        goto done;
    }
    if (eic_cache_user_by_name(cache, pw->pw_name, &cached) != 0) {
        ret = ENOENT;
        goto done;
    }
    if (cached.uid != pw->pw_uid) {
        *shadowed_uid = cached.uid;
        ret = ENOENT;
        goto done;
    }
    if (principal != NULL) {
        size_t len = strlen(cached.principal);

        if (len >= principal_len) {
            ret = ERANGE;
            goto done;
        }
        /* The view points into the mapped file, which is unmapped below. */
        memcpy(principal, cached.principal, len + 1);
    }
done:
    eic_cache_close(cache);
    return ret;
}

int eic_account_mapped(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len)
{
    uid_t shadowed_uid;

    return eic_account_mapped_as(cache_dir, pw, principal, principal_len, &shadowed_uid);
}

bool eic_principal_maps_to(const struct eic_mapping *mapping, const char *arn, const char *user, const char **why,
                           const struct eic_rule **rule)
{
    char name[EIC_LOGIN_NAME_MAX + 1];
    enum eic_map_status status;

    *rule = NULL;
    status = eic_mapping_resolve(mapping, arn, name, sizeof(name), rule);
    if (status != EIC_MAP_OK) {
        *why = eic_map_status_name(status);
        return false;
    }
    if (strcmp(name, user) != 0) {
        *why = "maps to another account";
        return false;
    }
    *why = "ok";
    return true;
}

bool eic_account_still_allowed(const struct eic_config *cfg, const char *config_path, const char *user,
                               const char *principal, const struct eic_rule **map_rule)
{
    const struct eic_rule *rule = NULL;
    const char *why = NULL;

    if (eic_principal_maps_to(&cfg->mapping, principal, user, &why, &rule)) {
        if (map_rule != NULL) {
            *map_rule = rule;
        }
        return true;
    }
    if (rule != NULL) {
        eic_log(LOG_WARNING, "IAM-mapped account %s refused: principal %s %s by the %s rule at %s:%u", user,
                principal, why, rule->kind == EIC_RULE_DENY ? "deny" : "map", config_path, rule->line);
    } else {
        eic_log(LOG_WARNING, "IAM-mapped account %s refused: principal %s %s (%s)", user, principal, why,
                config_path);
    }
    return false;
}
