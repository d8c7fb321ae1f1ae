#include "eic_accounts.h"

#include <errno.h>
#include <string.h>

#include "eic_cache.h"
#include "eic_metadata.h"

int eic_account_mapped(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len)
{
    struct eic_cache *cache = NULL;
    struct eic_cached_user cached;
    int ret = eic_cache_open(cache_dir, &cache);

    if (ret != 0) {
        goto done;
    }
    if (eic_cache_user_by_name(cache, pw->pw_name, &cached) != 0 || cached.uid != pw->pw_uid) {
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
