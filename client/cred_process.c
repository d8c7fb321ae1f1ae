/* credential_process (botocore's ProcessProvider, METHOD "custom-process"): the profile's
 * command line is split into words the way Python's shlex.split does (POSIX rules: quotes,
 * backslashes; no variables, globs or other shell syntax) and run without a shell, with the
 * PATH looked up. Its standard output is JSON:
 *   {"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., "SessionToken": ...,
 *    "Expiration": "ISO 8601"}
 * SessionToken and Expiration are optional. Standard input and error stay the terminal's, so that
 * a helper (aws-vault, granted) can prompt for an MFA code; a non-zero exit is an error. */
#include "cred_source.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "eic_buf.h"
#include "eic_log.h"
#include "eic_util.h"

#define METHOD "custom-process"
#define MAX_OUTPUT (64 * 1024) /* a credentials document is well under 4 KiB */
#define MAX_WORDS 256
#define MAX_COMMAND 8192

/* Split command into words in buf (the words NUL-separated) and argv. Returns 0, EINVAL (an
 * unterminated quote or escape: what shlex refuses), E2BIG or ENOMEM. */
static int split_words(const char *command, char *buf, char **argv, size_t max_words)
{
    size_t n = 0;
    char *w = buf;
    const char *p = command;

    for (;;) {
        int in_word = 0;
        char quote = 0;

        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        if (n + 1 >= max_words) {
            return E2BIG;
        }
        argv[n++] = w;
        for (; *p != '\0'; p++) {
            if (quote == '\'') {
                if (*p == '\'') {
                    quote = 0;
                } else {
                    *w++ = *p;
                }
            } else if (quote == '"') {
                /* Inside double quotes a backslash escapes only '"' and '\' (shlex's rule). */
                if (*p == '"') {
                    quote = 0;
                } else if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                    *w++ = *++p;
                } else {
                    *w++ = *p;
                }
            } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
                break;
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (*p == '\\') {
                if (p[1] == '\0') {
                    return EINVAL;
                }
                *w++ = *++p;
            } else {
                *w++ = *p;
            }
            in_word = 1;
        }
        if (quote != 0) {
            return EINVAL;
        }
        (void)in_word;
        *w++ = '\0';
    }
    argv[n] = NULL;
    return n == 0 ? EINVAL : 0;
}

/* Run argv, its standard output into out. Returns 0 with *status the wait status, or errno. */
static int run(char *const *argv, struct eic_buf *out, int *status, char *err, size_t err_len)
{
    int fds[2] = {-1, -1};
    int exec_err[2] = {-1, -1};
    char chunk[4096];
    pid_t pid;
    int child_errno = 0;
    ssize_t n;
    int ret = 0;

    if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(exec_err, O_CLOEXEC) != 0) {
        ret = errno;
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": pipe: %s", strerror(ret));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        ret = errno;
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": fork: %s", strerror(ret));
        goto done;
    }
    if (pid == 0) {
        /* The child: stdout to the pipe; exec's failure reported through exec_err (closed
         * on a successful exec by O_CLOEXEC). */
        if (dup2(fds[1], STDOUT_FILENO) >= 0) {
            signal(SIGPIPE, SIG_DFL);
            execvp(argv[0], argv);
        }
        child_errno = errno;
        (void)!write(exec_err[1], &child_errno, sizeof(child_errno));
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    close(exec_err[1]);
    exec_err[1] = -1;
    while ((n = eic_read_retry(fds[0], chunk, sizeof(chunk))) > 0) {
        if (ret == 0 && eic_buf_append(out, chunk, (size_t)n) != 0) {
            ret = EMSGSIZE; /* keep reading: the child must not block on a full pipe */
        }
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            ret = errno;
            break;
        }
    }
    if (eic_read_retry(exec_err[0], &child_errno, sizeof(child_errno)) == (ssize_t)sizeof(child_errno)) {
        ret = child_errno;
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": cannot run %.256s: %s", argv[0],
                 strerror(child_errno));
    } else if (ret == EMSGSIZE) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": more than %d bytes of output",
                 MAX_OUTPUT);
    }
done:
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
        if (exec_err[i] >= 0) {
            close(exec_err[i]);
        }
    }
    return ret;
}

int eic_cred_process(const char *command, struct eic_credentials *out, char *err, size_t err_len)
{
    size_t len = strlen(command);
    char *words = NULL;
    char *argv[MAX_WORDS];
    struct eic_buf output;
    json_object *doc = NULL, *version = NULL;
    json_tokener *tok = NULL;
    int status = 0;
    int ret;

    eic_buf_init(&output, MAX_OUTPUT);
    if (len > MAX_COMMAND) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": the command is longer than %d bytes",
                 MAX_COMMAND);
        ret = E2BIG;
        goto done;
    }
    words = malloc(len + 1);
    if (words == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = split_words(command, words, argv, MAX_WORDS);
    if (ret != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": %s", ret == E2BIG
                 ? "the command has too many words" : "the command is empty or has an unterminated quote or escape");
        goto done;
    }
    eic_log(LOG_DEBUG, "credentials: running credential_process %s", argv[0]);
    fflush(NULL); /* nothing buffered is written twice by the child */
    ret = run(argv, &output, &status, err, err_len);
    if (ret != 0) {
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": %.256s %s %d", argv[0],
                 WIFEXITED(status) ? "exited with status" : "was killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        ret = EIO;
        goto done;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        ret = ENOMEM;
        goto done;
    }
    doc = output.len > 0 ? json_tokener_parse_ex(tok, output.data, (int)output.len) : NULL;
    if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(doc, json_type_object)) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": the output is not a JSON object");
        ret = EINVAL;
        goto done;
    }
    if (!json_object_object_get_ex(doc, "Version", &version) || !json_object_is_type(version, json_type_int) ||
        json_object_get_int64(version) != 1) {
        snprintf(err, err_len, "Error when retrieving credentials from " METHOD ": Unsupported version '%.16s' for "
                 "credential process provider, supported versions: 1",
                 version ? json_object_get_string(version) : "<Version key not provided>");
        ret = EINVAL;
        goto done;
    }
    ret = eic_cred_from_json(doc, "SessionToken", 1, 1, METHOD, out, err, err_len);
done:
    eic_cred_json_free(doc);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    if (output.data != NULL) {
        OPENSSL_cleanse(output.data, output.len);
    }
    eic_buf_free(&output);
    free(words);
    return ret;
}
