#include "emu_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "eic_log.h"
#include "emu_fault.h"
#include "emu_imds.h"
#include "emu_creds.h"
#include "emu_ec2.h"
#include "emu_sso.h"
#include "emu_sso_oidc.h"
#include "emu_sts.h"
#include "emu_push.h"
#include "emu_tunnel.h"

#define MAX_HEADERS 128
#define THREAD_STACK (1024 * 1024)

/* TLS 1.2 and 1.3 only, as AWS's endpoints. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct emu_http {
    struct emu_server *srv;
    struct MHD_Daemon *daemons[EMU_MAX_LISTENERS];
    size_t n_daemons;
    /* Tunnels being relayed, each in a thread of its own (relay_main): stopping waits for them,
     * as each must hand its connection back to libmicrohttpd before the daemons go. */
    pthread_mutex_t relays_lock;
    pthread_cond_t relays_done;
    size_t relays;
};

/* An accepted OpenTunnel request between its check and the end of the tunnel: the request's
 * until the upgrade, then its relay thread's. */
struct tunnel_ctx {
    struct emu_http *http;
    struct emu_tunnel_plan plan;
    int tcp_fd;         /* the connection to the instance, made before answering 101 */
    char remote[64];
    MHD_socket sock;    /* the upgraded connection (a socket pair's end with TLS) */
    struct MHD_UpgradeResponseHandle *urh;
    char *early;        /* bytes libmicrohttpd read past the request */
    size_t early_len;
};

/* Per-request state, from the first call of the access handler to the completion callback. */
struct http_req {
    struct eic_buf body;
    int answered;       /* a response was queued early (413) */
    bool tls;           /* it came over a --tls-listen listener */
    char remote[64];
    struct tunnel_ctx *tunnel; /* freed with the request unless the upgrade handler took it */
};

int emu_listen_parse(const char *spec, struct emu_listen *out, char *err, size_t err_len)
{
    const char *colon = strrchr(spec, ':');
    char host[64];
    size_t host_len;
    char *end;
    unsigned long port;

    memset(out, 0, sizeof(*out));
    if (colon == NULL || colon == spec || colon[1] == '\0') {
        snprintf(err, err_len, "--listen '%s': expected ADDR:PORT", spec);
        return EINVAL;
    }
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || colon[1] < '0' || colon[1] > '9' || port > 65535) {
        snprintf(err, err_len, "--listen '%s': the port must be 0..65535", spec);
        return EINVAL;
    }
    host_len = (size_t)(colon - spec);
    if (host_len >= sizeof(host)) {
        snprintf(err, err_len, "--listen '%s': address too long", spec);
        return EINVAL;
    }
    memcpy(host, spec, host_len);
    host[host_len] = '\0';
    if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;

        host[host_len - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1) {
            snprintf(err, err_len, "--listen '%s': not an IPv6 address literal", spec);
            return EINVAL;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        out->addr_len = sizeof(*sin6);
        snprintf(out->host, sizeof(out->host), "[%s]", host + 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;

        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            snprintf(err, err_len, "--listen '%s': not an IPv4 address literal (IPv6 goes in brackets)", spec);
            return EINVAL;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        out->addr_len = sizeof(*sin);
        snprintf(out->host, sizeof(out->host), "%s", host);
    }
    out->port = (unsigned int)port;
    return 0;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    eic_log(LOG_WARNING, "http: %s", msg);
}

/* Paths are kept exactly as sent: "%2e%2e" or "%00" stay literal text that matches nothing,
 * instead of being decoded into something that might. SigV4 also needs the raw path. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

struct header_vec {
    struct emu_header items[MAX_HEADERS];
    size_t n;
    int overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct header_vec *vec = cls;

    (void)kind;
    if (vec->n == MAX_HEADERS) {
        vec->overflow = 1;
        return MHD_NO;
    }
    vec->items[vec->n].name = key;
    vec->items[vec->n].value = value ? value : "";
    vec->n++;
    return MHD_YES;
}

/* The query string again ("k=v&k2"), from libmicrohttpd's parsed (and, with no_unescape, still
 * raw) arguments: the push API never uses one, but a signature covers whatever was sent. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct eic_buf *buf = cls;

    (void)kind;
    if (eic_buf_printf(buf, "%s%s%s%s", buf->len ? "&" : "", key, value ? "=" : "", value ? value : "") != 0) {
        return MHD_NO;
    }
    return MHD_YES;
}

static void remote_text(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[INET6_ADDRSTRLEN];

    snprintf(out, len, "?");
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)info->client_addr;

        inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
        snprintf(out, len, "%s:%u", addr, ntohs(sin->sin_port));
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)info->client_addr;

        inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
        snprintf(out, len, "[%s]:%u", addr, ntohs(sin6->sin6_port));
    }
}

static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct MHD_Response *resp,
                                   const struct emu_reply *reply)
{
    enum MHD_Result ok;

    if (resp == NULL) {
        return MHD_NO;
    }
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    for (size_t i = 0; ok == MHD_YES && i < reply->n_headers; i++) {
        ok = MHD_add_response_header(resp, reply->headers[i].name, reply->headers[i].value);
    }
    if (ok == MHD_YES) {
        ok = MHD_queue_response(conn, reply->status, resp);
    }
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue_plain(struct MHD_Connection *conn, unsigned int status, const char *text)
{
    struct emu_reply reply;
    enum MHD_Result ok = MHD_NO;

    emu_reply_init(&reply);
    if (emu_reply_set(&reply, status, "text/plain", text, strlen(text)) == 0) {
        ok = queue_reply(conn, MHD_create_response_from_buffer(reply.body.len, reply.body.data,
                                                               MHD_RESPMEM_MUST_COPY),
                         &reply);
    }
    emu_reply_free(&reply);
    return ok;
}

/* truncate: the full Content-Length is announced, half the bytes are sent, then the reader
 * reports an error and libmicrohttpd closes the connection: the client sees a short read. */
struct truncated {
    char *data;
    size_t send;
};

static ssize_t truncated_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct truncated *t = cls;
    size_t n;

    if (pos >= t->send) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    n = t->send - (size_t)pos;
    if (n > max) {
        n = max;
    }
    memcpy(buf, t->data + pos, n);
    return (ssize_t)n;
}

static void truncated_free(void *cls)
{
    struct truncated *t = cls;

    free(t->data);
    free(t);
}

static struct MHD_Response *truncated_response(const struct emu_reply *reply)
{
    struct truncated *t = calloc(1, sizeof(*t));
    struct MHD_Response *resp;

    if (t == NULL) {
        return NULL;
    }
    t->data = malloc(reply->body.len + 1);
    if (t->data == NULL) {
        free(t);
        return NULL;
    }
    memcpy(t->data, reply->body.data ? reply->body.data : "", reply->body.len);
    t->send = reply->body.len / 2;
    resp = MHD_create_response_from_callback(reply->body.len, 4096, truncated_reader, t, truncated_free);
    if (resp == NULL) {
        truncated_free(t);
    }
    return resp;
}

/* oversize: a body of fault->arg bytes generated on the fly (nothing that large is held in memory).
 * cls is the fault; its size is read, never changed. */
static ssize_t oversize_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    const struct emu_fault *fault = cls;
    uint64_t total = (uint64_t)fault->arg;
    size_t n;

    if (pos >= total) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = total - pos < max ? (size_t)(total - pos) : max;
    memset(buf, 'A', n);
    return (ssize_t)n;
}

/* garbage: what a broken or hostile server might send with a 200: every byte value, NULs, CR/LF
 * and bytes >= 0x80 among them, from a fixed-seed generator so that runs are repeatable. */
static int garbage_reply(struct emu_reply *reply)
{
    unsigned char noise[EMU_GARBAGE_BYTES];
    uint32_t x = 0x9e3779b9u;

    for (size_t i = 0; i < sizeof(noise); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (unsigned char)x;
    }
    return emu_reply_set(reply, 200, "application/octet-stream", (const char *)noise, sizeof(noise));
}

static int fault_status_reply(const struct emu_fault *f, const char *path, struct emu_reply *reply)
{
    char text[64];
    unsigned int code = (unsigned int)f->arg;

    if (emu_imds_path(path)) {
        snprintf(text, sizeof(text), "injected fault: status %u", code);
        return emu_reply_set(reply, code, "text/plain", text, strlen(text));
    }
    /* The push API answers throttling as AWS does: HTTP 400 with a ThrottlingException. */
    if (code == 429) {
        return emu_push_error(reply, 400, "ThrottlingException", "Rate exceeded (injected fault)");
    }
    return emu_push_error(reply, code, "ServiceException", "The service encountered an error (injected fault)");
}

static void tunnel_free(struct tunnel_ctx *t)
{
    if (t->tcp_fd >= 0) {
        close(t->tcp_fd);
    }
    free(t->early);
    free(t);
}

/* One tunnel's relay, in a thread of its own: with TLS, libmicrohttpd moves the bytes between the
 * TLS connection and t->sock in the connection's thread once on_upgrade has returned, so the relay
 * must not block that thread. */
static void *relay_main(void *arg)
{
    struct tunnel_ctx *t = arg;
    struct emu_http *http = t->http;

    emu_tunnel_relay(http->srv, &t->plan, t->tcp_fd, t->sock, t->early, t->early_len, t->remote);
    t->tcp_fd = -1; /* closed by the relay */
    MHD_upgrade_action(t->urh, MHD_UPGRADE_ACTION_CLOSE);
    tunnel_free(t);
    pthread_mutex_lock(&http->relays_lock);
    http->relays--;
    pthread_cond_broadcast(&http->relays_done);
    pthread_mutex_unlock(&http->relays_lock);
    return NULL;
}

/* After "101 Switching Protocols" went out: the tunnel passes from the request (con_cls) to a
 * relay thread. extra_in is only valid during this call, hence the copy. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct tunnel_ctx *t = cls;
    struct http_req *r = con_cls;
    pthread_attr_t attr;
    pthread_t thread;
    int ret = ENOMEM;

    (void)conn;
    r->tunnel = NULL;
    t->sock = sock;
    t->urh = urh;
    t->early = malloc(extra_in_size + 1);
    if (t->early == NULL) {
        goto fail;
    }
    memcpy(t->early, extra_in != NULL ? extra_in : "", extra_in_size);
    t->early_len = extra_in_size;
    pthread_mutex_lock(&t->http->relays_lock);
    t->http->relays++;
    pthread_mutex_unlock(&t->http->relays_lock);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    ret = pthread_create(&thread, &attr, relay_main, t);
    pthread_attr_destroy(&attr);
    if (ret == 0) {
        return;
    }
    pthread_mutex_lock(&t->http->relays_lock);
    t->http->relays--;
    pthread_mutex_unlock(&t->http->relays_lock);
fail:
    eic_log(LOG_ERR, "tunnel from %s: cannot start its relay: %s", t->remote, strerror(ret));
    tunnel_free(t);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result answer_tunnel(struct emu_http *http, struct MHD_Connection *conn,
                                     const struct emu_request *req, struct http_req *r)
{
    struct emu_server *srv = http->srv;
    struct tunnel_ctx *t = calloc(1, sizeof(*t));
    struct MHD_Response *resp = NULL;
    struct emu_reply reply;
    enum MHD_Result ok = MHD_NO;
    bool go = false;
    int ret = ENOMEM;

    emu_reply_init(&reply);
    if (t == NULL) {
        goto done;
    }
    t->http = http;
    t->tcp_fd = -1;
    snprintf(t->remote, sizeof(t->remote), "%s", r->remote);
    ret = emu_tunnel_check(srv, req, &reply, &t->plan, &go);
    if (ret == 0 && go) {
        t->tcp_fd = emu_tunnel_connect(&t->plan);
        if (t->tcp_fd < 0) {
            char msg[160];
            int err = errno;

            snprintf(msg, sizeof(msg), "Cannot connect to %s: %s", t->plan.target_text, strerror(err));
            eic_log(LOG_NOTICE, "tunnel from %s: %s", r->remote, msg);
            go = false;
            ret = emu_push_error(&reply, err == ETIMEDOUT ? 504 : 502, "ServiceException", msg);
        }
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "http: GET %s: internal error: %s", EMU_TUNNEL_PATH, strerror(ret));
        emu_reply_free(&reply);
        emu_reply_init(&reply);
        if (emu_push_error(&reply, 500, "ServiceException", "Internal error") != 0) {
            goto done;
        }
        go = false;
    }
    if (!go) {
        eic_log(LOG_INFO, "http: %s %.16s %.256s -> %u", r->remote, req->method, req->path, reply.status);
        ok = queue_reply(conn, MHD_create_response_from_buffer(reply.body.len, reply.body.data ? reply.body.data : "",
                                                               MHD_RESPMEM_MUST_COPY),
                         &reply);
        goto done;
    }
    resp = MHD_create_response_for_upgrade(on_upgrade, t);
    if (resp == NULL || MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade") != MHD_YES ||
        MHD_add_response_header(resp, "Sec-WebSocket-Accept", t->plan.accept) != MHD_YES) {
        goto done;
    }
    eic_log(LOG_INFO, "http: %s %.16s %.256s -> 101", r->remote, req->method, req->path);
    ok = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    if (ok == MHD_YES) {
        r->tunnel = t; /* the upgrade handler takes it; else on_completed frees it */
        t = NULL;
    }
done:
    if (resp != NULL) {
        MHD_destroy_response(resp);
    }
    if (t != NULL) {
        tunnel_free(t);
    }
    emu_reply_free(&reply);
    return ok;
}

int emu_http_dispatch(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    if (emu_imds_path(req->path)) {
        return emu_imds_handle(srv, req, reply);
    }
    if (srv->sessions != NULL && emu_creds_container_request(srv, req)) {
        return emu_creds_container_handle(srv, req, reply);
    }
    if (emu_sso_request(req)) {
        return emu_sso_handle(srv, req, reply); /* the SSO portal's GetRoleCredentials */
    }
    if (emu_sso_oidc_request(req)) {
        return emu_sso_oidc_handle(srv, req, reply); /* sso-oidc's CreateToken */
    }
    if (emu_sts_request(req)) {
        return emu_sts_handle(srv, req, reply); /* the Query protocol, Action AssumeRole* */
    }
    if (emu_ec2_request(req)) {
        return emu_ec2_handle(srv, req, reply); /* the Query protocol: a form body */
    }
    return emu_push_handle(srv, req, reply);
}

static enum MHD_Result answer(struct emu_http *http, struct MHD_Connection *conn, const char *url,
                              const char *method, struct http_req *r)
{
    struct emu_server *srv = http->srv;
    struct header_vec *vec = NULL;
    struct eic_buf query;
    struct emu_request req;
    struct emu_reply reply;
    struct MHD_Response *resp = NULL;
    const struct emu_fault *fault = emu_fault_find_final(srv->faults, srv->n_faults, url);
    enum MHD_Result ok = MHD_NO;
    int ret;

    emu_reply_init(&reply);
    eic_buf_init(&query, EMU_MAX_BODY);
    vec = calloc(1, sizeof(*vec));
    if (vec == NULL) {
        goto done;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, vec);
    if (vec->overflow) {
        eic_log(LOG_NOTICE, "http: %.16s %.256s from %s: more than %d headers", method, url, r->remote, MAX_HEADERS);
        ok = queue_plain(conn, 431, "Request Header Fields Too Large");
        goto done;
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &query);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = url;
    req.query = query.data ? query.data : "";
    req.headers = vec->items;
    req.n_headers = vec->n;
    req.body = r->body.data;
    req.body_len = r->body.len;
    req.remote = r->remote;

    if (fault == NULL && emu_tunnel_request(&req)) {
        ok = answer_tunnel(http, conn, &req, r);
        goto done;
    }
    if (r->tls && emu_imds_path(url)) {
        /* IMDS is plain HTTP, on the instance's link-local address, as EC2's. */
        ret = emu_reply_set(&reply, 404, "text/plain", "Not Found (IMDS is plain HTTP)", 30);
    } else if (fault != NULL && fault->kind == EMU_FAULT_STATUS) {
        ret = fault_status_reply(fault, url, &reply);
    } else if (fault != NULL && fault->kind == EMU_FAULT_GARBAGE) {
        ret = garbage_reply(&reply);
    } else {
        ret = emu_http_dispatch(srv, &req, &reply);
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "http: %.16s %.256s: internal error: %s", method, url, strerror(ret));
        emu_reply_free(&reply);
        emu_reply_init(&reply);
        if (emu_imds_path(url)) {
            ret = emu_reply_set(&reply, 500, "text/plain", "Internal Server Error", 21);
        } else {
            ret = emu_push_error(&reply, 500, "ServiceException", "Internal error");
        }
        if (ret != 0) {
            goto done;
        }
    }

    if (fault != NULL && fault->kind == EMU_FAULT_TRUNCATE) {
        resp = truncated_response(&reply);
    } else if (fault != NULL && (fault->kind == EMU_FAULT_OVERSIZE || fault->kind == EMU_FAULT_OVERSIZE_CHUNKED)) {
        /* MHD_SIZE_UNKNOWN: no Content-Length, chunked encoding; the client learns the size only
         * by counting, so a cap that trusts Content-Length alone would be passed. */
        reply.status = 200;
        resp = MHD_create_response_from_callback(fault->kind == EMU_FAULT_OVERSIZE ? (uint64_t)fault->arg
                                                                                    : MHD_SIZE_UNKNOWN,
                                                 64 * 1024, oversize_reader, (void *)fault, NULL);
    } else {
        resp = MHD_create_response_from_buffer(reply.body.len, reply.body.data ? reply.body.data : "",
                                               MHD_RESPMEM_MUST_COPY);
    }
    eic_log(LOG_INFO, "http: %s %.16s %.256s -> %u%s%s", r->remote, method, url, reply.status, fault ? " fault " : "",
            fault ? emu_fault_kind_name(fault->kind) : "");
    ok = queue_reply(conn, resp, &reply);
done:
    emu_reply_free(&reply);
    eic_buf_free(&query);
    free(vec);
    return ok;
}

/* Whether conn is a TLS one; if so, a log line with the server name the client asked for (SNI),
 * which is how the tests see that a client sends it. */
static bool log_tls(struct MHD_Connection *conn, const char *remote)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    char name[256];
    size_t len = sizeof(name);
    unsigned int type = 0;

    if (info == NULL || info->tls_session == NULL) {
        return false;
    }
    if (gnutls_server_name_get((gnutls_session_t)info->tls_session, name, &len, &type, 0) != GNUTLS_E_SUCCESS ||
        type != GNUTLS_NAME_DNS) {
        snprintf(name, sizeof(name), "(none)");
    }
    eic_log(LOG_INFO, "http: %s: TLS, server name %.255s", remote, name);
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct emu_http *http = cls;
    struct emu_server *srv = http->srv;
    struct http_req *r = *con_cls;
    const struct emu_fault *fault;
    const char *length;

    (void)version;
    if (r == NULL) {
        /* First call: the headers are in, the body (if any) is not. */
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        eic_buf_init(&r->body, EMU_MAX_BODY);
        remote_text(conn, r->remote, sizeof(r->remote));
        r->tls = log_tls(conn, r->remote);
        *con_cls = r;

        /* A body announced as too large is refused before a byte of it is read (and before
         * "100 Continue", so a client that waits for it never sends it). */
        length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length != NULL) {
            char *end;
            unsigned long long v;

            errno = 0;
            v = strtoull(length, &end, 10);
            if (errno != 0 || *end != '\0' || v > EMU_MAX_BODY) {
                eic_log(LOG_NOTICE, "http: %s %.16s %.256s: body of %.32s bytes refused (limit %d)", r->remote,
                        method, url, length, EMU_MAX_BODY);
                r->answered = 1;
                return queue_plain(conn, 413, "Payload Too Large");
            }
        }

        /* Faults act before normal handling: delays first (each one that matches), then a hang
         * holds this connection's thread (and only it) until shutdown. */
        for (size_t i = 0; i < srv->n_faults; i++) {
            if (srv->faults[i].kind == EMU_FAULT_DELAY && emu_fault_matches(&srv->faults[i], url)) {
                if (!emu_server_sleep(srv, srv->faults[i].arg)) {
                    return MHD_NO;
                }
            }
        }
        fault = emu_fault_find_final(srv->faults, srv->n_faults, url);
        if (fault != NULL && fault->kind == EMU_FAULT_HANG) {
            eic_log(LOG_INFO, "http: %s %.16s %.256s: hanging (fault)", r->remote, method, url);
            emu_server_wait_stop(srv);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (r->answered) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (eic_buf_append(&r->body, upload_data, *upload_data_size) != 0) {
            /* Only a body without Content-Length (chunked) gets here; libmicrohttpd cannot
             * queue a response in the middle of a body, so the connection is closed. */
            eic_log(LOG_NOTICE, "http: %s %.16s %.256s: chunked body over %d bytes, connection closed",
                    r->remote, method, url, EMU_MAX_BODY);
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered) {
        return MHD_YES;
    }
    r->answered = 1;
    return answer(http, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r != NULL) {
        if (r->tunnel != NULL) {
            tunnel_free(r->tunnel); /* the 101 never went out */
        }
        eic_buf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

int emu_http_start(struct emu_server *srv, struct emu_listen *listens, size_t n, const struct emu_tls_creds *tls,
                   struct emu_http **out)
{
    struct emu_http *http;
    int ret = 0;

    *out = NULL;
    if (n == 0 || n > EMU_MAX_LISTENERS) {
        return EINVAL;
    }
    http = calloc(1, sizeof(*http));
    if (http == NULL) {
        return ENOMEM;
    }
    http->srv = srv;
    pthread_mutex_init(&http->relays_lock, NULL);
    pthread_cond_init(&http->relays_done, NULL);
    for (size_t i = 0; i < n; i++) {
        struct emu_listen *l = &listens[i];
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                             MHD_USE_POLL | MHD_ALLOW_UPGRADE;
        struct MHD_OptionItem tls_opts[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, tls != NULL ? tls->cert_pem : NULL},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, tls != NULL ? tls->key_pem : NULL},
            {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
            {MHD_OPTION_END, 0, NULL},
        };
        const union MHD_DaemonInfo *info;
        struct MHD_Daemon *d;

        if (l->addr.ss_family == AF_INET6) {
            flags |= MHD_USE_IPv6;
        }
        if (l->tls) {
            if (tls == NULL) {
                ret = EINVAL;
                goto done;
            }
            flags |= MHD_USE_TLS;
        }
        /* The logger goes first so that libmicrohttpd's own messages about the options that
         * follow reach the log too. */
        d = MHD_start_daemon(flags, (uint16_t)l->port, NULL, NULL, on_request, http,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l->addr,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)EMU_CONNECTION_TIMEOUT,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned int)EMU_CONNECTION_LIMIT,
                             MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                             MHD_OPTION_ARRAY, l->tls ? tls_opts : &tls_opts[3],
                             MHD_OPTION_END);
        if (d == NULL) {
            eic_log(LOG_ERR, "cannot listen on %s:%u (address in use, or not an address of this host?)", l->host,
                    l->port);
            ret = EADDRNOTAVAIL;
            goto done;
        }
        http->daemons[http->n_daemons++] = d;
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (info != NULL && info->port != 0) {
            l->port = info->port;
        }
        eic_log(LOG_INFO, "listening on %s:%u%s", l->host, l->port, l->tls ? " (TLS)" : "");
    }
    *out = http;
    http = NULL;
done:
    emu_http_stop(http);
    return ret;
}

void emu_http_stop(struct emu_http *http)
{
    if (http == NULL) {
        return;
    }
    /* Hanging and delayed requests block their connection threads, which MHD_stop_daemon
     * joins, and tunnels hold upgraded connections: wake them all, and wait for the tunnels to
     * hand theirs back. */
    emu_server_stop(http->srv);
    pthread_mutex_lock(&http->relays_lock);
    while (http->relays > 0) {
        pthread_cond_wait(&http->relays_done, &http->relays_lock);
    }
    pthread_mutex_unlock(&http->relays_lock);
    for (size_t i = 0; i < http->n_daemons; i++) {
        MHD_stop_daemon(http->daemons[i]);
    }
    pthread_cond_destroy(&http->relays_done);
    pthread_mutex_destroy(&http->relays_lock);
    free(http);
}
