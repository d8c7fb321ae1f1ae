/* Unit tests for the IMDS client (lib/imds/eic_imds.c), against the real emulator.
 *
 * Each case starts its own emulator/eic-emulator (fork + exec, path from EIC_EMULATOR_PATH) on
 * 127.0.0.1 with a free port, with the fault options the case needs, waits for its ready file and
 * kills it afterwards. All emulators of one run share one PKI state directory, so the signer
 * keys are made once.
 *
 * Token reuse is observed in two independent ways: the client's own counters
 * (eic_imds_stats()) and the emulator's log file, which records every request it serves. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_buf.h"
#include "eic_imds.h"
#include "eic_time.h"
#include "unit_support.h"

#define READY_TIMEOUT_MS 60000 /* the first start makes the PKI (RSA keys) */
#define SLACK_MS 100           /* allowed overshoot past a deadline */
#define INSTANCE_ID_PATH "/latest/meta-data/instance-id"

/* The directory shared by the whole run (group setup/teardown). */
static char top_dir[] = "/tmp/eic-test-imds.XXXXXX";

struct emu {
    pid_t pid;
    char dir[256];        /* per-emulator files: ready, log, stdout */
    char addr[96];        /* 127.0.0.1:PORT, from the ready file */
    char url[128];        /* http://ADDR */
    char log[512];
};

static int run_counter;

/* Every emulator still running, so that a case that fails half-way (cmocka longjmps out of it)
 * does not leave one behind: the per-case teardown stops them. */
static pid_t running[8];

static void track(pid_t pid, pid_t replace)
{
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
        if (running[i] == replace) {
            running[i] = pid;
            return;
        }
    }
}

static int stop_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
        if (running[i] > 0) {
            kill(running[i], SIGTERM);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Start an emulator. listen: "127.0.0.1:0" or a fixed address; state: the PKI directory (NULL:
 * the shared one); then NULL-terminated extra arguments (fault options). */
static void emu_start(struct emu *emu, const char *listen, const char *state, ...)
{
    const char *argv[64];
    char ready[PATH_MAX + 16];
    char out[PATH_MAX + 16];
    char shared_state[PATH_MAX];
    size_t argc = 0;
    uint64_t until;
    va_list ap;

    memset(emu, 0, sizeof(*emu));
    snprintf(emu->dir, sizeof(emu->dir), "%s/emu%d", top_dir, ++run_counter);
    assert_int_equal(mkdir(emu->dir, 0700), 0);
    snprintf(ready, sizeof(ready), "%s/ready", emu->dir);
    snprintf(emu->log, sizeof(emu->log), "%s/emulator.log", emu->dir);
    snprintf(out, sizeof(out), "%s/stdout", emu->dir);
    snprintf(shared_state, sizeof(shared_state), "%s/state", top_dir);

    argv[argc++] = EIC_EMULATOR_PATH;
    argv[argc++] = "--listen";
    argv[argc++] = listen;
    argv[argc++] = "--ready-file";
    argv[argc++] = ready;
    argv[argc++] = "--state-dir";
    argv[argc++] = state != NULL ? state : shared_state;
    argv[argc++] = "--log-file";
    argv[argc++] = emu->log;
    va_start(ap, state);
    for (const char *arg = va_arg(ap, const char *); arg != NULL; arg = va_arg(ap, const char *)) {
        assert_true(argc < sizeof(argv) / sizeof(argv[0]) - 1);
        argv[argc++] = arg;
    }
    va_end(ap);
    argv[argc] = NULL;

    emu->pid = fork();
    assert_true(emu->pid >= 0);
    if (emu->pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    track(emu->pid, 0);

    until = eic_monotonic_ms() + READY_TIMEOUT_MS;
    while (eic_monotonic_ms() < until) {
        FILE *f = fopen(ready, "re");
        int status;

        if (f != NULL) {
            char line[96];
            bool got = fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') != NULL;

            fclose(f);
            if (got) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(emu->addr, sizeof(emu->addr), "%s", line);
                snprintf(emu->url, sizeof(emu->url), "http://%s", emu->addr);
                return;
            }
        }
        if (waitpid(emu->pid, &status, WNOHANG) == emu->pid) {
            char first[256] = "";
            FILE *o = fopen(out, "re");

            if (o != NULL) {
                if (fgets(first, sizeof(first), o) == NULL) {
                    first[0] = '\0';
                }
                fclose(o);
            }
            first[strcspn(first, "\n")] = '\0';
            track(0, emu->pid);
            emu->pid = 0;
            fail_msg("%s exited before it was ready (status 0x%x: %s); see %s", EIC_EMULATOR_PATH, status, first, out);
        }
        sleep_ms(20);
    }
    fail_msg("emulator not ready after %d ms; see %s", READY_TIMEOUT_MS, out);
}

static void emu_stop(struct emu *emu)
{
    if (emu->pid > 0) {
        kill(emu->pid, SIGTERM);
        waitpid(emu->pid, NULL, 0);
        track(0, emu->pid);
        emu->pid = 0;
    }
}

/* How many lines of the emulator's log contain both needles (NULL: not checked). */
static int log_count(const struct emu *emu, const char *needle1, const char *needle2)
{
    char line[4096];
    int count = 0;
    FILE *f = fopen(emu->log, "re");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, needle1) != NULL && (needle2 == NULL || strstr(line, needle2) != NULL)) {
            count++;
        }
    }
    fclose(f);
    return count;
}

/* The client address ("127.0.0.1:PORT") of every request line of the emulator's log
 * ("... http: REMOTE METHOD PATH -> STATUS") must be the same: one TCP connection served them all. */
static void assert_one_connection(const struct emu *emu, int expected_requests)
{
    char line[4096];
    char first[64] = "";
    int count = 0;
    FILE *f = fopen(emu->log, "re");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, " http: ");
        char remote[64];
        size_t len;

        if (p == NULL || strstr(line, " -> ") == NULL) {
            continue;
        }
        p += strlen(" http: ");
        len = strcspn(p, " ");
        assert_true(len > 0 && len < sizeof(remote));
        memcpy(remote, p, len);
        remote[len] = '\0';
        if (count++ == 0) {
            memcpy(first, remote, sizeof(first));
        } else if (strcmp(first, remote) != 0) {
            fclose(f);
            fail_msg("request %d came from %s, the first from %s: connection not reused", count, remote, first);
        }
    }
    fclose(f);
    assert_int_equal(count, expected_requests);
}

static struct eic_imds *client(const char *url, long timeout_ms, long ttl, size_t max_response)
{
    struct eic_imds_options opts = {url, timeout_ms, ttl, max_response, NULL};
    struct eic_imds *imds = NULL;

    assert_int_equal(eic_imds_new(&opts, &imds), 0);
    assert_non_null(imds);
    return imds;
}

/* GET path with a deadline ms from now; *elapsed gets the time it took. */
static int timed_get(struct eic_imds *imds, const char *path, long deadline_in_ms, struct eic_buf *out,
                     uint64_t *elapsed)
{
    uint64_t start = eic_monotonic_ms();
    int ret = eic_imds_get(imds, path, start + (uint64_t)deadline_in_ms, out);

    *elapsed = eic_monotonic_ms() - start;
    return ret;
}

static void assert_instance_id(const char *text)
{
    regex_t re;

    assert_int_equal(regcomp(&re, "^i-[0-9a-f]{8,32}$", REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, text, 0, NULL, 0) != 0) {
        regfree(&re);
        fail_msg("not an instance id: '%s'", text);
    }
    regfree(&re);
}

/* ---- group setup ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
    char path[PATH_MAX];

    (void)state;
    if (access(EIC_EMULATOR_PATH, X_OK) != 0) {
        fprintf(stderr, "# %s: not built\n", EIC_EMULATOR_PATH);
        return -1;
    }
    if (mkdtemp(top_dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/state", top_dir);
    return mkdir(path, 0700);
}

static int group_teardown(void **state)
{
    stop_all(state);
    return unit_remove_tree(top_dir);
}

/* ---- cases without a server ----------------------------------------------------------- */

static void test_invalid_arguments(void **state)
{
    static const char *bad_endpoints[] = {
        "http://localhost:8169", "https://127.0.0.1", "http://127.0.0.1/", "http://127.0.0.1/latest",
        "127.0.0.1:8169", "http://fd00:ec2::254", "", "http://127.0.0.1:99999",
    };
    static const char *bad_paths[] = {
        "", "latest/meta-data/", "/latest/meta-data/../api/token", "/latest/meta-data/managed-ssh-keys/active-keys/..",
        "/latest/./meta-data", "/latest/meta-data/instance-id?x=1", "/latest/meta-data/instance-id#x",
        "/latest/meta-data/a b", "/latest/meta-data/a\r\nX-Injected: 1", "/latest/meta-data/\x7f",
    };
    struct eic_imds_options opts = {"http://127.0.0.1:9", 100, 60, 1024, NULL};
    struct eic_imds *imds = (struct eic_imds *)&opts; /* must be reset to NULL on failure */
    struct eic_buf out;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++) {
        opts.endpoint = bad_endpoints[i];
        if (eic_imds_new(&opts, &imds) != EINVAL) {
            fail_msg("endpoint accepted: '%s'", bad_endpoints[i]);
        }
        assert_null(imds);
    }
    /* Discovery (endpoint NULL) over a list with an endpoint that is not http://IP-literal. */
    opts.endpoint = NULL;
    opts.discover = (const char *const[]){"http://127.0.0.1:9", "http://localhost", NULL};
    assert_int_equal(eic_imds_new(&opts, &imds), EINVAL);
    opts.discover = NULL;
    opts.endpoint = "http://127.0.0.1:9";
    opts.token_ttl = 21601;
    assert_int_equal(eic_imds_new(&opts, &imds), EINVAL);
    opts.token_ttl = -1;
    assert_int_equal(eic_imds_new(&opts, &imds), EINVAL);
    opts.token_ttl = 60;
    opts.request_timeout_ms = -5;
    assert_int_equal(eic_imds_new(&opts, &imds), EINVAL);

    /* Bad paths are refused before anything is sent (port 9 has no server: a request would
     * give ECONNREFUSED, not EINVAL). */
    imds = client("http://[::1]:9", 100, 60, 1024);
    eic_buf_init(&out, 4096);
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        if (eic_imds_get(imds, bad_paths[i], eic_monotonic_ms() + 1000, &out) != EINVAL) {
            fail_msg("path accepted: '%s'", bad_paths[i]);
        }
    }
    assert_int_equal(eic_imds_get(imds, NULL, eic_monotonic_ms() + 1000, &out), EINVAL);
    eic_imds_free(imds);
    eic_imds_free(NULL);
    eic_buf_free(&out);
}

/* A deadline already in the past: ETIMEDOUT at once, nothing sent. */
static void test_deadline_passed(void **state)
{
    struct eic_imds *imds = client("http://127.0.0.1:9", 1000, 60, 0);
    unsigned long fetches;
    unsigned long requests;
    struct eic_buf out;

    (void)state;
    eic_buf_init(&out, 4096);
    assert_int_equal(eic_imds_get(imds, INSTANCE_ID_PATH, eic_monotonic_ms() - 1, &out), ETIMEDOUT);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(requests, 0);
    eic_imds_free(imds);
    eic_buf_free(&out);
}

/* A port on 127.0.0.1 that was free a moment ago and is now closed again. */
static void closed_port_url(char *url, size_t len)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sin_len = sizeof(sin);
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sin_len), 0);
    close(fd);
    snprintf(url, len, "http://127.0.0.1:%u", ntohs(sin.sin_port));
}

/* Nothing listens on the port: ECONNREFUSED, quickly. */
static void test_connection_refused(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    char url[64];
    uint64_t elapsed;

    (void)state;
    closed_port_url(url, sizeof(url));
    imds = client(url, 1000, 60, 0);
    eic_buf_init(&out, 4096);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 1000, &out, &elapsed), ECONNREFUSED);
    assert_true(elapsed < 200);
    assert_int_equal(out.len, 0);
    assert_string_equal(eic_imds_strerror(ECONNREFUSED), "connection refused");
    eic_imds_free(imds);
    eic_buf_free(&out);
}

/* An IMDS that leaves the first GET unanswered (as an overloaded host may, from the client's view)
 * and answers everything else: a forked server, one connection at a time. Returns its pid; *url
 * gets its address. */
static pid_t start_stalling_server(char *url, size_t url_len)
{
    static const char token_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nTOKEN";
    static const char id_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\ni-0123456789abcdef0";
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    pid_t pid;
    int lfd;

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    snprintf(url, url_len, "http://127.0.0.1:%u", ntohs(sin.sin_port));
    pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(lfd);
        return pid;
    }
    for (bool stalled = false;;) {
        int fd = accept(lfd, NULL, NULL);
        char req[4096];
        size_t have = 0;

        if (fd < 0) {
            _exit(1);
        }
        for (;;) { /* requests on this connection (curl keeps it alive) */
            ssize_t n = read(fd, req + have, sizeof(req) - 1 - have);
            char *end;

            if (n <= 0) {
                break;
            }
            have += (size_t)n;
            req[have] = '\0';
            if ((end = strstr(req, "\r\n\r\n")) == NULL) {
                continue;
            }
            if (strncmp(req, "GET ", 4) == 0 && !stalled) {
                stalled = true;
                break; /* never answer this one; the fd stays open until we exit */
            }
            if (strncmp(req, "PUT ", 4) == 0) {
                (void)!write(fd, token_reply, sizeof(token_reply) - 1);
            } else {
                (void)!write(fd, id_reply, sizeof(id_reply) - 1);
            }
            have -= (size_t)(end + 4 - req);
            memmove(req, end + 4, have);
        }
        if (!stalled) {
            close(fd);
        }
    }
}

/* A request that misses its own timeout is tried once more while the deadline leaves room for a
 * whole timeout; never when the deadline is one timeout (nss_eic's case). */
static void test_timeout_retried_once(void **state)
{
    unsigned long fetches, requests, retries;
    struct eic_imds *imds;
    struct eic_buf out;
    char url[64];
    uint64_t elapsed;
    pid_t server;

    (void)state;
    eic_buf_init(&out, 4096);

    server = start_stalling_server(url, sizeof(url));
    imds = client(url, 300, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_int_equal(out.len, 19);
    assert_memory_equal(out.data, "i-0123456789abcdef0", 19);
    eic_imds_stats(imds, &fetches, &requests, &retries);
    assert_int_equal(fetches, 1);
    assert_int_equal(requests, 3); /* PUT, GET (no answer), GET again */
    assert_int_equal(retries, 1);
    eic_imds_free(imds);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);

    server = start_stalling_server(url, sizeof(url));
    imds = client(url, 300, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 300, &out, &elapsed), ETIMEDOUT);
    eic_imds_stats(imds, &fetches, &requests, &retries);
    assert_int_equal(requests, 2); /* PUT, GET: no time left for another */
    assert_int_equal(retries, 0);
    eic_imds_free(imds);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);

    eic_buf_free(&out);
}

/* ---- against the emulator ------------------------------------------------------------- */

static void test_instance_id_and_token_reuse(void **state)
{
    struct eic_imds *imds;
    struct eic_imds *other;
    unsigned long fetches;
    unsigned long requests;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, NULL);
    imds = client(emu.url, 1000, 21600, 0);
    eic_buf_init(&out, 4096);

    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 1);
    assert_int_equal(requests, 2);

    /* Second and third GETs: the token is reused, no PUT. */
    assert_int_equal(timed_get(imds, "/latest/meta-data/placement/availability-zone", 2000, &out, &elapsed), 0);
    assert_true(out.len > 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 1);
    assert_int_equal(requests, 4);
    /* ... and the server agrees: one token PUT, three GETs. */
    assert_int_equal(log_count(&emu, "PUT", "/latest/api/token"), 1);
    assert_int_equal(log_count(&emu, "GET", "/latest/meta-data/"), 3);
    /* ... over one TCP connection (the easy handle is reused). */
    assert_one_connection(&emu, 4);

    /* Another handle has its own token. */
    other = client(emu.url, 1000, 21600, 0);
    assert_int_equal(timed_get(other, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_int_equal(log_count(&emu, "PUT", "/latest/api/token"), 2);

    eic_imds_free(other);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* Discovery (endpoint NULL): an endpoint that refuses is skipped, the first that answers is used,
 * and a later handle of the process over the same list starts with it. None answering: the
 * connection error, quickly, and nothing kept. */
static void test_discovery(void **state)
{
    static char refused[64];
    static char answers[128];
    static const char *const list[] = {refused, answers, NULL};
    static const char *const dead[] = {refused, NULL};
    struct eic_imds_options opts = {NULL, 1000, 60, 0, list};
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    closed_port_url(refused, sizeof(refused));
    emu_start(&emu, "127.0.0.1:0", NULL, NULL);
    snprintf(answers, sizeof(answers), "%s", emu.url);
    eic_buf_init(&out, 4096);

    opts.discover = dead;
    assert_int_equal(eic_imds_new(&opts, &imds), 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), ECONNREFUSED);
    assert_true(elapsed < 200);
    assert_null(eic_imds_endpoint(imds));
    assert_non_null(strstr(eic_imds_last_error(imds), "no IMDS answers"));
    eic_imds_free(imds);

    opts.discover = list;
    assert_int_equal(eic_imds_new(&opts, &imds), 0);
    assert_null(eic_imds_endpoint(imds));
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    assert_string_equal(eic_imds_endpoint(imds), emu.url);
    eic_imds_free(imds);

    assert_int_equal(eic_imds_new(&opts, &imds), 0);
    assert_string_equal(eic_imds_endpoint(imds), emu.url);
    eic_imds_free(imds);

    eic_buf_free(&out);
    emu_stop(&emu);
}

/* A token with a 1 s TTL is reused for 0.9 s only (10% margin), then fetched again. */
static void test_token_expiry(void **state)
{
    struct eic_imds *imds;
    unsigned long fetches;
    unsigned long requests;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, NULL);
    imds = client(emu.url, 1000, 1, 0);
    eic_buf_init(&out, 4096);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 1);
    sleep_ms(950);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 2);
    assert_int_equal(log_count(&emu, "PUT", "/latest/api/token"), 2);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

static void test_not_found(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, NULL);
    imds = client(emu.url, 1000, 60, 0);
    eic_buf_init(&out, 4096);
    assert_int_equal(timed_get(imds, "/latest/meta-data/no-such-entry", 2000, &out, &elapsed), ENOENT);
    assert_int_equal(out.len, 0);
    assert_int_equal(timed_get(imds, "/latest/meta-data/managed-ssh-keys/active-keys/nobody-here/", 2000, &out,
                               &elapsed),
                     ENOENT);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* A hanging GET: ETIMEDOUT at the deadline when it comes first, at the per-request timeout when
 * that comes first, and never later than either + SLACK_MS. */
static void test_hang_get(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", INSTANCE_ID_PATH "=hang", NULL);
    eic_buf_init(&out, 4096);

    imds = client(emu.url, 5000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 500, &out, &elapsed), ETIMEDOUT);
    print_message("# hanging GET, deadline 500 ms: %llu ms\n", (unsigned long long)elapsed);
    assert_true(elapsed >= 450 && elapsed <= 500 + SLACK_MS);
    assert_int_equal(out.len, 0);
    eic_imds_free(imds);

    imds = client(emu.url, 300, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 5000, &out, &elapsed), ETIMEDOUT);
    print_message("# hanging GET, request timeout 300 ms: %llu ms\n", (unsigned long long)elapsed);
    /* Tried twice (the deadline leaves room), never more. */
    assert_true(elapsed >= 550 && elapsed <= 600 + SLACK_MS);
    /* Another path on the same handle still works afterwards. */
    assert_int_equal(timed_get(imds, "/latest/meta-data/placement/availability-zone", 2000, &out, &elapsed), 0);
    eic_imds_free(imds);

    eic_buf_free(&out);
    emu_stop(&emu);
}

/* A hanging token PUT counts against the same deadline. */
static void test_hang_token(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/api/token=hang", NULL);
    eic_buf_init(&out, 4096);
    imds = client(emu.url, 5000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 400, &out, &elapsed), ETIMEDOUT);
    print_message("# hanging token PUT, deadline 400 ms: %llu ms\n", (unsigned long long)elapsed);
    assert_true(elapsed >= 350 && elapsed <= 400 + SLACK_MS);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* Delays: under the deadline is fine; the token delay and the GET delay add up against one
 * deadline. */
static void test_delay(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", INSTANCE_ID_PATH "=delay:200", "--fault",
              "/latest/api/token=delay:200", NULL);
    eic_buf_init(&out, 4096);

    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 1000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    assert_true(elapsed >= 400);
    eic_imds_free(imds);

    /* 2 x 200 ms does not fit in 300 ms, although each request alone would. */
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 300, &out, &elapsed), ETIMEDOUT);
    assert_true(elapsed <= 300 + SLACK_MS);
    eic_imds_free(imds);

    eic_buf_free(&out);
    emu_stop(&emu);
}

static void test_error_statuses(void **state)
{
    static const char *paths[] = {
        "/latest/meta-data/placement/availability-zone", "/latest/meta-data/services/domain",
        "/latest/meta-data/managed-ssh-keys/signer-cert/", INSTANCE_ID_PATH,
    };
    /* what eic_imds_last_error() says, for the log line */
    static const char *said[] = {"HTTP 500", "HTTP 503", "HTTP 429", "HTTP 302"};
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/meta-data/placement/availability-zone=status:500",
              "--fault", "/latest/meta-data/services/domain=status:503", "--fault",
              "/latest/meta-data/managed-ssh-keys/signer-cert/=status:429", "--fault", INSTANCE_ID_PATH "=status:302",
              NULL);
    eic_buf_init(&out, 1024 * 1024);
    imds = client(emu.url, 1000, 60, 0);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int ret = timed_get(imds, paths[i], 2000, &out, &elapsed);

        if (ret != EPROTO) {
            fail_msg("%s: %d (%s), expected EPROTO", paths[i], ret, eic_imds_strerror(ret));
        }
        assert_string_equal(eic_imds_last_error(imds), said[i]);
        assert_int_equal(out.len, 0);
    }
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* Failures of the token PUT are never reported as ENOENT (callers read that as "no keys"). */
static void test_token_errors(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/api/token=status:404", NULL);
    eic_buf_init(&out, 4096);
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EPROTO);
    assert_string_equal(eic_imds_last_error(imds), "token PUT: HTTP 404");
    eic_imds_free(imds);
    emu_stop(&emu);

    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/api/token=status:403", NULL);
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EACCES);
    assert_string_equal(eic_imds_last_error(imds), "token PUT: HTTP 403");
    eic_imds_free(imds);
    emu_stop(&emu);

    /* binary garbage is not a token: it never goes back into a header */
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/api/token=garbage", NULL);
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EPROTO);
    assert_non_null(strstr(eic_imds_last_error(imds), "token PUT: the answer is not a token"));
    eic_imds_free(imds);
    emu_stop(&emu);

    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/api/token=truncate", NULL);
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EIO);
    eic_imds_free(imds);
    emu_stop(&emu);
    eic_buf_free(&out);
}

/* Bodies over the cap: EMSGSIZE, whether the cap is the handle's or the buffer's. */
static void test_oversize(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct eic_buf small;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", INSTANCE_ID_PATH "=oversize", "--fault",
              "/latest/meta-data/placement/region=oversize-chunked:10485760", NULL);
    eic_buf_init(&out, 64 * 1024 * 1024);
    eic_buf_init(&small, 16);

    imds = client(emu.url, 2000, 60, 1024 * 1024);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 3000, &out, &elapsed), EMSGSIZE);
    assert_int_equal(out.len, 0);
    assert_string_equal(eic_imds_last_error(imds), "body over 1048576 bytes");
    /* Without Content-Length (chunked) the cap is enforced while counting. */
    assert_int_equal(timed_get(imds, "/latest/meta-data/placement/region", 3000, &out, &elapsed), EMSGSIZE);
    assert_int_equal(out.len, 0);
    assert_string_equal(eic_imds_strerror(EMSGSIZE), "response larger than the size limit");
    /* The signer chain is a few KiB: over a 1 KiB handle cap, and over a 16-byte buffer. */
    eic_imds_free(imds);
    imds = client(emu.url, 2000, 60, 1024);
    assert_int_equal(timed_get(imds, "/latest/meta-data/managed-ssh-keys/signer-cert/", 3000, &out, &elapsed),
                     EMSGSIZE);
    eic_imds_free(imds);
    imds = client(emu.url, 2000, 60, 0);
    assert_int_equal(timed_get(imds, "/latest/meta-data/managed-ssh-keys/signer-cert/", 3000, &small, &elapsed),
                     EMSGSIZE);
    assert_int_equal(small.len, 0);
    assert_int_equal(timed_get(imds, "/latest/meta-data/managed-ssh-keys/signer-cert/", 3000, &out, &elapsed), 0);
    assert_non_null(strstr(out.data, "-----BEGIN CERTIFICATE-----"));
    eic_imds_free(imds);

    eic_buf_free(&small);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* A body cut short (Content-Length promised more): an error, never a shorter success. */
static void test_truncated(void **state)
{
    struct eic_imds *imds;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", "/latest/meta-data/managed-ssh-keys/signer-cert/=truncate",
              NULL);
    eic_buf_init(&out, 1024 * 1024);
    imds = client(emu.url, 1000, 60, 0);
    assert_int_equal(timed_get(imds, "/latest/meta-data/managed-ssh-keys/signer-cert/", 2000, &out, &elapsed), EIO);
    assert_int_equal(out.len, 0);
    /* The connection was dropped; the next request opens a new one. */
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* A cached token the server no longer accepts (the emulator was restarted on the same port
 * with a fresh state directory, so none of its old tokens are valid): 401, one new token, one
 * retry, success. */
static void test_401_retry(void **state)
{
    struct eic_imds *imds;
    unsigned long fetches;
    unsigned long requests;
    struct eic_buf out;
    struct emu emu;
    char listen[sizeof(emu.addr)];
    char fresh_state[PATH_MAX];
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, NULL);
    imds = client(emu.url, 1000, 21600, 0);
    eic_buf_init(&out, 4096);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), 0);
    memcpy(listen, emu.addr, sizeof(listen));
    emu_stop(&emu);

    snprintf(fresh_state, sizeof(fresh_state), "%s/state-401", top_dir);
    assert_int_equal(mkdir(fresh_state, 0700), 0);
    emu_start(&emu, listen, fresh_state, NULL);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 5000, &out, &elapsed), 0);
    assert_instance_id(out.data);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 2);
    assert_int_equal(requests, 5); /* PUT GET | GET(401) PUT GET */
    assert_int_equal(log_count(&emu, "PUT", "/latest/api/token"), 1);
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

/* 401 with a fresh token: EACCES, and only one retry when the token was a cached one. */
static void test_401_always(void **state)
{
    struct eic_imds *imds;
    unsigned long fetches;
    unsigned long requests;
    struct eic_buf out;
    struct emu emu;
    uint64_t elapsed;

    (void)state;
    emu_start(&emu, "127.0.0.1:0", NULL, "--fault", INSTANCE_ID_PATH "=status:401", NULL);
    eic_buf_init(&out, 4096);
    imds = client(emu.url, 1000, 21600, 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EACCES);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 1);
    assert_int_equal(requests, 2);
    eic_imds_free(imds);

    imds = client(emu.url, 1000, 21600, 0);
    assert_int_equal(timed_get(imds, "/latest/meta-data/services/domain", 2000, &out, &elapsed), 0);
    assert_int_equal(timed_get(imds, INSTANCE_ID_PATH, 2000, &out, &elapsed), EACCES);
    eic_imds_stats(imds, &fetches, &requests, NULL);
    assert_int_equal(fetches, 2);
    assert_int_equal(requests, 5); /* PUT GET | GET(401) PUT GET(401) */
    eic_imds_free(imds);
    eic_buf_free(&out);
    emu_stop(&emu);
}

#define EMU_TEST(fn) cmocka_unit_test_teardown(fn, stop_all)

int main(void)
{
    /* Two groups: the first needs no server, so it runs even when the emulator is missing. */
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_deadline_passed),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_timeout_retried_once),
    };
    const struct CMUnitTest with_emulator[] = {
        EMU_TEST(test_instance_id_and_token_reuse),
        EMU_TEST(test_discovery),
        EMU_TEST(test_token_expiry),
        EMU_TEST(test_not_found),
        EMU_TEST(test_hang_get),
        EMU_TEST(test_hang_token),
        EMU_TEST(test_delay),
        EMU_TEST(test_error_statuses),
        EMU_TEST(test_token_errors),
        EMU_TEST(test_oversize),
        EMU_TEST(test_truncated),
        EMU_TEST(test_401_retry),
        EMU_TEST(test_401_always),
    };
    int failed = cmocka_run_group_tests_name("imds offline", offline, NULL, NULL);

    failed += cmocka_run_group_tests_name("imds with emulator", with_emulator, group_setup, group_teardown);
    return failed != 0;
}
