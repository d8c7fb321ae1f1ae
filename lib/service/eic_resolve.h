/* Resolving a name that no cache holds: is it an IAM-mapped account now? eicd answers nss_eic's
 * misses with it (root callers only), so that the only code that can create an account from IMDS
 * runs in the service. */
#ifndef EIC_RESOLVE_H
#define EIC_RESOLVE_H

#include <stddef.h>

#include "eic_config.h"

/* Decide from IMDS whether name is an IAM-mapped account: active, verified key records pushed for
 * name whose #Caller the mapping rules map to exactly name. If so, add the account to the cache
 * (cfg->cache_dir), unless another NSS source of /etc/nsswitch.conf knows the name or cannot say
 * (eic_nss_may_create). Everything happens within imds_timeout_ms (+200 ms for those sources).
 * Returns 0 (the account is in the cache now), ENOENT (no valid record maps to name), EEXIST (name
 * is a local account, or another NSS source knows it), EAGAIN (an NSS source is unavailable: not
 * created now), EIO (nsswitch.conf cannot be used), or why IMDS
 * could not answer: ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, EIO, EPROTO, EMSGSIZE, EACCES
 * (untrusted signer), EBADMSG; ENOMEM. err receives a line for the log. */
int eic_resolve_account(const struct eic_config *cfg, const char *name, char *err, size_t err_len);

#endif
