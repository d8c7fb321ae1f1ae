/* IMDS response handling, end to end: eic_keys_fetch_verified (lib/imds/eic_keys.c) with the real
 * IMDS client (lib/imds/eic_imds.c, libcurl) against a loopback HTTP server in this process that
 * answers from the fuzz input: the token PUT, the metadata values and their validators
 * (lib/accounts/eic_metadata.c), the signer-ocsp/ listing and entries, the signer chain and the
 * records, judged at the fixtures' NOW against the fixture root.
 *
 * Input: sections, each "== PATH STATUS\n" then the body up to the next "\n== " (or the end).
 * STATUS is an HTTP status, or RAW: the body is then sent as the whole response, head included.
 * A path no section names answers 404. fuzz/make-corpus.sh writes the fixtures in this shape. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "eic_imds.h"
#include "eic_keys.h"
#include "eic_signer.h"
#include "eic_time.h"
#include "fuzz_common.h"

#define MAX_SECTIONS 32
/* Far above what a loopback answer takes, so that a starved machine does not change outcomes. */
#define DEADLINE_MS 30000

struct section {
    char path[256];
    int status;                 /* 0: RAW */
    const char *body;
    size_t body_len;
};

/* The answers of the input being run, in a copy of the input the harness owns: the server thread
 * answers each request under the lock, and may still be writing to a client that gave up when
 * the next input is loaded (which waits for the lock). */
static struct {
    pthread_mutex_t lock;
    char *copy;
    struct section sections[MAX_SECTIONS];
    size_t n;
} answers = {PTHREAD_MUTEX_INITIALIZER, NULL, {{{0}, 0, NULL, 0}}, 0};

static X509_STORE *anchors;
static long long fixture_now;
static char endpoint[64];

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0) {
            return; /* the client gave up: nothing to do */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Answer one request head (under the lock). Returns false when the connection must close: after
 * a RAW answer, which may be anything, or a head that does not parse. */
static bool answer(int fd, const char *head)
{
    char method[16];
    char path[256];
    const struct section *s = NULL;
    bool keep_open = true;

    if (sscanf(head, "%15s %255s", method, path) != 2) {
        return false;
    }
    pthread_mutex_lock(&answers.lock);
    for (size_t i = 0; i < answers.n; i++) {
        if (strcmp(answers.sections[i].path, path) == 0) {
            s = &answers.sections[i];
            break;
        }
    }
    if (s == NULL) {
        static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

        send_all(fd, not_found, strlen(not_found));
    } else if (s->status == 0) {
        send_all(fd, s->body, s->body_len);
        keep_open = false;
    } else {
        char status_line[128];

        snprintf(status_line, sizeof(status_line), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n",
                 s->status, s->body_len);
        send_all(fd, status_line, strlen(status_line));
        send_all(fd, s->body, s->body_len);
    }
    pthread_mutex_unlock(&answers.lock);
    return keep_open;
}

/* Requests of one connection (curl reuses it for a whole eic_keys_fetch_verified call, as it would
 * with IMDS), until the client closes it. Requests carry no body. */
static void serve(int fd)
{
    char buf[8192];
    size_t len = 0;

    for (;;) {
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        size_t used;
        ssize_t n;

        if (end != NULL) {
            *end = '\0';
            if (!answer(fd, buf)) {
                return;
            }
            used = (size_t)(end + 4 - buf);
            memmove(buf, buf + used, len - used);
            len -= used;
            continue;
        }
        if (len == sizeof(buf) - 1) {
            return;
        }
        n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0) {
            return;
        }
        len += (size_t)n;
    }
}

static void *server_main(void *arg)
{
    int listener = *(int *)arg;

    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        int one = 1;

        if (fd < 0) {
            continue;
        }
        /* Head and body go out in two sends: without this, Nagle's algorithm holds the body
         * back until the client's delayed ACK, 40 ms per request. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        serve(fd);
        close(fd);
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static int listener;
    struct sockaddr_in addr = {0};
    socklen_t addr_len = sizeof(addr);
    pthread_t thread;

    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    FUZZ_CHECK(eic_signer_load_anchors(FUZZ_DATA_DIR "/verify/pki/ca.pem", NULL, &anchors) == 0);
    fixture_now = fuzz_fixture_now();
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(listener >= 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(bind(listener, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    FUZZ_CHECK(listen(listener, 64) == 0);
    FUZZ_CHECK(getsockname(listener, (struct sockaddr *)&addr, &addr_len) == 0);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    FUZZ_CHECK(pthread_create(&thread, NULL, server_main, &listener) == 0);
    pthread_detach(thread);
    return 0;
}

/* Cut the input into sections (a header line that does not parse ends the previous body). */
static void load_answers(const uint8_t *input, size_t size)
{
    struct fuzz_part parts[MAX_SECTIONS + 1];
    size_t n_parts;
    const char *data;

    free(answers.copy);
    answers.copy = fuzz_cstring(input, size);
    data = answers.copy;
    answers.n = 0;
    if (size < 3 || memcmp(data, "== ", 3) != 0) {
        return;
    }
    n_parts = fuzz_split(data + 3, size - 3, "\n== ", parts, MAX_SECTIONS);
    for (size_t i = 0; i < n_parts; i++) {
        struct section *s = &answers.sections[answers.n];
        const char *nl = memchr(parts[i].data, '\n', parts[i].len);
        size_t head_len = nl ? (size_t)(nl - parts[i].data) : parts[i].len;
        char head[300];
        char status[16];

        if (head_len >= sizeof(head)) {
            continue;
        }
        memcpy(head, parts[i].data, head_len);
        head[head_len] = '\0';
        if (sscanf(head, "%255s %15s", s->path, status) != 2) {
            continue;
        }
        s->status = strcmp(status, "RAW") == 0 ? 0 : atoi(status);
        /* A 1xx answer on a kept-alive connection leaves the client waiting for the final one
         * until its deadline (30 s an input): RAW inputs, closed after, cover informational
         * answers. Other statuses outside 200..599 are not HTTP either. */
        if (s->status != 0 && (s->status < 200 || s->status > 599)) {
            continue;
        }
        s->body = nl ? nl + 1 : parts[i].data + head_len;
        s->body_len = parts[i].len - (size_t)(s->body - parts[i].data);
        answers.n++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eic_imds_options opts = {0};
    struct eic_keys_request req;
    struct eic_imds *imds = NULL;
    struct eic_record_verdict *verdicts = NULL;
    size_t n = 0;
    int ret;

    pthread_mutex_lock(&answers.lock);
    load_answers(data, size);
    pthread_mutex_unlock(&answers.lock);

    opts.endpoint = endpoint;
    opts.request_timeout_ms = DEADLINE_MS;
    opts.max_response = 64 * 1024;
    FUZZ_CHECK(eic_imds_new(&opts, &imds) == 0);
    req.user = "alice";
    req.fingerprint = NULL;
    req.anchors = anchors;
    req.now = fixture_now;
    req.deadline_ms = eic_monotonic_ms() + DEADLINE_MS;
    ret = eic_keys_fetch_verified(imds, &req, &verdicts, &n);
    /* eic_keys.h: errors never come with verdicts. */
    FUZZ_CHECK(ret == 0 || (verdicts == NULL && n == 0));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(verdicts[i].status != EIC_RECORD_ACCEPTED || verdicts[i].expires > fixture_now);
    }
    eic_keyrecords_free(verdicts, n);
    eic_imds_free(imds);
    return 0;
}
