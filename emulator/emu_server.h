/* What every request handler of the emulator shares: the context (world, PKI, record store,
 * IMDS tokens, options) and a transport-independent request/reply pair, so that the IMDS
 * and push handlers know nothing of libmicrohttpd. */
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "eic_buf.h"
#include "emu_pki.h"
#include "emu_records.h"
#include "emu_world.h"

struct json_object;

#define EMU_MAX_BODY (64 * 1024)      /* request bodies above this are refused with 413 */
#define EMU_MAX_REPLY (1024 * 1024)   /* replies the handlers build (records of one user, chains) */
#define EMU_MAX_USERS 1024            /* distinct OS users that may hold records */
#define EMU_MAX_REPLY_HEADERS 4

struct emu_tokens; /* IMDSv2 session tokens, emu_imds.c */
struct emu_sessions; /* temporary credentials issued, emu_sessions.h */
struct emu_fault;  /* emu_fault.h */

struct emu_server {
    const struct emu_world *world;
    const struct emu_pki *pki;
    struct emu_record_store *store;
    struct emu_tokens *tokens;
    struct emu_sessions *sessions; /* NULL: none are issued (handler unit tests) */
    long max_skew;            /* seconds of X-Amz-Date drift accepted */
    bool tamper_records;      /* sign records, then spoil one byte (fault for the verifier) */
    const struct emu_fault *faults;
    size_t n_faults;
    time_t start_time;        /* the identity document's pendingTime */
    long long fixed_now;      /* 0: handlers read the clock; else the Unix time they all use (fuzzing) */

    /* The OS users pushed for (for the active-keys/ listing; the record store cannot list). */
    pthread_mutex_t users_lock;
    char *users[EMU_MAX_USERS];
    size_t n_users;

    /* Shutdown: hanging and delayed requests wait on this and give up once stopping is set. */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
};

struct emu_header {
    const char *name;
    const char *value;
};

struct emu_request {
    const char *method;
    const char *path;        /* as sent on the wire: never percent-decoded */
    const char *query;       /* raw query without '?', "" for none */
    const struct emu_header *headers; /* every header in arrival order, duplicates included */
    size_t n_headers;
    const char *body;
    size_t body_len;
    const char *remote;      /* "ADDR:PORT" of the client, for log lines */
};

struct emu_reply {
    unsigned int status;
    const char *content_type;  /* static string */
    struct eic_buf body;
    struct {
        const char *name;      /* static string */
        char value[128];
    } headers[EMU_MAX_REPLY_HEADERS];
    size_t n_headers;
};

int emu_server_init(struct emu_server *srv);
void emu_server_destroy(struct emu_server *srv);
/* Wake every request that is waiting (delay, hang) and make later waits return at once. */
void emu_server_stop(struct emu_server *srv);
/* Whether emu_server_stop was called. */
bool emu_server_stopping(struct emu_server *srv);
/* The Unix time a handler judges a request at: the clock, or srv->fixed_now when set, so
 * that a fuzzer replays an input with the same verdict at any hour. */
long long emu_server_now(const struct emu_server *srv);
/* Sleep ms milliseconds, or less when the server stops. Returns false when it stopped. */
bool emu_server_sleep(struct emu_server *srv, long ms);
/* Sleep until the server stops. */
void emu_server_wait_stop(struct emu_server *srv);

/* Remember os_user as one that may hold records (users whose records all expired are forgotten
 * when the table is full). ENOSPC when EMU_MAX_USERS users still hold records. */
int emu_server_note_user(struct emu_server *srv, const char *os_user);
/* Append, one per line ("\n"-separated, no trailing newline), the users holding unexpired
 * records at now. */
int emu_server_list_users(struct emu_server *srv, long long now, struct eic_buf *out);

/* The first header called name (case-insensitive), or NULL. */
const char *emu_request_header(const struct emu_request *req, const char *name);

void emu_reply_init(struct emu_reply *reply);
void emu_reply_free(struct emu_reply *reply);
/* Set status, content type and body (replacing any body). Returns 0, ENOMEM or EMSGSIZE. */
int emu_reply_set(struct emu_reply *reply, unsigned int status, const char *content_type, const char *body,
                  size_t len);
/* The JSON text of obj (json-c's JSON_C_TO_STRING_* flags) as the reply, application/json, wiped
 * from json-c's buffer afterwards: the answers that use it hold credentials or tokens. */
int emu_reply_json(struct emu_reply *reply, unsigned int status, struct json_object *obj, int flags);
/* Add a header (value truncated to 127 bytes). Returns 0 or ENOSPC. */
int emu_reply_header(struct emu_reply *reply, const char *name, const char *value);

#endif
