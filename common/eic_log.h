/* Logging: syslog (facility authpriv) by default, or a plain file for tests and
 * machines without a syslog daemon. Thread-safe; no state is created at load time. */
#ifndef EIC_LOG_H
#define EIC_LOG_H

#include <syslog.h>

/* ident: program or module name used as the syslog ident / file line prefix.
 * log_file: NULL or "" for syslog(authpriv), otherwise a path opened O_APPEND|O_CLOEXEC.
 * also_stderr: copy each message to stderr (interactive programs).
 * Returns 0 or an errno value (the file could not be opened; syslog is used then). */
int eic_log_open(const char *ident, const char *log_file, int also_stderr);
/* priority: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void eic_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Messages below this priority are dropped (default LOG_INFO). */
void eic_log_set_level(int max_priority);
void eic_log_close(void);

#endif
