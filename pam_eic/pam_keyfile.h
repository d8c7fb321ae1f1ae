/* Was a login key found in the user's own authorized_keys files (sshd's AuthorizedKeysFile)?
 *
 * sshd (OpenSSH 8.2 and later; Debian 12 ships 9.2) reads AuthorizedKeysFile before it runs the
 * AuthorizedKeysCommand, and stops at the first source that accepts the key. A key listed there
 * was accepted from the file: the login is not an EC2 Instance Connect login, and pam_eic has
 * nothing to ask IMDS about it. That keeps local key logins independent of IMDS: when IMDS hangs,
 * they do not wait for its timeout. */
#ifndef PAM_EIC_KEYFILE_H
#define PAM_EIC_KEYFILE_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>

#include "pam_args.h"

/* true when every one of the n fingerprints ("SHA256:...", "" for a key that could not be read)
 * is listed in one of the files of args->authorized_keys for pw. Files are read as a regular file
 * of at most 1 MiB, owned by the user or root, not group/world-writable (what sshd's StrictModes
 * requires of the file itself), opened without following a final symlink; anything else counts
 * as "not listed", so the caller falls back to asking IMDS; so does a cert-authority line. */
bool pam_eic_keys_in_authorized_keys(const struct pam_eic_args *args, const struct passwd *pw, char fps[][64],
                                     size_t n);

/* The fingerprint of a key written "type base64 [comment]" at line[0..len) (no blanks in front):
 * "SHA256:" and the unpadded base64 of the SHA-256 of the decoded blob, as ssh-keygen -l prints
 * it, in libc code. The blob must name the type written in front of it, as sshd requires.
 * Returns 0, or EINVAL when this is not a key (fp is then ""), or ENOMEM. */
int pam_eic_key_fingerprint(const char *line, size_t len, char fp[64]);

#endif
