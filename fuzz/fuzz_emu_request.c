/* The emulator's request handling without sockets (emulator/emu_http.c's dispatch to the IMDS,
 * EC2 Query and push API handlers): SigV4 verification (emu_push_verify_sigv4), the JSON body of
 * SendSSHPublicKey, the form body of DescribeInstances, the IMDS paths.
 *
 * Input: "METHOD PATH[?QUERY]" line, "Name: value" header lines, an empty line, the body (bytes).
 * An input without an Authorization header is signed here, over all of its headers (a Host and a
 * fixed X-Amz-Date are added when missing), with the default world's alice keys, so the fuzzer
 * reaches the body parsers; an input with one is judged as sent (the SigV4 checks). The server
 * judges every request at a fixed time; each input starts from an empty record store. The IMDS
 * token table (4096 slots, wiped on free: too costly per input) lives for the whole run; its
 * tokens are random, so no input can depend on another's. */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eic_sigv4.h"
#include "emu_ec2.h"
#include "emu_http.h"
#include "emu_imds.h"
#include "emu_push.h"
#include "emu_server.h"
#include "emu_world.h"
#include "fuzz_common.h"

/* The botocore vectors' signing time (tests/data/sigv4/): their seeds pass the SigV4 checks as sent. */
#define FIXED_NOW 1732400000LL
#define MAX_HEADERS 40
#define ALICE_AK "AKIAEICDEMOALICE0001"
#define ALICE_SK "eic-demo-secret-alice"

static struct {
    char tmp[64];
    struct emu_world *world;
    struct emu_pki *pki;
    struct emu_tokens *tokens;
} fx;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    emu_push_cleanup();
    emu_tokens_free(fx.tokens);
    emu_pki_free(fx.pki);
    emu_world_free(fx.world);
    nftw(fx.tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct emu_pki_options opts = {0};
    char state_dir[128];

    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    snprintf(fx.tmp, sizeof(fx.tmp), "/tmp/eic-fuzz-emu.XXXXXX");
    FUZZ_CHECK(mkdtemp(fx.tmp) != NULL);
    snprintf(state_dir, sizeof(state_dir), "%s/state", fx.tmp);
    opts.state_dir = state_dir;
    opts.region = "us-east-1";
    opts.domain = "amazonaws.com";
    FUZZ_CHECK(emu_world_default(&fx.world) == 0);
    FUZZ_CHECK(emu_pki_load(&opts, &fx.pki) == 0);
    FUZZ_CHECK(emu_tokens_new(&fx.tokens) == 0);
    FUZZ_CHECK(emu_push_init() == 0);
    atexit(cleanup);
    return 0;
}

struct parsed {
    char *text;                 /* the input as a C string, cut in place */
    char *path;
    char *query;
    char *method;
    struct emu_header headers[MAX_HEADERS + 3];
    size_t n_headers;
    const char *body;
    size_t body_len;
    char amz_date[EIC_SIGV4_AMZ_DATE_LEN + 1];
    char *authorization;
};

static const char *find_header(const struct parsed *p, const char *name)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        if (strcasecmp(p->headers[i].name, name) == 0) {
            return p->headers[i].value;
        }
    }
    return NULL;
}

/* The head is text up to the first empty line (the body after it is kept as bytes). */
static void parse_input(const uint8_t *data, size_t size, struct parsed *p)
{
    const char *sep = memmem(data, size, "\n\n", 2);
    size_t head_len = sep ? (size_t)(sep - (const char *)data) : size;
    char *line;
    char *next;

    memset(p, 0, sizeof(*p));
    p->text = fuzz_cstring(data, head_len);
    if (sep != NULL) {
        p->body = sep + 2;
        p->body_len = size - head_len - 2;
    }
    next = strchr(p->text, '\n');
    if (next != NULL) {
        *next++ = '\0';
    }
    p->method = p->text;
    p->path = strchr(p->text, ' ');
    if (p->path != NULL) {
        *p->path++ = '\0';
    } else {
        p->path = "";
    }
    p->query = strchr(p->path, '?');
    if (p->query != NULL) {
        *p->query++ = '\0';
    } else {
        p->query = "";
    }
    while ((line = next) != NULL && p->n_headers < MAX_HEADERS) {
        char *colon;

        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        colon = strchr(line, ':');
        if (colon == NULL) {
            continue;
        }
        *colon++ = '\0';
        colon += strspn(colon, " ");
        p->headers[p->n_headers].name = line;
        p->headers[p->n_headers].value = colon;
        p->n_headers++;
    }
}

/* Sign as a client would (service by the request's shape, as the emulator dispatches). */
static void sign(struct parsed *p, const struct emu_request *req)
{
    struct eic_sigv4_header headers[MAX_HEADERS + 2];
    struct eic_sigv4_request sreq = {0};
    struct eic_sigv4_scope scope;
    const char *amz_date = find_header(p, "X-Amz-Date");

    if (find_header(p, "Host") == NULL) {
        p->headers[p->n_headers++] = (struct emu_header){"Host", "169.254.169.254"};
    }
    if (amz_date == NULL) {
        eic_sigv4_format_amz_date(FIXED_NOW, p->amz_date);
        p->headers[p->n_headers++] = (struct emu_header){"X-Amz-Date", p->amz_date};
        amz_date = p->amz_date;
    }
    for (size_t i = 0; i < p->n_headers; i++) {
        headers[i].name = p->headers[i].name;
        headers[i].value = p->headers[i].value;
    }
    sreq.method = p->method;
    sreq.path = p->path;
    sreq.query = p->query;
    sreq.headers = headers;
    sreq.n_headers = p->n_headers;
    sreq.body = p->body ? p->body : "";
    sreq.body_len = p->body_len;
    scope.amz_date = amz_date;
    scope.region = fx.world->region;
    scope.service = emu_ec2_request(req) ? EMU_EC2_SERVICE : EMU_PUSH_SERVICE;
    if (eic_sigv4_authorization(&sreq, &scope, ALICE_AK, ALICE_SK, &p->authorization) == 0) {
        p->headers[p->n_headers++] = (struct emu_header){"Authorization", p->authorization};
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct emu_record_store *store = NULL;
    struct emu_server srv;
    struct emu_request req;
    struct emu_reply reply;
    struct parsed p;
    int ret;

    parse_input(data, size, &p);
    memset(&req, 0, sizeof(req));
    req.method = p.method;
    req.path = p.path;
    req.query = p.query;
    req.headers = p.headers;
    req.n_headers = p.n_headers;
    req.body = p.body;
    req.body_len = p.body_len;
    req.remote = "127.0.0.1:1";
    if (find_header(&p, "Authorization") == NULL) {
        sign(&p, &req);
        req.n_headers = p.n_headers;
    }

    FUZZ_CHECK(emu_server_init(&srv) == 0);
    FUZZ_CHECK(emu_record_store_new(&store) == 0);
    srv.world = fx.world;
    srv.pki = fx.pki;
    srv.store = store;
    srv.tokens = fx.tokens;
    srv.fixed_now = FIXED_NOW;
    emu_reply_init(&reply);
    ret = emu_http_dispatch(&srv, &req, &reply);
    FUZZ_CHECK(ret == 0 || ret == ENOMEM);
    FUZZ_CHECK(ret != 0 || (reply.status >= 200 && reply.status <= 599));
    emu_reply_free(&reply);
    emu_server_destroy(&srv);
    emu_record_store_free(store);
    free(p.authorization);
    free(p.text);
    return 0;
}
