/* pam_eic module arguments (docs/PAM.md). Every argument is checked; an unknown or malformed one
 * makes the whole call fail (PAM_SERVICE_ERR), never succeed: a typo in a PAM line must not
 * quietly turn a protection off.
 *
 *   config=/abs/path        eic.conf (default /etc/eic/eic.conf)
 *   audit_log=/abs/path     JSON-lines audit log (default /var/log/eic/audit.log)
 *   max_session=SECONDS     end sessions at this age, 1..31536000 (default: no limit)
 *   eic_only=NAME[,NAME...] these users may open a session only with a valid pushed key
 *   home_mode=0NNN          mode of created home directories (default 0700; octal, no
 *                           setuid/setgid/sticky, not group- or world-writable)
 *   skel=/abs/path          what a new home directory is copied from (default /etc/skel)
 *   authorized_keys=P[,P...] sshd's AuthorizedKeysFile, for telling file-key logins from EIC ones
 *                           (default .ssh/authorized_keys,.ssh/authorized_keys2: sshd's default);
 *                           each absolute or relative to the home directory; %u is the user name,
 *                           %h the home directory, %% a '%'; at most 4
 *   verify=/abs/path        eic-authorized-keys-verify, run when eicd cannot be reached (default
 *                           the installed one, PAM_EIC_DEFAULT_VERIFY)
 *   debug                   log at debug level */
#ifndef PAM_EIC_ARGS_H
#define PAM_EIC_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PAM_EIC_DEFAULT_AUDIT_LOG "/var/log/eic/audit.log"
#define PAM_EIC_DEFAULT_SKEL "/etc/skel"
#define PAM_EIC_DEFAULT_HOME_MODE 0700
#define PAM_EIC_MAX_SESSION_LIMIT 31536000L /* one year */
#define PAM_EIC_MAX_EIC_ONLY 32
#define PAM_EIC_PATH_MAX 1024
#define PAM_EIC_DEFAULT_AUTHORIZED_KEYS ".ssh/authorized_keys,.ssh/authorized_keys2"
#define PAM_EIC_MAX_AUTHORIZED_KEYS 4
#ifndef PAM_EIC_DEFAULT_VERIFY
#define PAM_EIC_DEFAULT_VERIFY "/usr/libexec/eic/eic-authorized-keys-verify"
#endif

struct pam_eic_args {
    /* Pointers into argv (PAM keeps the module arguments alive for the handle's lifetime) or
     * to the static defaults. */
    const char *config;
    const char *audit_log;
    const char *skel;
    const char *authorized_keys;               /* comma-separated patterns, checked when parsed */
    const char *verify;
    long max_session;                          /* 0: no limit */
    char eic_only[PAM_EIC_MAX_EIC_ONLY][33];   /* login names (EIC_LOGIN_NAME_MAX + 1) */
    size_t n_eic_only;
    mode_t home_mode;
    bool debug;
};

/* Parse argv into args (defaults first). Returns 0, or EINVAL with the reason in err (naming the
 * argument); args then still holds a usable config path (the default unless a valid config=
 * came before the bad argument), so the caller can find where to log. */
int pam_eic_args_parse(int argc, const char **argv, struct pam_eic_args *args, char *err, size_t err_len);
/* An absolute path of printable ASCII without blanks, shorter than PAM_EIC_PATH_MAX, with no "."
 * or ".." component and no "//". */
bool pam_eic_valid_path(const char *p);
bool pam_eic_args_is_eic_only(const struct pam_eic_args *args, const char *user);

#endif
