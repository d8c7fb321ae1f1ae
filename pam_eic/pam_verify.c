#include "pam_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eic_time.h"

/* Its whole answer: a few "FP CALLER REQUEST" lines. More is not a key list. */
#define VERIFY_OUTPUT_MAX 16384

/* Copy the len bytes at src into dst[dst_len] ("-" means none); false when it does not fit. */
static bool take_word(const char *src, size_t len, char *dst, size_t dst_len)
{
    if (len == 1 && src[0] == '-') {
        len = 0;
    }
    if (len >= dst_len) {
        return false;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* The line of out for fingerprint, if any. */
static bool find_key(const char *out, const char *fingerprint, struct pam_eic_verified_key *key)
{
    size_t fp_len = strlen(fingerprint);

    for (const char *line = out; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        const char *caller = memchr(line, ' ', len);
        const char *request = caller != NULL ? memchr(caller + 1, ' ', len - (size_t)(caller + 1 - line)) : NULL;

        if (request != NULL && (size_t)(caller - line) == fp_len && memcmp(line, fingerprint, fp_len) == 0 &&
            take_word(line, fp_len, key->fingerprint, sizeof(key->fingerprint)) &&
            take_word(caller + 1, (size_t)(request - caller - 1), key->caller, sizeof(key->caller)) &&
            take_word(request + 1, len - (size_t)(request + 1 - line), key->request_id, sizeof(key->request_id))) {
            return true;
        }
        line += len + (line[len] == '\n');
    }
    return false;
}

/* Run argv[0] (absolute path) with argv, an empty environment and no stdin, killed at deadline_ms;
 * its output into out[VERIFY_OUTPUT_MAX + 1], NUL-terminated. 0 when it exited 0; ECHILD when it
 * failed (exit status not 0, or a signal); ETIMEDOUT, EMSGSIZE, or the error of starting it. */
static int run_verify(char *const argv[], uint64_t deadline_ms, char *out)
{
    char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    posix_spawn_file_actions_t actions;
    bool actions_ok = false;
    size_t got = 0;
    int pipe_fd[2] = {-1, -1};
    pid_t pid = -1;
    int status = 0;
    int ret;

    out[0] = '\0';
    if (pipe2(pipe_fd, O_CLOEXEC) != 0) {
        return errno;
    }
    ret = posix_spawn_file_actions_init(&actions);
    if (ret != 0) {
        goto done;
    }
    actions_ok = true;
    ret = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (ret == 0) {
        ret = posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDOUT_FILENO);
    }
    if (ret == 0) {
        ret = posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    /* Nothing else of the host's: sshd's connection and its other descriptors stay its own. */
    if (ret == 0) {
        ret = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    }
    if (ret == 0) {
        ret = posix_spawn(&pid, argv[0], &actions, NULL, argv, envp);
    }
    close(pipe_fd[1]);
    pipe_fd[1] = -1;
    if (ret != 0) {
        pid = -1;
        goto done;
    }
    /* Its output until it closes it, or the deadline: a hung child is killed, never waited for. */
    for (;;) {
        struct pollfd p = {.fd = pipe_fd[0], .events = POLLIN};
        uint64_t ms = eic_ms_left(deadline_ms);
        ssize_t n;

        if (ms == 0) {
            ret = ETIMEDOUT;
            goto done;
        }
        n = poll(&p, 1, ms > 1000 ? 1000 : (int)ms);
        if (n < 0 && errno != EINTR) {
            ret = errno;
            goto done;
        }
        if (n <= 0) {
            continue;
        }
        n = read(pipe_fd[0], out + got, VERIFY_OUTPUT_MAX - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        if (got == VERIFY_OUTPUT_MAX) {
            ret = EMSGSIZE;
            goto done;
        }
    }
    out[got] = '\0';
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            ret = errno;
            goto done;
        }
    }
    pid = -1;
    ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (actions_ok) {
        posix_spawn_file_actions_destroy(&actions);
    }
    if (pipe_fd[0] >= 0) {
        close(pipe_fd[0]);
    }
    if (pipe_fd[1] >= 0) {
        close(pipe_fd[1]);
    }
    return ret;
}

int pam_eic_verify_key(const char *program, const char *config, const char *user, const char *fingerprint,
                       uint64_t deadline_ms, bool *found, struct pam_eic_verified_key *key)
{
    char out[VERIFY_OUTPUT_MAX + 1];
    char left[32];
    char *const argv[] = {(char *)program, "-c", (char *)config, "-d", left, "-s", "--", (char *)user,
                          (char *)fingerprint, NULL};
    int ret;

    *found = false;
    memset(key, 0, sizeof(*key));
    snprintf(left, sizeof(left), "%llu", (unsigned long long)eic_ms_left(deadline_ms));
    ret = run_verify(argv, deadline_ms, out);
    if (ret == 0) {
        *found = find_key(out, fingerprint, key);
    }
    return ret;
}

int pam_eic_verify_account(const char *program, const char *config, const char *user, uint64_t deadline_ms)
{
    char out[VERIFY_OUTPUT_MAX + 1];
    char left[32];
    char *const argv[] = {(char *)program, "-c", (char *)config, "-d", left, "-a", "--", (char *)user, NULL};

    snprintf(left, sizeof(left), "%llu", (unsigned long long)eic_ms_left(deadline_ms));
    return run_verify(argv, deadline_ms, out);
}
