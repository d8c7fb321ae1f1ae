/* A stand-in for libeic_resolver.so (nss_eic's heavy part) for tests/unit/test_nss.c: the same
 * entry point, no IMDS. What it answers depends on the name asked for:
 *   new*   -> adds the account to the cache of the configuration it is given, returns 0
 *   down*  -> ETIMEDOUT (IMDS unreachable)
 *   local* -> EEXIST
 *   other  -> ENOENT
 * It counts its calls (fake_resolver_calls) so the test can see the negative cache at work.
 * The local account files come from FAKE_PASSWD / FAKE_GROUP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_cache.h"
#include "eic_config.h"

__attribute__((visibility("default"))) int eic_resolver_lookup(const char *config_path, const char *name,
                                                               char *err, size_t err_len);
__attribute__((visibility("default"))) unsigned int fake_resolver_calls;

int eic_resolver_lookup(const char *config_path, const char *name, char *err, size_t err_len)
{
    static const char *const groups[] = {"eic-admins", "sudo"};
    struct eic_config cfg;
    struct eic_cache_new_user nu = {0};
    struct eic_cache_range range = {0};
    char msg[256];
    uid_t uid;
    int ret;

    __atomic_add_fetch(&fake_resolver_calls, 1, __ATOMIC_SEQ_CST);
    if (err_len > 0) {
        err[0] = '\0';
    }
    if (strncmp(name, "down", 4) == 0) {
        return ETIMEDOUT;
    }
    if (strncmp(name, "local", 5) == 0) {
        return EEXIST;
    }
    if (strncmp(name, "new", 3) != 0) {
        return ENOENT;
    }
    ret = eic_config_load(config_path, geteuid(), &cfg, msg, sizeof(msg));
    if (ret != 0) {
        goto done;
    }
    nu.name = name;
    nu.principal = "arn:aws:iam::111122223333:user/fake";
    nu.group_names = groups;
    nu.n_group_names = 2;
    nu.home_base = cfg.home_base;
    nu.shell = cfg.shell;
    range.min = cfg.uid_min;
    range.max = cfg.uid_max;
    range.passwd_file = getenv("FAKE_PASSWD");
    range.group_file = getenv("FAKE_GROUP");
    ret = eic_cache_add_user(cfg.cache_dir, &range, &nu, &uid);
done:
    eic_config_free(&cfg);
    return ret;
}
