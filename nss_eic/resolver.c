/* libeic_resolver.so: the heavy part of nss_eic (libcurl, OpenSSL, json-c).
 *
 * The light part (libnss_eic.so.2) dlopen's this only when a root process looks up a name that
 * is not in the account cache. It decides, from IMDS, whether the name is an IAM-mapped account:
 * active, verified key records pushed for that name whose #Caller the mapping rules map to
 * exactly that name. If so it adds the account to the cache; the light part then answers from the
 * cache like for any other cached account. Everything happens within imds_timeout_ms. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "eic_config.h"
#include "eic_log.h"
#include "eic_resolve.h"
#include "eic_util.h"

/* The one exported function (resolver.map). Returns 0 (the account is in the cache now), ENOENT
 * (no valid record maps to name), EEXIST (name is a local account), EINVAL (bad configuration),
 * or why IMDS could not answer: ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, EIO, EPROTO, EMSGSIZE,
 * EACCES (untrusted signer), EBADMSG; ENOMEM. err receives a line for the log. */
__attribute__((visibility("default"))) int eic_resolver_lookup(const char *config_path, const char *name,
                                                               char *err, size_t err_len);

int eic_resolver_lookup(const char *config_path, const char *name, char *err, size_t err_len)
{
    struct eic_config cfg;
    char cfg_err[512];
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
    /* This library keeps its own copy of the logger: open it on the configured destination. */
    eic_log_open("nss_eic", cfg.log_file, EIC_LOG_IN_HOST);
    eic_log_set_level(cfg.log_level);

    ret = eic_resolve_account(&cfg, name, err, err_len);
done:
    eic_config_free(&cfg);
    return ret;
}
