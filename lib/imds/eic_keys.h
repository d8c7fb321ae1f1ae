/* The whole "which pushed keys are valid for this user right now" operation: fetch from IMDS,
 * then verify with eic_signer and eic_keyrecords. Shared by eic-authorized-keys and (later)
 * nss_eic, so the order of checks and the log lines are the same everywhere. */
#ifndef EIC_KEYS_H
#define EIC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "eic_config.h"
#include "eic_imds.h"
#include "eic_keyrecords.h"

#define EIC_MAX_OCSP_ENTRIES 8

struct eic_keys_request {
    const char *user;            /* already checked with eic_valid_login_name() */
    const char *fingerprint;     /* sshd's %f, or NULL */
    X509_STORE *anchors;
    long long now;               /* Unix seconds */
    uint64_t deadline_ms;        /* monotonic, bounds every IMDS request */
};

/* On 0, *verdicts holds one verdict per record (possibly none: no keys pushed); every
 * record-level rejection has been logged. Errors (logged too): ETIMEDOUT and the other
 * eic_imds_get() codes for IMDS trouble, EBADMSG for malformed metadata, EACCES when the signer
 * is not trusted, ENOMEM. Whatever the error, no verdict is returned. */
int eic_keys_fetch_verified(struct eic_imds *imds, const struct eic_keys_request *req,
                            struct eic_record_verdict **verdicts, size_t *n_verdicts);

/* The same from a loaded configuration, for every caller (eic-authorized-keys, nss_eic's resolver,
 * pam_eic): the trust anchors (ca_file / ca_path), an IMDS client (imds_* keys), then
 * eic_keys_fetch_verified for user at the current time, bounded by deadline_ms (monotonic).
 * fingerprint may be NULL. Returns as eic_keys_fetch_verified; EACCES also when the trust anchors
 * cannot be loaded (logged). */
int eic_keys_for_user(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline_ms,
                      struct eic_record_verdict **verdicts, size_t *n_verdicts);

/* For a long-lived process (eicd), from now on: IMDS clients are kept between calls of
 * eic_keys_for_user (each with its session token and connection), and so is the verified signer
 * (chain, CN, OCSP, instance identity), relied on until the earliest of its certificates' expiry,
 * its OCSP responses' nextUpdate and 300 s after it was verified, and verified again at once when
 * a record does not verify with it.
 *
 * The records that verified ACCEPTED are remembered per (user, fingerprint) (eic_record_memory.h),
 * and a later call for the same user and fingerprint is answered from them without IMDS while
 * they have not expired (#Timestamp > now, eic_keyrecords' rule), for at most 60 s after they were
 * fetched, and only while the signer they were verified with is still the one relied on for the
 * same IMDS endpoint and trust anchors (a signer dropped or replaced takes them with it). At most
 * 256 keys, the oldest forgotten first. A call without a fingerprint, or for one not remembered,
 * fetches, and what it fetched replaces what was remembered for that user. Policy (the account,
 * the mapping) is the caller's and applies at every call. Without this call nothing is kept. */
void eic_keys_keep_state(void);

#endif
