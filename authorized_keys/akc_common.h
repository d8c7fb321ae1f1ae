/* What eic-authorized-keys and its fallback eic-authorized-keys-verify share: the command line,
 * the configuration and where they log, and what sshd reads from them (the key lines, and the log
 * line AWS's own command writes for each key). libc only. */
#ifndef AKC_COMMON_H
#define AKC_COMMON_H

#include <stdbool.h>

#include "eic_config.h"

#define AKC_EXIT_USAGE 2

struct akc_args {
    const char *config_path;
    const char *user;
    const char *fingerprint; /* NULL: none given (or "") */
    long deadline_left_ms;   /* -d (eic-authorized-keys-verify only), else -1 */
    bool session_form;       /* -s (eic-authorized-keys-verify only): for pam_eic, "FP CALLER REQUEST" */
    bool account_step;       /* -a (eic-authorized-keys-verify only): pam_eic's account step */
};

/* Parse "[-c CONFIG] [-d MS] [-s|-a] [--] USER [FINGERPRINT]" (-d, -s, -a only when with_deadline). Returns -1
 * to go on, or the exit status (usage printed to stderr; -h: 0). */
int akc_parse_args(int argc, char **argv, bool with_deadline, struct akc_args *args);

/* Load the configuration into cfg (zeroed by the caller) and log where it says. Returns 0, or
 * an errno after logging why (the program then exits 1). */
int akc_load_config(const char *path, struct eic_config *cfg);

/* Print key (one "type base64" line) for sshd and log it with its fingerprint, request id and
 * principal (caller and request_id may be NULL or "": not named). Returns 0, or EIO when stdout
 * cannot take it (logged). */
int akc_print_key(const char *user, const char *key, const char *fingerprint, const char *caller,
                  const char *request_id);

#endif
