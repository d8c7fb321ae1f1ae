#include "ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_json.h"
#include "eic_ws.h"
#include "http.h"

#define MAX_RESPONSE_HEAD (16 * 1024)
#define MAX_ERROR_BODY (64 * 1024)
#define HANDSHAKE_TIMEOUT_MS 30000
#define WSS_PORT "443"              /* the only port an Instance Connect Endpoint serves */

void eic_ws_client_close(struct eic_ws_client *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->ctx != NULL) {
        SSL_CTX_free(c->ctx);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}

/* Wait for fd to become ready for events until deadline (monotonic ms). */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    long long left = deadline - eic_tunnel_now_ms();
    int n;

    if (left <= 0) {
        return ETIMEDOUT;
    }
    do {
        n = poll(&p, 1, (int)left);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : n == 0 ? ETIMEDOUT : errno;
}

static int tcp_connect(const char *host, const char *port, long long deadline, int *out, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    char name[256];
    int ret = ECONNREFUSED;
    int gai;

    /* A bracketed IPv6 literal from the URL loses its brackets here. */
    snprintf(name, sizeof(name), "%s", host[0] == '[' ? host + 1 : host);
    if (host[0] == '[') {
        name[strcspn(name, "]")] = '\0';
    }
    gai = getaddrinfo(name, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len, "cannot resolve %s: %s", name, gai_strerror(gai));
        return ECONNREFUSED;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        int soerr = 0;
        socklen_t len = sizeof(soerr);

        if (fd < 0) {
            ret = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            ret = errno;
        } else if ((ret = wait_fd(fd, POLLOUT, deadline)) == 0 &&
                   (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)) {
            ret = soerr != 0 ? soerr : errno;
        }
        if (ret == 0) {
            *out = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (ret != 0) {
        snprintf(err, err_len, "cannot connect to %s port %s: %s", name, port, strerror(ret));
    }
    return ret;
}

static int tls_start(struct eic_ws_client *c, const char *host, const char *ca_bundle, long long deadline, char *err,
                     size_t err_len)
{
    char name[256];
    int ret;

    snprintf(name, sizeof(name), "%s", host[0] == '[' ? host + 1 : host);
    if (host[0] == '[') {
        name[strcspn(name, "]")] = '\0';
    }
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL || SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, err_len, "cannot set up TLS");
        return EIO;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if ((ca_bundle != NULL && SSL_CTX_load_verify_locations(c->ctx, ca_bundle, NULL) != 1) ||
        (ca_bundle == NULL && SSL_CTX_set_default_verify_paths(c->ctx) != 1)) {
        snprintf(err, err_len, "cannot load the CA certificates%s%s", ca_bundle ? " of " : "",
                 ca_bundle ? ca_bundle : "");
        return EIO;
    }
    c->ssl = SSL_new(c->ctx);
    /* The certificate must name the host (or IP address) connected to. */
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set1_host(c->ssl, name) != 1 ||
        (inet_pton(AF_INET, name, &(struct in_addr){0}) != 1 && strchr(name, ':') == NULL &&
         SSL_set_tlsext_host_name(c->ssl, name) != 1)) {
        snprintf(err, err_len, "cannot set up TLS for %s", name);
        return EIO;
    }
    while ((ret = SSL_connect(c->ssl)) != 1) {
        int e = SSL_get_error(c->ssl, ret);

        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            ret = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (ret != 0) {
                snprintf(err, err_len, "TLS handshake with %s: %s", name, strerror(ret));
                return ret;
            }
            continue;
        }
        /* A certificate refused (the chain, or SSL_set1_host's name check) is told apart from
         * any other failure of the handshake. */
        if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
            eic_tls_failure_text(name, SSL_get_verify_result(c->ssl), err, err_len);
        } else {
            unsigned long code = ERR_get_error();
            char reason[256];

            ERR_error_string_n(code, reason, sizeof(reason));
            snprintf(err, err_len, "TLS handshake with %.128s failed: %.200s", name,
                     code != 0 ? reason : "the connection was closed");
        }
        ERR_clear_error();
        return ECONNREFUSED;
    }
    return 0;
}

/* Non-blocking I/O in the tunnel's terms (eic_tunnel.h). */
static ssize_t conn_io(struct eic_ws_client *c, void *buf, size_t len, short *want, bool reading)
{
    int n = reading ? SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len))
                    : SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    int e;

    if (n > 0) {
        return n;
    }
    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    errno = ECONNRESET;
    return -1;
}

static ssize_t tls_read(void *ctx, void *buf, size_t len, short *want)
{
    return conn_io(ctx, buf, len, want, true);
}

static ssize_t tls_write(void *ctx, const void *buf, size_t len, short *want)
{
    return conn_io(ctx, (void *)buf, len, want, false);
}

static size_t tls_pending(void *ctx)
{
    struct eic_ws_client *c = ctx;

    return (size_t)SSL_pending(c->ssl);
}

/* Blocking-with-deadline write and read for the handshake. */
static int conn_write_all(struct eic_ws_client *c, const char *data, size_t len, long long deadline)
{
    while (len > 0) {
        short want = POLLOUT;
        ssize_t n = conn_io(c, (void *)data, len, &want, false);
        int ret;

        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            ret = wait_fd(c->fd, want, deadline);
            if (ret != 0) {
                return ret;
            }
            continue;
        }
        return n == 0 ? ECONNRESET : errno;
    }
    return 0;
}

static ssize_t conn_read_some(struct eic_ws_client *c, void *buf, size_t len, long long deadline)
{
    for (;;) {
        short want = POLLIN;
        ssize_t n = conn_io(c, buf, len, &want, true);
        int ret;

        if (n >= 0) {
            return n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
        ret = wait_fd(c->fd, want, deadline);
        if (ret != 0) {
            errno = ret;
            return -1;
        }
    }
}

void eic_ws_handshake_free(struct eic_ws_handshake *h)
{
    free(h->head);
    free(h->early);
    free(h->error_type);
    free(h->error_message);
    memset(h, 0, sizeof(*h));
}

/* The value of header name in head (after the status line), copied into out, or false. */
static bool response_header(const char *head, const char *name, char *out, size_t out_len)
{
    size_t n = strlen(name);

    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            size_t len;

            while (*v == ' ' || *v == '\t') {
                v++;
            }
            len = strcspn(v, "\r\n");
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
                len--;
            }
            snprintf(out, out_len, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

int eic_ws_client_handshake(struct eic_ws_client *c, const char *host_header, const char *path_query,
                            struct eic_ws_handshake *h, char *err, size_t err_len)
{
    long long deadline = eic_tunnel_now_ms() + HANDSHAKE_TIMEOUT_MS;
    unsigned char nonce[16];
    char *key = NULL, *request = NULL;
    char expected[29], got[128], value[128];
    char buf[4096];
    size_t have = 0;
    char *end = NULL;
    int ret;

    memset(h, 0, sizeof(*h));
    h->head = malloc(MAX_RESPONSE_HEAD + 1);
    if (h->head == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1 ||
        eic_base64_encode(nonce, sizeof(nonce), &key) != 0 ||
        eic_ws_accept_value(key, expected) != 0 ||
        asprintf(&request, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: eic/" PACKAGE_VERSION
                           "\r\n\r\n",
                 path_query, host_header, key) < 0) {
        request = NULL;
        snprintf(err, err_len, "out of memory");
        ret = ENOMEM;
        goto done;
    }
    ret = conn_write_all(c, request, strlen(request), deadline);
    /* The request holds a presigned URL: a credential for 60 seconds. */
    OPENSSL_cleanse(request, strlen(request));
    if (ret != 0) {
        snprintf(err, err_len, "sending the WebSocket request: %s", strerror(ret));
        goto done;
    }
    while (end == NULL) {
        ssize_t n;

        if (have == MAX_RESPONSE_HEAD) {
            snprintf(err, err_len, "the answer's headers are longer than %d bytes", MAX_RESPONSE_HEAD);
            ret = EMSGSIZE;
            goto done;
        }
        n = conn_read_some(c, h->head + have, MAX_RESPONSE_HEAD - have, deadline);
        if (n <= 0) {
            ret = n == 0 ? ECONNRESET : errno;
            snprintf(err, err_len, "reading the answer to the WebSocket request: %s",
                     n == 0 ? "the connection was closed" : strerror(ret));
            goto done;
        }
        have += (size_t)n;
        h->head[have] = '\0';
        end = strstr(h->head, "\r\n\r\n");
    }
    end += 4;
    h->early_len = have - (size_t)(end - h->head);
    h->early = malloc(h->early_len + 1);
    if (h->early == NULL) {
        ret = ENOMEM;
        goto done;
    }
    memcpy(h->early, end, h->early_len);
    *end = '\0';
    if (sscanf(h->head, "HTTP/1.1 %3d", &h->status) != 1) {
        snprintf(err, err_len, "the answer is not HTTP/1.1");
        ret = EPROTO;
        goto done;
    }
    if (h->status != 101) {
        /* A refusal: the body says why ({"__type": ..., "Message": ...}). */
        struct eic_buf body;
        unsigned long length = 0;
        json_object *obj = NULL;

        eic_buf_init(&body, MAX_ERROR_BODY);
        if (response_header(h->head, "Content-Length", value, sizeof(value))) {
            length = strtoul(value, NULL, 10);
        }
        ret = length > MAX_ERROR_BODY ? EMSGSIZE : eic_buf_append(&body, h->early, h->early_len);
        while (ret == 0 && body.len < length) {
            ssize_t n = conn_read_some(c, buf, sizeof(buf), deadline);

            if (n <= 0) {
                break;
            }
            ret = eic_buf_append(&body, buf, (size_t)n);
        }
        if (body.data != NULL && eic_json_parse(body.data, body.len, MAX_ERROR_BODY, &obj) == 0) {
            const char *t = eic_json_get_string(obj, "__type");
            const char *m = eic_json_get_string(obj, "Message");

            h->error_type = t ? strdup(t) : NULL;
            h->error_message = m ? strdup(m) : NULL;
        }
        json_object_put(obj);
        eic_buf_free(&body);
        ret = 0;
        goto done;
    }
    if (!response_header(h->head, "Upgrade", value, sizeof(value)) || strcasecmp(value, "websocket") != 0 ||
        !response_header(h->head, "Sec-WebSocket-Accept", got, sizeof(got)) || strcmp(got, expected) != 0) {
        snprintf(err, err_len, "the answer 101 is not a WebSocket upgrade for this request");
        ret = EPROTO;
        goto done;
    }
    ret = 0;
done:
    free(key);
    free(request);
    return ret;
}

int eic_ws_client_connect(struct eic_ws_client *c, const char *host, const char *ca_bundle, long timeout_ms,
                          char *err, size_t err_len)
{
    long long deadline = eic_tunnel_now_ms() + timeout_ms;
    int ret;

    c->fd = -1;
    c->ctx = NULL;
    c->ssl = NULL;
    ret = tcp_connect(host, WSS_PORT, deadline, &c->fd, err, err_len);
    if (ret == 0) {
        ret = tls_start(c, host, ca_bundle, deadline, err, err_len);
    }
    return ret;
}

void eic_ws_client_tunnel_conn(struct eic_ws_client *c, struct eic_ws_conn *out)
{
    *out = (struct eic_ws_conn){.fd = c->fd, .ctx = c, .read = tls_read, .write = tls_write, .pending = tls_pending};
}
