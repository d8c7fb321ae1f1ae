#include "eic_accounts.h"

#include <errno.h>
#include <string.h>

#include "eic_cache.h"
#include "eic_log.h"
#include "eic_metadata.h"

/* eic_account_mapped(), and in *shadowed_uid the uid of a cached account of pw's name that pw is
 * not (another source answered the name first), else (uid_t)-1. */
static int account_mapped(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len,
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

    return account_mapped(cache_dir, pw, principal, principal_len, &shadowed_uid);
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

int eic_account_keep(const struct eic_config *cfg, const char *config_path, const struct passwd *pw,
                     const char *login_principal, bool change_nothing)
{
    char principal[EIC_ARN_MAX + 1];
    const struct eic_rule *rule = NULL;
    struct eic_cache_new_user account;
    struct eic_cache_range range;
    uid_t uid = 0;
    uid_t shadowed_uid;
    int ret;

    ret = account_mapped(cfg->cache_dir, pw, principal, sizeof(principal), &shadowed_uid);
    if (ret != 0) {
        if (ret == ENOENT && shadowed_uid != (uid_t)-1) {
            /* The name came to another source (a directory, or /etc/passwd) after eic created
             * the account. That user logs in as who they are, with none of the account's groups
             * (nss_eic's initgroups checks the primary gid); the IAM principal can no longer
             * reach its account. Refusing the other user is not eic's call; an administrator
             * must choose who keeps the name. */
            eic_log(LOG_WARNING, "IAM-mapped account %s (uid %lu) is shadowed: NSS resolves %s to uid %lu from "
                    "another source; treated as not IAM-mapped", pw->pw_name, (unsigned long)shadowed_uid,
                    pw->pw_name, (unsigned long)pw->pw_uid);
        } else if (ret != ENOENT) {
            eic_log(LOG_ERR, "IAM-mapped account %s refused: the account cache cannot be read (%s)", pw->pw_name,
                    strerror(ret));
        }
        return ret;
    }
    /* The same identity under another name (an Identity Center user's other permission set): the
     * account follows the principal of this login. Another identity never gets here: the login
     * policy refused its key. */
    if (login_principal != NULL && strcmp(login_principal, principal) != 0 &&
        eic_same_identity(principal, login_principal) && strlen(login_principal) < sizeof(principal)) {
        memcpy(principal, login_principal, strlen(login_principal) + 1);
    }
    if (!eic_account_still_allowed(cfg, config_path, pw->pw_name, principal, &rule)) {
        return EPERM;
    }
    eic_config_cache_account(cfg, rule, pw->pw_name, principal, &account, &range);
    if (change_nothing) {
        if (!eic_cache_user_unchanged(cfg->cache_dir, &range, &account)) {
            eic_log(LOG_ERR, "IAM-mapped account %s refused: its groups or shell must be brought in line with the "
                    "map rule at %s:%u, and only eicd may write the account cache", pw->pw_name, config_path,
                    rule->line);
            return EAGAIN;
        }
        return 0;
    }
    ret = eic_cache_add_user(cfg->cache_dir, &range, &account, &uid);
    if (ret != 0) {
        eic_log(LOG_ERR, "IAM-mapped account %s refused: its groups and shell cannot be brought in line with the "
                "map rule at %s:%u (account cache: %s)", pw->pw_name, config_path, rule->line, strerror(ret));
    }
    return ret;
}

int eic_account_hand_over(const struct eic_config *cfg, const char *config_path, const char *name, const char *arn)
{
    char derived[EIC_LOGIN_NAME_MAX + 1];
    const struct eic_rule *rule = NULL;
    struct eic_cache_new_user account;
    struct eic_cache_range range;
    struct eic_cache *cache = NULL;
    struct eic_cached_user cached;
    enum eic_map_status status;
    uid_t uid = 0;
    int ret;

    /* The account must then be usable by its new owner: the rules as they are must give it. */
    status = eic_mapping_resolve(&cfg->mapping, arn, derived, sizeof(derived), &rule);
    if (status != EIC_MAP_OK || strcmp(derived, name) != 0) {
        eic_log(LOG_ERR, "%s not handed over to %s: the rules of %s do not give it that account (%s)", name, arn,
                config_path, status != EIC_MAP_OK ? eic_map_status_name(status) : "maps to another account");
        return EPERM;
    }
    ret = eic_cache_open(cfg->cache_dir, &cache);
    if (ret == 0 && eic_cache_user_by_name(cache, name, &cached) != 0) {
        ret = ENOENT;
    }
    eic_cache_close(cache);
    if (ret != 0) {
        eic_log(LOG_ERR, "%s not handed over: no IAM-mapped account of that name in %s/" EIC_CACHE_FILE " (%s)", name,
                cfg->cache_dir, strerror(ret));
        return ret;
    }
    eic_config_cache_account(cfg, rule, name, arn, &account, &range);
    account.hand_over = true;
    ret = eic_cache_add_user(cfg->cache_dir, &range, &account, &uid);
    if (ret != 0) {
        eic_log(LOG_ERR, "%s not handed over to %s: account cache: %s", name, arn, strerror(ret));
    }
    return ret;
}
