/* libeic_resolver.so: the heavy part of nss_eic (libcurl, OpenSSL, json-c).
 *
 * The light part (libnss_eic.so.2) dlopen's this only when a root process looks up a name that
 * is not in the account cache. It decides, from IMDS, whether the name is an IAM-mapped account:
 * active, verified key records pushed for that name whose #Caller the mapping rules map to
 * exactly that name. If so it adds the account to the cache; the light part then answers from the
 * cache like for any other cached account. Everything happens within imds_timeout_ms. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eic_cache.h"
#include "eic_config.h"
#include "eic_imds.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_signer.h"
#include "eic_time.h"
#include "eic_util.h"

/* The one exported function (resolver.map). Returns 0 (the account is in the cache now), ENOENT
 * (no valid record maps to name), EEXIST (name is a local account), EINVAL (bad configuration),
 * or why IMDS could not answer: ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, EIO, EPROTO, EMSGSIZE,
 * EACCES (untrusted signer), EBADMSG; ENOMEM. err receives a line for the log. */
__attribute__((visibility("default"))) int eic_resolver_lookup(const char *config_path, const char *name,
                                                               char *err, size_t err_len);


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
                eic_log(LOG_INFO, "nss_eic: key %s pushed for %s by %s: not mapped (%s, rule at line %u)",
                        v->fingerprint, name, v->caller, eic_map_status_name(st), rule->line);
            } else {
                eic_log(LOG_INFO, "nss_eic: key %s pushed for %s by %s: not mapped (%s)", v->fingerprint, name,
                        v->caller, eic_map_status_name(st));
            }
            continue;
        }
        if (strcmp(mapped, name) != 0) {
            /* Someone may push a key for any os-user they are allowed to; the principal
             * decides the account, never the path it was pushed under. */
            eic_log(LOG_NOTICE, "nss_eic: key %s pushed for %s by %s, who maps to %s: ignored", v->fingerprint,
                    name, v->caller, mapped);
            continue;
        }
        *rule_out = rule;
        return v;
    }
    return NULL;
}

int eic_resolver_lookup(const char *config_path, const char *name, char *err, size_t err_len)
{
    struct eic_config cfg;
    struct eic_record_verdict *verdicts = NULL;
    size_t n_verdicts = 0;
    const struct eic_record_verdict *chosen;
    const struct eic_rule *rule = NULL;
    struct eic_cache_new_user nu;
    struct eic_cache_range range;
    char cfg_err[512];
    uint64_t deadline;
    uid_t uid = 0;
    int ret;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    /* Fills cfg whatever it returns (the defaults for a missing file). */
    ret = eic_config_load(config_path, geteuid(), &cfg, cfg_err, sizeof(cfg_err));
    if (ret != 0 && ret != ENOENT) {
        eic_set_err(err, err_len, "%s", cfg_err[0] != '\0' ? cfg_err : strerror(ret));
        ret = EINVAL;
        goto done;
    }
    if (name == NULL || !eic_mappable_name(name)) {
        ret = ENOENT;
        goto done;
    }
    /* The deadline starts now and bounds everything below: NSS never waits longer. */
    deadline = eic_monotonic_ms() + (uint64_t)cfg.imds_timeout_ms;
    /* This library keeps its own copy of the logger: open it on the configured destination. */
    eic_log_open("nss_eic", cfg.log_file, EIC_LOG_IN_HOST);
    eic_log_set_level(cfg.log_level);

    ret = eic_keys_for_user(&cfg, name, NULL, deadline, &verdicts, &n_verdicts);
    if (ret != 0) {
        eic_set_err(err, err_len, "%s", eic_imds_strerror(ret));
        goto done;
    }
    chosen = pick_record(&cfg, name, verdicts, n_verdicts, &rule);
    if (chosen == NULL || rule == NULL) {
        ret = ENOENT;
        goto done;
    }

    eic_config_cache_account(&cfg, rule, name, chosen->caller, &nu, &range);
    ret = eic_cache_add_user(cfg.cache_dir != NULL ? cfg.cache_dir : EIC_CACHE_DEFAULT_DIR, &range, &nu, &uid);
    if (ret == EEXIST) {
        eic_log(LOG_WARNING, "nss_eic: %s (pushed by %s) is a local account; eic never serves it", name,
                chosen->caller);
        goto done;
    }
    if (ret != 0) {
        eic_set_err(err, err_len, "cannot add %s to the account cache: %s", name, strerror(ret));
        goto done;
    }
    eic_log(LOG_INFO, "nss_eic: account %s (uid %lu) for IAM principal %s, request-id %s", name, (unsigned long)uid,
            chosen->caller, chosen->request_id != NULL ? chosen->request_id : "-");
done:
    eic_keyrecords_free(verdicts, n_verdicts);
    eic_config_free(&cfg);
    return ret;
}
