/* The one login policy (eic_login.h). */
#include "eic_login.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_accounts.h"
#include "eic_cache_writer.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_util.h"

/* For an IAM-mapped account: the record's principal must map, through the rules as they are now,
 * to exactly this account — bob's push for os-user alice never logs in as alice — and be the
 * identity the account belongs to (owner, its cached principal): a role session that chose the
 * session name "alice" derives the name of IAM user alice's account, and never gets in. */
static bool caller_maps_to(const struct eic_config *cfg, const char *user, const char *owner,
                           const struct eic_record_verdict *v)
{
    const struct eic_rule *rule = NULL;
    const char *why = NULL;

    if (v->caller == NULL) {
        eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: the record names no #Caller", v->fingerprint,
                user);
        return false;
    }
    if (!eic_principal_maps_to(&cfg->mapping, v->caller, user, &why, &rule)) {
        if (rule != NULL) {
            eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: principal %s %s (rule at line %u)",
                    v->fingerprint, user, v->caller, why, rule->line);
        } else {
            eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: principal %s %s", v->fingerprint, user,
                    v->caller, why);
        }
        return false;
    }
    if (!eic_same_identity(owner, v->caller)) {
        eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: the account belongs to %s, and %s is another "
                "identity", v->fingerprint, user, owner, v->caller);
        return false;
    }
    return true;
}

int eic_login_keys(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline_ms,
                   struct eic_record_verdict **verdicts, size_t *n_verdicts, size_t *n_allowed)
{
    struct eic_record_verdict *v = NULL;
    size_t n_v = 0;
    size_t n_ok = 0;
    struct passwd pw;
    char *pw_buf = NULL;
    char owner[EIC_ARN_MAX + 1] = "";
    bool mapped;
    int ret;

    *verdicts = NULL;
    *n_verdicts = 0;
    *n_allowed = 0;
    /* Checked before any I/O: the name goes into an IMDS path and into log lines. */
    if (!eic_valid_login_name(user)) {
        eic_log(LOG_WARNING, "refusing lookup for an invalid user name");
        return EINVAL;
    }
    if (fingerprint != NULL && strncmp(fingerprint, "SHA256:", 7) != 0) {
        eic_log(LOG_WARNING, "fingerprint argument is not a SHA256 fingerprint; no key can match");
    }
    /* The OS user must exist: a local account (classic EC2 Instance Connect) or an IAM-mapped one
     * that nss_eic serves from its cache (sshd resolved it, as root, before asking). */
    ret = eic_getpwnam(user, &pw, &pw_buf);
    if (ret != 0) {
        eic_log(LOG_INFO, "no local account %s; no EC2 Instance Connect key offered", user);
        ret = 0;
        goto done;
    }
    ret = eic_account_mapped(cfg->cache_dir, &pw, owner, sizeof(owner));
    mapped = ret == 0;
    if (ret != 0 && ret != ENOENT) {
        /* The cache exists but cannot be read (locked-down directory, corrupt or wrongly owned
         * file). user may still be an IAM-mapped account: nscd reads the cache as root and answered
         * getpwnam. Treating it as local would skip the #Caller check below, so it is local only if
         * /etc/passwd itself lists it; anything else gets no key (fail closed). */
        if (eic_cache_local_user_listed(NULL, user, pw.pw_uid) != 0) {
            eic_log(LOG_ERR,
                    "account cache %s/" EIC_CACHE_FILE " cannot be read (%s) and %s is not a local account in "
                    "/etc/passwd; no EC2 Instance Connect key offered",
                    cfg->cache_dir, strerror(ret), user);
            ret = EACCES;
            goto done;
        }
        eic_log(LOG_WARNING,
                "account cache %s/" EIC_CACHE_FILE " cannot be read (%s); %s is a local account in /etc/passwd",
                cfg->cache_dir, strerror(ret), user);
    }
    ret = eic_keys_for_user(cfg, user, fingerprint, deadline_ms, &v, &n_v);
    if (ret != 0) {
        goto done;
    }
    /* The keys that may log in go to the front, in their order. */
    for (size_t i = 0; i < n_v; i++) {
        if (v[i].status == EIC_RECORD_ACCEPTED && (!mapped || caller_maps_to(cfg, user, owner, &v[i]))) {
            struct eic_record_verdict keep = v[i];

            v[i] = v[n_ok];
            v[n_ok++] = keep;
        }
    }
    *verdicts = v;
    *n_verdicts = n_v;
    *n_allowed = n_ok;
done:
    free(pw_buf);
    return ret;
}
