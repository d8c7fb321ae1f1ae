#include "eic_account_keep.h"

#include <errno.h>
#include <string.h>

#include "eic_accounts.h"
#include "eic_log.h"
#include "eic_metadata.h"

void eic_account_request(const struct eic_config *cfg, const struct eic_rule *rule, const char *name,
                         const char *principal, struct eic_cache_new_user *user, struct eic_cache_range *range)
{
    memset(user, 0, sizeof(*user));
    memset(range, 0, sizeof(*range));
    user->name = name;
    user->principal = principal;
    user->group_names = (const char *const *)rule->groups;
    user->n_group_names = rule->n_groups;
    user->home_base = cfg->home_base;
    user->shell = cfg->shell;
    range->min = cfg->uid_min;
    range->max = cfg->uid_max;
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

    ret = eic_account_mapped_as(cfg->cache_dir, pw, principal, sizeof(principal), &shadowed_uid);
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
    eic_account_request(cfg, rule, pw->pw_name, principal, &account, &range);
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
    eic_account_request(cfg, rule, name, arn, &account, &range);
    account.hand_over = true;
    ret = eic_cache_add_user(cfg->cache_dir, &range, &account, &uid);
    if (ret != 0) {
        eic_log(LOG_ERR, "%s not handed over to %s: account cache: %s", name, arn, strerror(ret));
    }
    return ret;
}
