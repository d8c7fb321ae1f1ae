/* The chained AuthorizedKeysCommands (chain.h). Each one runs as sshd would run its own
 * AuthorizedKeysCommand: an absolute path checked like sshd checks its command (root-owned, not
 * writable by group or others, nor any directory above it), a minimal environment, and a bound on
 * time and output. Unlike sshd we also bound the output and kill the whole process group at the
 * deadline: one slow directory must not hold the login, or eic's keys, hostage. */
#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eic_log.h"
#include "eic_time.h"

#define CHAIN_PATH "PATH=/usr/bin:/bin:/usr/sbin:/sbin" /* sshd's _PATH_STDPATH */
#define REAP_POLL_MS 10

/* One command's run: its argv, and what it printed so far. */
struct chain_run {
    char *argv[EIC_CHAIN_ARGS_MAX + 1];
    char out[AKC_CHAIN_OUTPUT_MAX + 1]; /* + 1: one byte over the cap tells "too much" */
    size_t out_len;
    char err[AKC_CHAIN_STDERR_MAX];
    size_t err_len;
};

uint64_t akc_chain_eic_deadline(const struct eic_config *cfg, uint64_t deadline)
{
    return cfg->n_chain_commands == 0 ? deadline : deadline - eic_ms_left(deadline) / 2;
}

static void free_argv(struct chain_run *run)
{
    for (size_t i = 0; i < EIC_CHAIN_ARGS_MAX && run->argv[i] != NULL; i++) {
        free(run->argv[i]);
        run->argv[i] = NULL;
    }
}

/* One word of the template with %u, %f and %% filled in (eic_config_check_chain_command() let no
 * other token through). */
static char *expand_word(const char *word, size_t len, const char *user, const char *fingerprint)
{
    size_t user_len = strlen(user);
    size_t fp_len = strlen(fingerprint);
    size_t longest = user_len > fp_len ? user_len : fp_len;
    char *out = malloc(len * (longest + 1) + 1); /* every byte a token at worst */
    size_t n = 0;

    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (word[i] != '%' || i + 1 == len) {
            out[n++] = word[i];
            continue;
        }
        i++;
        if (word[i] == 'u') {
            memcpy(out + n, user, user_len);
            n += user_len;
        } else if (word[i] == 'f') {
            memcpy(out + n, fingerprint, fp_len);
            n += fp_len;
        } else {
            out[n++] = word[i];
        }
    }
    out[n] = '\0';
    return out;
}

static int make_argv(const char *command, const char *user, const char *fingerprint, struct chain_run *run)
{
    char why[128];
    size_t n = 0;

    if (eic_config_check_chain_command(command, why, sizeof(why)) != 0) {
        eic_log(LOG_ERR, "chain_command '%s' %s; not run", command, why);
        return EINVAL;
    }
    for (const char *p = command; *p != '\0';) {
        size_t len;

        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (len == 0) {
            break;
        }
        run->argv[n] = expand_word(p, len, user, fingerprint);
        if (run->argv[n] == NULL) {
            free_argv(run);
            return ENOMEM;
        }
        n++;
        p += len;
    }
    run->argv[n] = NULL;
    return 0;
}

/* sshd's rule for its AuthorizedKeysCommand (auth_secure_path): the file and every directory
 * above it owned by root and not writable by group or others, followed to where it really is. */
static int check_safe(const char *path)
{
    char real[PATH_MAX];
    struct stat st;
    char *slash;

    if (realpath(path, real) == NULL) {
        int err = errno;

        eic_log(LOG_ERR, "chain_command %s: %s; not run", path, strerror(err));
        return err;
    }
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        eic_log(LOG_ERR, "chain_command %s: not a regular file; not run", path);
        return EPERM;
    }
    for (;;) {
        if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
            eic_log(LOG_ERR, "chain_command %s: %s is %s; not run (it must be root's and writable by root alone, "
                    "as sshd wants its AuthorizedKeysCommand)", path, real,
                    st.st_uid != 0 ? "not owned by root" : "writable by group or others");
            return EPERM;
        }
        slash = strrchr(real, '/');
        if (slash == NULL || real[1] == '\0') {
            return 0;
        }
        slash[slash == real ? 1 : 0] = '\0';
        if (stat(real, &st) != 0) {
            eic_log(LOG_ERR, "chain_command %s: %s: %s; not run", path, real, strerror(errno));
            return EPERM;
        }
    }
}

/* The child: never returns. */
static void exec_child(const struct chain_run *run, int out_fd, int err_fd)
{
    static const char *const pass[] = {"USER=", "LOGNAME=", "HOME=", "LANG="};
    char *env[sizeof(pass) / sizeof(pass[0]) + 2];
    size_t n = 0;
    int null_fd;

    /* Its own process group, so that what it starts is killed with it at the deadline. */
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(err_fd, STDERR_FILENO) < 0) {
        _exit(126);
    }
    close_range(3, ~0U, 0);
    /* What sshd gives its own AuthorizedKeysCommand, and nothing of ours. */
    env[n++] = (char *)CHAIN_PATH;
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, pass[i], strlen(pass[i])) == 0) {
                env[n++] = *e;
                break;
            }
        }
    }
    env[n] = NULL;
    execve(run->argv[0], run->argv, env);
    _exit(127);
}

/* Read what is ready on fd into buf (len, cap); *open cleared at EOF. Past cap the bytes are
 * read and dropped (stderr) or counted as one too many (stdout: buf has one spare byte). */
static void drain(int fd, bool *open, char *buf, size_t *len, size_t cap)
{
    char scratch[4096];
    ssize_t n;

    n = *len < cap ? read(fd, buf + *len, cap - *len) : read(fd, scratch, sizeof(scratch));
    if (n > 0) {
        *len += *len < cap ? (size_t)n : 0;
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        *open = false;
    }
}

/* Wait for pid until deadline; at the deadline (or when kill_now) its process group is killed.
 * Returns the wait status, or -1 when it was killed by us. */
static int reap(pid_t pid, uint64_t deadline, bool kill_now)
{
    int status;

    while (!kill_now) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (eic_ms_left(deadline) == 0) {
            break;
        }
        usleep(REAP_POLL_MS * 1000);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return -1;
}

static void log_stderr(const char *name, char *err, size_t len)
{
    char *line = err;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && err[i] != '\n') {
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] == 0x7f) {
                err[i] = '?';
            }
            continue;
        }
        if (err + i > line) {
            eic_log(LOG_NOTICE, "chain_command %s: %.*s", name, (int)(err + i - line), line);
        }
        line = err + i + 1;
    }
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return EIO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Run one command; returns 0 when it exited 0 in time and its whole lines went to out_fd. */
static int run_one(struct chain_run *run, uint64_t deadline, int out_fd)
{
    const char *name = run->argv[0];
    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    bool out_open = true;
    bool err_open = true;
    bool too_much = false;
    const char *last_nl;
    size_t whole;
    pid_t pid;
    int status;
    int ret = EIO;

    if (eic_ms_left(deadline) == 0) {
        eic_log(LOG_WARNING, "chain_command %s: no time left of deadline_ms; not run", name);
        return ETIMEDOUT;
    }
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        eic_log(LOG_ERR, "chain_command %s: pipe: %s", name, strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        eic_log(LOG_ERR, "chain_command %s: fork: %s", name, strerror(errno));
        goto done;
    }
    if (pid == 0) {
        exec_child(run, out_pipe[1], err_pipe[1]);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first, the group exists before a kill */
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;

    run->out_len = run->err_len = 0;
    while ((out_open || err_open) && !too_much) {
        struct pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        uint64_t left = eic_ms_left(deadline);
        int n;

        if (left == 0) {
            break;
        }
        n = poll(fds, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n > 0 && fds[0].revents != 0) {
            drain(out_pipe[0], &out_open, run->out, &run->out_len, sizeof(run->out));
            too_much = run->out_len > AKC_CHAIN_OUTPUT_MAX;
        }
        if (n > 0 && fds[1].revents != 0) {
            drain(err_pipe[0], &err_open, run->err, &run->err_len, sizeof(run->err));
        }
    }
    status = reap(pid, deadline, out_open || err_open || too_much);
    log_stderr(name, run->err, run->err_len);
    if (too_much) {
        eic_log(LOG_WARNING, "chain_command %s: printed more than %d bytes; killed, nothing of it used", name,
                AKC_CHAIN_OUTPUT_MAX);
        goto done;
    }
    if (status == -1) {
        eic_log(LOG_WARNING, "chain_command %s: still running at the deadline (deadline_ms); killed, nothing of it "
                "used", name);
        ret = ETIMEDOUT;
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        eic_log(LOG_WARNING, "chain_command %s: %s %d; nothing of it used", name,
                WIFEXITED(status) ? "exit status" : "killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        goto done;
    }
    /* Only whole lines: a cut last line must not be read by sshd as a key. */
    last_nl = memrchr(run->out, '\n', run->out_len);
    whole = last_nl == NULL ? 0 : (size_t)(last_nl - run->out) + 1;
    if (whole < run->out_len) {
        eic_log(LOG_NOTICE, "chain_command %s: %zu bytes after the last newline dropped", name, run->out_len - whole);
    }
    if (write_all(out_fd, run->out, whole) != 0) {
        eic_log(LOG_ERR, "chain_command %s: cannot pass its keys on: %s", name, strerror(errno));
        goto done;
    }
    eic_log(LOG_INFO, "chain_command %s: exit status 0, %zu bytes of keys passed on", name, whole);
    ret = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0) {
            close(out_pipe[i]);
        }
        if (err_pipe[i] >= 0) {
            close(err_pipe[i]);
        }
    }
    return ret;
}

size_t akc_run_chain(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline,
                     int out_fd)
{
    struct chain_run *run;
    size_t n_ok = 0;

    if (cfg->n_chain_commands == 0) {
        return 0;
    }
    run = calloc(1, sizeof(*run));
    if (run == NULL) {
        eic_log(LOG_ERR, "chain_command: out of memory; none run");
        return 0;
    }
    for (size_t i = 0; i < cfg->n_chain_commands; i++) {
        if (make_argv(cfg->chain_commands[i], user, fingerprint != NULL ? fingerprint : "", run) != 0) {
            continue;
        }
        if (check_safe(run->argv[0]) == 0 && run_one(run, deadline, out_fd) == 0) {
            n_ok++;
        }
        free_argv(run);
    }
    free(run);
    return n_ok;
}
