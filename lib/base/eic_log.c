#include "eic_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One logging destination per process, guarded by a mutex: the modules that use
 * this are loaded into multi-threaded hosts (sshd is not, but nscd and sssd-style
 * callers are). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[64] = "eic";
static int log_fd = -1;
/* The file log_fd was opened on, and its path. A host may close descriptors it does not know of (a
 * daemon closing 3..N as it detaches) and get the number back for a file or socket of its own:
 * before each use, log_fd is checked to be this file still. */
static dev_t log_dev;
static ino_t log_ino;
static char log_path[PATH_MAX];
static int log_to_stderr;
/* Until a program says otherwise (eic_log_open without EIC_LOG_IN_HOST), assume we are a guest. */
static int log_in_host = 1;
static int log_syslog_open;
static int log_max_priority = LOG_INFO;

static const char *priority_name(int priority)
{
    switch (priority) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

/* Open log_path into log_fd and remember which file it is. Caller holds log_lock. */
static int log_file_open_locked(void)
{
    struct stat st;
    int fd;

    /* Root processes open this file too: never through a symlink, and never waiting (a FIFO
     * nobody reads, put at the path, fails with ENXIO instead of blocking a login in open(), and a
     * full one drops lines instead of blocking in write()). */
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0640);
    if (fd < 0) {
        return errno;
    }
    if (fstat(fd, &st) != 0) {
        int ret = errno;

        close(fd);
        return ret;
    }
    log_fd = fd;
    log_dev = st.st_dev;
    log_ino = st.st_ino;
    return 0;
}

/* Whether log_fd still refers to the file we opened (EBADF, or another file under the number:
 * no). Caller holds log_lock. */
static bool log_fd_is_ours(void)
{
    struct stat st;

    return log_fd >= 0 && fstat(log_fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino;
}

/* Let go of log_fd: closed when it is still ours, only forgotten when the number is the host's now
 * (closing it would close the host's file or socket). Caller holds log_lock. */
static void log_fd_release_locked(void)
{
    if (log_fd_is_ours()) {
        close(log_fd);
    }
    log_fd = -1;
}

int eic_log_open(const char *ident, const char *log_file, int flags)
{
    int ret = 0;

    pthread_mutex_lock(&log_lock);
    log_fd_release_locked();
    log_path[0] = '\0';
    snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "eic");
    log_to_stderr = (flags & EIC_LOG_STDERR) != 0;
    log_in_host = (flags & EIC_LOG_IN_HOST) != 0;
    if (log_file != NULL && log_file[0] != '\0') {
        if (strlen(log_file) >= sizeof(log_path)) {
            ret = ENAMETOOLONG;
        } else {
            memcpy(log_path, log_file, strlen(log_file) + 1);
            ret = log_file_open_locked();
        }
        if (ret != 0) {
            log_path[0] = '\0'; /* syslog from now on, as the header says; no retry per message */
        }
    }
    pthread_mutex_unlock(&log_lock);
    return ret;
}

void eic_log_set_level(int max_priority)
{
    pthread_mutex_lock(&log_lock);
    log_max_priority = max_priority;
    pthread_mutex_unlock(&log_lock);
}

void eic_log(int priority, const char *fmt, ...)
{
    char msg[2048];
    char line[2300];
    char stamp[32];
    struct tm tm;
    time_t now;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* Untrusted text (user names, metadata) may reach a log line: control
     * characters are replaced so one message stays one line. */
    for (char *p = msg; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }

    pthread_mutex_lock(&log_lock);
    if (priority > log_max_priority) {
        pthread_mutex_unlock(&log_lock);
        return;
    }
    /* The host closed our descriptor (and may have the number for something of its own): never
     * write there; open the file again, or fall back to syslog below when that fails. */
    if (log_fd >= 0 && !log_fd_is_ours()) {
        log_fd = -1;
        (void)log_file_open_locked();
    }
    if (log_fd >= 0 || log_to_stderr) {
        now = time(NULL);
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        n = snprintf(line, sizeof(line), "%s %s[%ld]: %s: %s\n", stamp, log_ident, (long)getpid(),
                     priority_name(priority), msg);
        if (n > (int)sizeof(line) - 1) {
            n = (int)sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        if (log_fd >= 0 && n > 0) {
            (void)!write(log_fd, line, (size_t)n);
        }
        if (log_to_stderr && n > 0) {
            (void)!write(STDERR_FILENO, line, (size_t)n);
        }
    }
    if (log_fd < 0 && log_in_host) {
        syslog(LOG_AUTHPRIV | priority, "%s: %s", log_ident, msg);
    } else if (log_fd < 0) {
        if (!log_syslog_open) {
            /* No LOG_NDELAY: the socket is opened at the first message only. */
            openlog(log_ident, LOG_PID, LOG_AUTHPRIV);
            log_syslog_open = 1;
        }
        syslog(LOG_AUTHPRIV | priority, "%s", msg);
    }
    pthread_mutex_unlock(&log_lock);
}

void eic_log_close(void)
{
    pthread_mutex_lock(&log_lock);
    log_fd_release_locked();
    log_path[0] = '\0';
    if (log_syslog_open) {
        closelog();
        log_syslog_open = 0;
    }
    pthread_mutex_unlock(&log_lock);
}
