#include "pam_watchdog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eic_log.h"

#define POLL_MS 5000 /* how often the watchdog checks that the session process is still there */

int pam_eic_proc_start(pid_t pid, unsigned long long *start, char *state)
{
    char path[64];
    char buf[1024];
    const char *p;
    char *end = NULL;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? ENOENT : errno;
    }
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) {
        return n == 0 ? ENOENT : EBADMSG;
    }
    buf[n] = '\0';
    /* "PID (COMM) S PPID ...": COMM may hold spaces and ')', so fields are counted from the last
     * ')'. The state is field 3, the start time field 22. */
    p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0') {
        return EBADMSG;
    }
    p += 2;
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL) {
            return EBADMSG;
        }
        p++;
    }
    errno = 0;
    *start = strtoull(p, &end, 10);
    if (errno != 0 || end == p || (*end != ' ' && *end != '\0' && *end != '\n')) {
        return EBADMSG;
    }
    return 0;
}

/* Still the process we were given (not exited, not a zombie, not a reused PID)? */
static bool same_process(pid_t pid, unsigned long long start)
{
    unsigned long long now_start;
    char state;

    return pam_eic_proc_start(pid, &now_start, &state) == 0 && now_start == start && state != 'Z' && state != 'X';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Milliseconds since boot, suspend included: a session's age counts the time the machine slept. */
static long long boot_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
    }
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The watchdog process itself: a fresh start after the double fork. Never returns. */
static void __attribute__((noreturn)) watchdog_main(struct pam_eic_session *s, unsigned long long session_start,
                                                    long long deadline, const char *log_file)
{
    sigset_t none;
    int fd;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL); /* fails for SIGKILL/SIGSTOP and the libc-reserved ones: fine */
    }
    /* Every descriptor inherited from the host goes: above all the client connection, which must
     * close when the session process dies. Standard descriptors point to /dev/null. */
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    if (close_range(3, ~0U, 0) != 0) {
        for (int i = 3; i < 65536; i++) {
            close(i);
        }
    }
    eic_log_open("pam_eic", log_file, EIC_LOG_IN_HOST); /* reopened: its old descriptor is gone */
    eic_log(LOG_DEBUG, "watchdog for session %ld of %s started", (long)s->pid, s->user);

    for (;;) {
        long long left = deadline - boot_ms();

        if (!same_process(s->pid, session_start)) {
            _exit(0); /* the session ended without a close; nothing to do */
        }
        if (left <= 0) {
            break;
        }
        sleep_ms(left < POLL_MS ? (long)left : POLL_MS);
    }
    (void)pam_eic_audit_write(s, "session_expired", (long long)time(NULL) - s->opened);
    eic_log(LOG_NOTICE, "session of %s (pid %ld) reached max_session; ending it", s->user, (long)s->pid);
    kill(s->pid, SIGTERM);
    for (long waited = 0; waited < PAM_EIC_KILL_GRACE_MS; waited += 100) {
        sleep_ms(100);
        if (!same_process(s->pid, session_start)) {
            _exit(0);
        }
    }
    if (same_process(s->pid, session_start)) {
        eic_log(LOG_NOTICE, "session process %ld of %s ignored SIGTERM; sending SIGKILL", (long)s->pid, s->user);
        kill(s->pid, SIGKILL);
    }
    _exit(0);
}

int pam_eic_watchdog_start(struct pam_eic_session *s, long max_session, const char *log_file)
{
    unsigned long long session_start = 0;
    long long deadline = boot_ms() + (long long)max_session * 1000;
    pid_t child, grandchild = 0;
    int pipefd[2] = {-1, -1};
    int status;
    ssize_t n;
    char state;
    int ret;

    ret = pam_eic_proc_start(s->pid, &session_start, &state);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot read the start time of session process %ld: %s", (long)s->pid, strerror(ret));
        goto done;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        ret = errno;
        goto done;
    }
    child = fork();
    if (child < 0) {
        ret = errno;
        goto done;
    }
    if (child == 0) {
        /* Intermediate: a new session, then the watchdog, whose PID goes back through the pipe;
         * exiting at once makes the watchdog an orphan that init reaps. */
        pid_t wd;

        close(pipefd[0]);
        setsid();
        wd = fork();
        if (wd == 0) {
            close(pipefd[1]);
            watchdog_main(s, session_start, deadline, log_file);
        }
        (void)!write(pipefd[1], &wd, sizeof(wd));
        _exit(wd > 0 ? 0 : 1);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    do {
        n = read(pipefd[0], &grandchild, sizeof(grandchild));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(grandchild) || grandchild <= 0) {
        ret = ECHILD;
        eic_log(LOG_ERR, "cannot start the max_session watchdog");
        goto done;
    }
    s->watchdog_pid = grandchild;
    /* Its start time, so that pam_eic_watchdog_stop() never signals a process that reused the PID.
     * It cannot have exited yet: it sleeps at least until the deadline. */
    ret = pam_eic_proc_start(grandchild, &s->watchdog_start, &state);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot read the start time of the watchdog %ld: %s", (long)grandchild, strerror(ret));
        kill(grandchild, SIGKILL);
        s->watchdog_pid = 0;
        goto done;
    }
    eic_log(LOG_DEBUG, "max_session watchdog %ld ends session %ld of %s after %ld s", (long)grandchild,
            (long)s->pid, s->user, max_session);
    ret = 0;
done:
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
    }
    if (pipefd[1] >= 0) {
        close(pipefd[1]);
    }
    return ret;
}

void pam_eic_watchdog_stop(const struct pam_eic_session *s)
{
    if (s->watchdog_pid > 0 && same_process(s->watchdog_pid, s->watchdog_start)) {
        kill(s->watchdog_pid, SIGTERM);
    }
}
