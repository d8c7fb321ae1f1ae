/* The chain: other AuthorizedKeysCommands (eic.conf "chain_command") that eic-authorized-keys and
 * its fallback run after eic's own keys are out, so that a host whose keys also come from a
 * directory (SSSD's sss_ssh_authorizedkeys, an LDAP script) can have both through sshd's one
 * AuthorizedKeysCommand. docs/AUTHORIZED_KEYS.md, "Chained commands". libc only. */
#ifndef AKC_CHAIN_H
#define AKC_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "eic_config.h"

#define AKC_CHAIN_OUTPUT_MAX (64 * 1024) /* bytes of stdout one command may print */
#define AKC_CHAIN_STDERR_MAX 2048        /* bytes of its stderr that go into the log */

/* The deadline of eic's own check when a chain follows it: half of what is left until deadline,
 * so that a hanging IMDS or eicd never leaves the directory's users without time. */
uint64_t akc_chain_eic_deadline(const struct eic_config *cfg, uint64_t deadline);

/* Run cfg's chain commands in order, each with %u and %f of its template filled in from user and
 * fingerprint (NULL: ""), stdin /dev/null, a minimal environment, in a process group of its own,
 * all of them within deadline (CLOCK_MONOTONIC ms). The stdout of a command that exits 0 in time
 * goes to out_fd, whole lines only; a command that is not safe to run (not an absolute path to a
 * root-owned file in root-owned directories, none of them writable by group or others), fails to
 * start, exits non-zero, is killed by a signal or at the deadline, or prints more than
 * AKC_CHAIN_OUTPUT_MAX bytes is logged and contributes nothing. Its stderr goes to the log.
 * Returns how many commands exited 0. */
size_t akc_run_chain(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline,
                     int out_fd);

#endif
