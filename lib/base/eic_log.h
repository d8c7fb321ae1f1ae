/* Logging: syslog (facility authpriv) by default, or a plain file for tests and
 * machines without a syslog daemon. Thread-safe; no state is created at load time. */
#ifndef EIC_LOG_H
#define EIC_LOG_H

#include <syslog.h>

#define EIC_LOG_STDERR 1  /* copy each message to stderr (interactive programs) */
#define EIC_LOG_IN_HOST 2 /* loaded into someone else's process (NSS, PAM): never call openlog() or
                           * closelog(), which would change the host program's syslog identity;
                           * the ident goes in front of each message instead */

/* ident: program or module name used as the syslog ident / file line prefix.
 * log_file: NULL or "" for syslog(authpriv), otherwise a path opened O_APPEND|O_CLOEXEC. Before
 *   each message the descriptor is checked (fstat: same device and inode) to be that file still:
 *   a host that closed it and reuses the number gets none of our lines; the file is opened again
 *   (syslog if that fails), and the host's descriptor is never closed by us.
 * flags: EIC_LOG_STDERR, EIC_LOG_IN_HOST or 0.
 * Returns 0 or an errno value (the file could not be opened; syslog is used then). */
int eic_log_open(const char *ident, const char *log_file, int flags);
/* priority: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void eic_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Messages below this priority are dropped (default LOG_INFO). */
void eic_log_set_level(int max_priority);
void eic_log_close(void);

#endif
