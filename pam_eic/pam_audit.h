/* Audit records of pam_eic (docs/PAM.md, "Audit log"): one JSON object per line, appended to the
 * audit log file, and the same facts as one eic_log line (syslog authpriv, or the configured
 * log_file).
 *
 *   {"event":"session_open","time":1732400000,"user":"alice","uid":200123,
 *    "principal":"arn:aws:iam::111122223333:user/alice","request_id":"2d1b...",
 *    "fingerprint":"SHA256:...","rhost":"192.0.2.10","service":"sshd","pid":4242,"eic_key":true}
 *
 * "session_close" and "session_expired" records add "duration" (seconds since the open). Unknown
 * values are null. The file is root's (0600, directory 0700), opened O_APPEND|O_NOFOLLOW and
 * written with one write() per record, so concurrent sessions never interleave inside a line. */
#ifndef PAM_EIC_AUDIT_H
#define PAM_EIC_AUDIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "eic_mapping.h"
#include "pam_args.h"

/* What one session's records say; kept with pam_set_data between open and close. */
struct pam_eic_session {
    char user[256];
    uid_t uid;
    char principal[EIC_ARN_MAX + 1];   /* "" when unknown */
    char request_id[128];              /* "" when unknown, "-" for a mapped account without a record */
    char fingerprint[64];              /* "" when the login used no public key */
    char rhost[256];
    char service[64];
    pid_t pid;                         /* the session process (the caller of pam_open_session) */
    bool eic_key;                      /* logged in with a verified pushed key */
    bool managed;                      /* a session pam_eic manages (mapped, eic_only or EIC key) */
    long long opened;                  /* Unix seconds */
    char audit_log[PAM_EIC_PATH_MAX];
    pid_t watchdog_pid;                /* 0: none */
    unsigned long long watchdog_start; /* its start time (/proc/PID/stat), against PID reuse */
};

/* Append one record (event "session_open", "session_close" or "session_expired"; duration < 0:
 * none) and log it. Returns 0 or an errno value (logged). */
int pam_eic_audit_write(const struct pam_eic_session *s, const char *event, long long duration);

#endif
