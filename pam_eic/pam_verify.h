/* Without eicd: which login keys eic would let in, and whether an account may be used as it is,
 * from eic-authorized-keys-verify (the AuthorizedKeysCommand's own fallback) run as a child. The trust work (libcurl, OpenSSL) then
 * still never runs in the module's host (sshd): a host without systemd, or a broken service,
 * keeps its EIC logins, IAM-mapped accounts included. */
#ifndef PAM_EIC_VERIFY_H
#define PAM_EIC_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One key the program let in: fingerprint, #Caller and #Request ("" when none). */
struct pam_eic_verified_key {
    char fingerprint[64];
    char caller[2049];
    char request_id[129];
};

/* Run program (absolute path) -c config -d MS -s -- user fingerprint, with an empty environment
 * and no stdin, killed at deadline_ms (monotonic). On 0, *found tells whether it let the key in,
 * and key holds it. Errors: ETIMEDOUT, ECHILD (it failed: exit status not 0, or a signal), or
 * the error of starting it (ENOENT...). */
int pam_eic_verify_key(const char *program, const char *config, const char *user, const char *fingerprint,
                       uint64_t deadline_ms, bool *found, struct pam_eic_verified_key *key);

/* Run program -c config -d MS -a -- user, as above: 0 when the account may be used as it is (an
 * IAM-mapped account the rules still give to its principal, its cache entry as the rule would
 * write it); ECHILD when refused (the program logs why); or the errors above. */
int pam_eic_verify_account(const char *program, const char *config, const char *user, uint64_t deadline_ms);

#endif
