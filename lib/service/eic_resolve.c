/* Resolving a name from IMDS (eic_resolve.h). */
#include "eic_resolve.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "eic_account_keep.h"
#include "eic_cache_writer.h"
#include "eic_imds.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_nss_sources.h"
#include "eic_time.h"
#include "eic_util.h"

/* The first accepted record whose #Caller maps to exactly name (deny rules win); NULL if none. */
static const struct eic_record_verdict *pick_record(const struct eic_config *cfg, const char *name,
                                                    const struct eic_record_verdict *verdicts, size_t n,
                                                    const struct eic_rule **rule_out)
{
    char mapped[EIC_LOGIN_NAME_MAX + 1];
    const struct eic_rule *rule;
    enum eic_map_status st;

    for (size_t i = 0; i < n; i++) {
        const struct eic_record_verdict *v = &verdicts[i];

        if (v->status != EIC_RECORD_ACCEPTED || v->caller == NULL) {
            continue;
        }
        rule = NULL;
        st = eic_mapping_resolve(&cfg->mapping, v->caller, mapped, sizeof(mapped), &rule);
        if (st != EIC_MAP_OK) {
            if (rule != NULL) {
                eic_log(LOG_INFO, "key %s pushed for %s by %s: not mapped (%s, rule at line %u)",
                        v->fingerprint, name, v->caller, eic_map_status_name(st), rule->line);
            } else {
                eic_log(LOG_INFO, "key %s pushed for %s by %s: not mapped (%s)", v->fingerprint, name,
                        v->caller, eic_map_status_name(st));
            }
            continue;
        }
        if (strcmp(mapped, name) != 0) {
            /* Someone may push a key for any os-user they are allowed to; the principal
             * decides the account, never the path it was pushed under. */
            eic_log(LOG_NOTICE, "key %s pushed for %s by %s, who maps to %s: ignored", v->fingerprint,
                    name, v->caller, mapped);
            continue;
        }
        *rule_out = rule;
        return v;
    }
    return NULL;
}

/* Is name in the cache already (a concurrent lookup created it)? Then adding it creates nothing. */
static bool already_cached(const char *cache_dir, const char *name)
{
    struct eic_cache *cache = NULL;
    struct eic_cached_user u;
    bool cached;

    if (eic_cache_open(cache_dir, &cache) != 0) {
        return false;
    }
    cached = eic_cache_user_by_name(cache, name, &u) == 0;
    eic_cache_close(cache);
    return cached;
}

int eic_resolve_account(const struct eic_config *cfg, const char *name, char *err, size_t err_len)
{
    struct eic_record_verdict *verdicts = NULL;
    size_t n_verdicts = 0;
    const struct eic_record_verdict *chosen;
    const struct eic_rule *rule = NULL;
    struct eic_cache_new_user nu;
    struct eic_cache_range range;
    const char *cache_dir;
    uint64_t deadline;
    uid_t uid = 0;
    int ret;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    if (name == NULL || !eic_mappable_name(name)) {
        return ENOENT;
    }
    /* The deadline starts now and bounds everything below: NSS never waits longer. */
    deadline = eic_monotonic_ms() + (uint64_t)cfg->imds_timeout_ms;
    ret = eic_keys_for_user(cfg, name, NULL, deadline, &verdicts, &n_verdicts);
    if (ret != 0) {
        eic_set_err(err, err_len, "%s", eic_imds_strerror(ret));
        goto done;
    }
    chosen = pick_record(cfg, name, verdicts, n_verdicts, &rule);
    if (chosen == NULL || rule == NULL) {
        ret = ENOENT;
        goto done;
    }

    eic_account_request(cfg, rule, name, chosen->caller, &nu, &range);
    cache_dir = cfg->cache_dir != NULL ? cfg->cache_dir : EIC_CACHE_DEFAULT_DIR;
    /* A new account must not take a name another NSS source (a directory) knows, or might know
     * while it is unavailable: that user would get this account's groups, or shadow it. An account
     * already cached is only refreshed (eic_account_keep warns when it is shadowed). The sources
     * get what is left of the deadline and the 250 ms nss_eic waits beyond it, less a margin. */
    if (!already_cached(cache_dir, name)) {
        ret = eic_nss_may_create(EIC_NSSWITCH_PATH, name, deadline + 200);
        if (ret != 0) {
            eic_set_err(err, err_len, "%s is not created: %s", name,
                        ret == EEXIST ? "another NSS source knows the name"
                        : ret == EAGAIN ? "an NSS source is unavailable" : strerror(ret));
            goto done;
        }
    }
    ret = eic_cache_add_user(cache_dir, &range, &nu, &uid);
    if (ret == EEXIST) {
        eic_log(LOG_WARNING, "%s (pushed by %s) is a local account; eic never serves it", name,
                chosen->caller);
        goto done;
    }
    if (ret != 0) {
        eic_set_err(err, err_len, "cannot add %s to the account cache: %s", name, strerror(ret));
        goto done;
    }
    eic_log(LOG_INFO, "account %s (uid %lu) for IAM principal %s, request-id %s", name, (unsigned long)uid,
            chosen->caller, chosen->request_id != NULL ? chosen->request_id : "-");
done:
    eic_keyrecords_free(verdicts, n_verdicts);
    return ret;
}
