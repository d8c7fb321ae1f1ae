/* max_session: the server ends a session at a fixed age, whatever the client does.
 *
 * Why a watchdog process: PAM gives a module no hook that runs later, sshd has no such setting
 * for an established session, and systemd-logind (RuntimeMaxSec of a session scope) is not on
 * every host nor in every container. So pam_open_session starts a small process of its own — a
 * double fork, so that it is nobody's child to reap and outlives nothing it should not: new
 * session (setsid), every descriptor closed (it must not hold the client connection open), signal
 * mask and handlers reset. It sleeps until the deadline and then, if the session process is still
 * the same process (same PID and the same start time in /proc/PID/stat, so a reused PID is never
 * hit), writes the "session_expired" audit record and ends it: SIGTERM, then SIGKILL after 2 s.
 * The session process is the one that called pam_open_session (sshd's per-connection process):
 * when it dies, sshd's connection and the user's shell go with it. pam_close_session stops the
 * watchdog (again checking its start time). The watchdog also ends by itself when the session
 * process disappears without a close (it looks every few seconds). */
#ifndef PAM_EIC_WATCHDOG_H
#define PAM_EIC_WATCHDOG_H

#include <sys/types.h>

#include "pam_audit.h"

#define PAM_EIC_KILL_GRACE_MS 2000

/* Start the watchdog for s (s->pid is the session process, s->opened its start). log_file is where
 * the watchdog logs (NULL: syslog). On 0, s->watchdog_pid and s->watchdog_start are set. */
int pam_eic_watchdog_start(struct pam_eic_session *s, long max_session, const char *log_file);
/* Stop the watchdog of s, if it is still the process that was started. */
void pam_eic_watchdog_stop(const struct pam_eic_session *s);
/* Start time (clock ticks since boot, field 22 of /proc/PID/stat) and state letter of pid.
 * Returns 0, ENOENT (no such process) or EBADMSG. */
int pam_eic_proc_start(pid_t pid, unsigned long long *start, char *state);

#endif
