/* What sshd reads from the AuthorizedKeysCommand, and the log line AWS's own command writes for
 * each key: one place for eic-authorized-keys and its fallback eic-authorized-keys-verify. libc
 * only. */
#ifndef AKC_OUTPUT_H
#define AKC_OUTPUT_H

/* Print key (one "type base64" line) for sshd and log it with its fingerprint, request id and
 * principal (caller and request_id may be NULL or "": not named). Returns 0, or EIO when stdout
 * cannot take it (logged). */
int akc_print_key(const char *user, const char *key, const char *fingerprint, const char *caller,
                  const char *request_id);

#endif
