/* The one login policy: which pushed keys may log in as a user now. eicd answers the
 * AuthorizedKeysCommand with it, and so does eic-authorized-keys-verify (the AKC's fallback when
 * the service cannot be reached), so both decide in exactly the same way. */
#ifndef EIC_LOGIN_H
#define EIC_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "eic_config.h"
#include "eic_keyrecords.h"

/* The keys pushed for user (only the one with fingerprint, when not NULL) that pass every check of
 * the records (eic_keys_for_user: signer chain, OCSP, signature, instance, expiry) and, for an
 * IAM-mapped account, whose #Caller maps through the rules as they are now to exactly this
 * account. The account must exist (getpwnam): a local one, or an IAM-mapped one in the cache.
 * Everything is bounded by deadline_ms (monotonic) and every refusal is logged.
 *
 * Returns 0 with *verdicts (*n_verdicts of them; free with eic_keyrecords_free) of which the first
 * *n_allowed may log in, in the order IMDS listed them (possibly none: no account, no key);
 * EINVAL for a user name that is not a valid login name;
 * EACCES when the account cache cannot be read and user is not in /etc/passwd (it may be an
 * IAM-mapped account whose #Caller could then not be checked); or the error of
 * eic_keys_for_user (IMDS trouble, untrusted signer). On error *verdicts is NULL. */
int eic_login_keys(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline_ms,
                   struct eic_record_verdict **verdicts, size_t *n_verdicts, size_t *n_allowed);

#endif
