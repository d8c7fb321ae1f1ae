/* eic open-tunnel: a tunnel to a port of an instance's private address through an EC2 Instance
 * Connect Endpoint, as `aws ec2-instance-connect open-tunnel` (stdin/stdout mode, for OpenSSH's
 * ProxyCommand).
 *
 *   1. What is missing is looked up: the instance's private address, VPC and subnet
 *      (DescribeInstances), the endpoint (DescribeInstanceConnectEndpoints: create-complete, in
 *      the instance's VPC, its subnet preferred) and the endpoint's DNS name.
 *   2. The URL wss://DNSNAME/openTunnel?instanceConnectEndpointId=..&remotePort=..
 *      &privateIpAddress=..[&maxTunnelDuration=..] is presigned with SigV4 in the query
 *      (common/eic_sigv4.h; service ec2-instance-connect, 60 s); with --endpoint-url
 *      http(s)://HOST:PORT it goes to ws(s)://HOST:PORT/openTunnel instead (the emulator).
 *   3. TCP (and TLS for wss: the system's CAs or AWS_CA_BUNDLE, the host name verified), the
 *      WebSocket handshake (RFC 6455 section 4), then common/eic_tunnel.h relays stdin/stdout.
 * An answer other than 101 is the service refusing: its JSON error is printed the AWS CLI's way. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "api.h"
#include "args.h"
#include "credentials.h"
#include "ec2.h"
#include "eic.h"
#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_json.h"
#include "eic_log.h"
#include "eic_sigv4.h"
#include "eic_tunnel.h"
#include "eic_ws.h"

#define CMD "open-tunnel"
#define TUNNEL_SERVICE "ec2-instance-connect"
#define PRESIGN_EXPIRES 60          /* as the AWS CLI presigns */
#define CONNECT_TIMEOUT_MS 10000
#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_RESPONSE_HEAD (16 * 1024)
#define MAX_ERROR_BODY (64 * 1024)
#define MAX_DURATION 3600
#define MAX_LOCAL_TUNNELS 64        /* --local-port: tunnels open at once */

static void help(FILE *out)
{
    fprintf(out,
            "usage: eic open-tunnel --instance-id ID [--instance-connect-endpoint-id EID]\n"
            "               [--instance-connect-endpoint-dns-name DNS] [--private-ip-address IP]\n"
            "               [--remote-port PORT] [--max-tunnel-duration SECONDS] [--region REGION]\n"
            "               [--local-port PORT] [--endpoint-url URL] [--profile PROFILE] [--debug]\n"
            "\n"
            "Opens a tunnel to PORT (default 22) of the instance's private address through an EC2\n"
            "Instance Connect Endpoint and relays it to stdin/stdout, e.g. for OpenSSH:\n"
            "  ssh -o ProxyCommand='eic open-tunnel --instance-id i-0123456789abcdef0' ec2-user@i-0123...\n"
            "What is not given is looked up (DescribeInstances, DescribeInstanceConnectEndpoints: an\n"
            "endpoint in create-complete state in the instance's VPC, its subnet preferred).\n"
            "\n"
            "  --endpoint-url URL        the EC2 API and the tunnel (ws(s)://HOST:PORT/openTunnel) on\n"
            "                            this one URL (the emulator); default https://ec2.REGION.amazonaws.com\n"
            "                            and wss://DNS/openTunnel\n"
            "  --max-tunnel-duration N   close the tunnel after N seconds (1..%d)\n"
            "  --local-port PORT         listen on 127.0.0.1:PORT instead, one tunnel per connection,\n"
            "                            until interrupted\n"
            "\n"
            "Exit status: 0 after the tunnel closed normally, 2 on a usage error, 253 without\n"
            "credentials or region, 254 when a service refuses (e.g. AccessDeniedException for the\n"
            "tunnel, no Instance Connect Endpoint in the instance's VPC), 255 for anything else.\n",
            MAX_DURATION);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static bool signalled(void *ctx)
{
    (void)ctx;
    return stop_signal != 0;
}

/* ---- the connection: TCP, optionally TLS ---- */

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static void conn_close(struct conn *c)
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
    } while (n < 0 && errno == EINTR && stop_signal == 0);
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

static int tls_start(struct conn *c, const char *host, const char *ca_bundle, long long deadline, char *err,
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
        {
            long verify = SSL_get_verify_result(c->ssl);
            char reason[256];

            ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
            snprintf(err, err_len, "TLS handshake with %.128s failed: %.200s", name,
                     verify != X509_V_OK ? X509_verify_cert_error_string(verify) : reason);
        }
        return ECONNREFUSED;
    }
    return 0;
}

/* Non-blocking I/O in the tunnel's terms (eic_tunnel.h). */
static ssize_t conn_io(struct conn *c, void *buf, size_t len, short *want, bool reading)
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
    struct conn *c = ctx;

    return (size_t)SSL_pending(c->ssl);
}

/* Blocking-with-deadline write and read for the handshake. */
static int conn_write_all(struct conn *c, const char *data, size_t len, long long deadline)
{
    while (len > 0) {
        short want = POLLOUT;
        ssize_t n = c->ssl ? conn_io(c, (void *)data, len, &want, false) : send(c->fd, data, len, MSG_NOSIGNAL);
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

static ssize_t conn_read_some(struct conn *c, void *buf, size_t len, long long deadline)
{
    for (;;) {
        short want = POLLIN;
        ssize_t n = c->ssl ? conn_io(c, buf, len, &want, true) : recv(c->fd, buf, len, 0);
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

/* ---- the handshake ---- */

struct handshake {
    char *head;          /* the response's status line and headers */
    int status;
    uint8_t *early;      /* bytes after the headers (the first frames), owned */
    size_t early_len;
    char *error_type;    /* a refusal's error */
    char *error_message;
};

static void handshake_free(struct handshake *h)
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

static int do_handshake(struct conn *c, const char *host_header, const char *path_query, struct handshake *h,
                        char *err, size_t err_len)
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
    if (h->head == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1 || eic_base64_encode(nonce, sizeof(nonce), &key) != 0 ||
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

/* ---- the command ---- */

/* For eic ssh, which runs this as ssh's ProxyCommand and only sees ssh's status: "refused
 * HTTP-STATUS" in a file of its private directory (never following a link there). */
static void note_refusal(const char *path, int http_status)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    char line[32];
    int n;

    if (fd < 0) {
        return;
    }
    n = snprintf(line, sizeof(line), "refused %d\n", http_status);
    if (write(fd, line, (size_t)n) != n) {
        eic_log(LOG_DEBUG, "cannot write %s", path);
    }
    close(fd);
}

static bool valid_endpoint_id(const char *s)
{
    return strncmp(s, "eice-", 5) == 0 && strlen(s) >= 13 && strlen(s) <= 37 &&
           strspn(s + 5, "0123456789abcdef") == strlen(s + 5);
}

static bool valid_dns(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
}

static bool parse_long(const char *text, long min, long max, long *out)
{
    char *end;

    if (text[0] < '0' || text[0] > '9') {
        return false;
    }
    errno = 0;
    *out = strtol(text, &end, 10);
    return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

/* Everything a tunnel needs once the endpoint is known; each tunnel is presigned anew. */
struct tunnel_target {
    bool tls;
    const char *connect_host;
    const char *connect_port;
    const char *host_header;
    const char *params;        /* the OpenTunnel parameters, encoded */
    const char *region;
    const struct eic_credentials *creds;
    const char *ca_bundle;
    const char *endpoint_id;
    const char *status_file;   /* NULL, or where a refusal is noted (eic ssh) */
};

/* One tunnel between the byte stream in/out (stdin/stdout, or an accepted socket twice) and the
 * endpoint. Returns the command's exit status. */
static int run_tunnel(const struct tunnel_target *t, int in, int out)
{
    char amz_date[EIC_SIGV4_AMZ_DATE_LEN + 1];
    struct eic_sigv4_scope scope = {amz_date, t->region, TUNNEL_SERVICE};
    struct eic_sigv4_presign presign = {
        .method = "GET", .host = t->host_header, .path = "/openTunnel", .query = t->params,
        .expires = PRESIGN_EXPIRES, .access_key_id = t->creds->access_key_id,
        .secret_access_key = t->creds->secret_access_key, .session_token = t->creds->session_token,
    };
    struct handshake hs = {0};
    struct conn c = {.fd = -1};
    char *query = NULL, *path_query = NULL;
    char err[512] = "";
    int status = EIC_EXIT_OTHER;
    int ret;

    eic_sigv4_format_amz_date((long long)time(NULL), amz_date);
    ret = eic_sigv4_presign_query(&presign, &scope, &query);
    if (ret != 0 || asprintf(&path_query, "/openTunnel?%s", query) < 0) {
        path_query = NULL;
        fprintf(stderr, "eic: cannot presign the tunnel request: %s\n", strerror(ret ? ret : ENOMEM));
        goto done;
    }
    ret = tcp_connect(t->connect_host, t->connect_port, eic_tunnel_now_ms() + CONNECT_TIMEOUT_MS, &c.fd, err,
                      sizeof(err));
    if (ret == 0 && t->tls) {
        ret = tls_start(&c, t->connect_host, t->ca_bundle, eic_tunnel_now_ms() + CONNECT_TIMEOUT_MS, err,
                        sizeof(err));
    }
    if (ret == 0) {
        ret = do_handshake(&c, t->host_header, path_query, &hs, err, sizeof(err));
    }
    if (ret != 0) {
        fprintf(stderr, "eic: Instance Connect Endpoint %s: %s\n", t->endpoint_id, err);
        goto done;
    }
    if (hs.status != 101) {
        fprintf(stderr, "\nAn error occurred (%s) when calling the OpenTunnel operation: %s\n",
                hs.error_type ? hs.error_type : "Unknown", hs.error_message ? hs.error_message : "(no message)");
        status = hs.status >= 400 && hs.status < 500 ? EIC_EXIT_SERVICE : EIC_EXIT_OTHER;
        if (t->status_file != NULL) {
            note_refusal(t->status_file, hs.status);
        }
        goto done;
    }
    eic_log(LOG_DEBUG, "tunnel open");
    {
        struct eic_tunnel_params tp = {
            .role = EIC_WS_CLIENT,
            .stream_in = in,
            .stream_out = out,
            .ws = {.fd = c.fd},
            .ws_early = hs.early,
            .ws_early_len = hs.early_len,
            .should_stop = signalled,
        };
        struct eic_tunnel_result tr;

        if (c.ssl != NULL) {
            tp.ws = (struct eic_ws_conn){.fd = c.fd, .ctx = &c, .read = tls_read, .write = tls_write,
                                         .pending = tls_pending};
        }
        ret = eic_tunnel_run(&tp, &tr);
        eic_log(LOG_DEBUG, "tunnel closed: %llu bytes sent, %llu received: %s", (unsigned long long)tr.bytes_sent,
                (unsigned long long)tr.bytes_received, tr.reason);
        status = ret == 0 || ret == ECANCELED || ret == ETIMEDOUT ? EIC_EXIT_OK : EIC_EXIT_OTHER;
        if (status != EIC_EXIT_OK) {
            fprintf(stderr, "eic: the tunnel ended: %s\n", tr.reason);
        }
    }
done:
    conn_close(&c);
    handshake_free(&hs);
    /* The presigned URL is a credential for 60 seconds. */
    if (query != NULL) {
        OPENSSL_cleanse(query, strlen(query));
    }
    if (path_query != NULL) {
        OPENSSL_cleanse(path_query, strlen(path_query));
    }
    free(query);
    free(path_query);
    return status;
}

/* --local-port: listen on 127.0.0.1:port and open one tunnel per accepted connection, each in a
 * child process, until SIGINT/SIGTERM/SIGHUP; then the children are told to close (SIGTERM) and
 * waited for. Returns the exit status. */
static int serve_local_port(const struct tunnel_target *t, unsigned int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pid_t kids[MAX_LOCAL_TUNNELS];
    size_t n_kids = 0;
    int one = 1;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "eic: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return EIC_EXIT_OTHER;
    }
    fprintf(stderr, "Listening for connections on port %u.\n", port);
    while (stop_signal == 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int conn;
        pid_t pid;

        /* Forget the children that ended. */
        for (size_t i = 0; i < n_kids;) {
            if (waitpid(kids[i], NULL, WNOHANG) == kids[i]) {
                kids[i] = kids[--n_kids];
            } else {
                i++;
            }
        }
        /* At the limit, connections wait in the backlog until a tunnel ends. */
        if (n_kids == MAX_LOCAL_TUNNELS || poll(&p, 1, 250) <= 0) {
            if (n_kids == MAX_LOCAL_TUNNELS) {
                poll(NULL, 0, 250);
            }
            continue;
        }
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            continue;
        }
        pid = fork();
        if (pid == 0) {
            close(fd);
            _exit(run_tunnel(t, conn, conn));
        }
        if (pid > 0) {
            kids[n_kids++] = pid;
            eic_log(LOG_DEBUG, "connection to port %u: tunnel in process %ld", port, (long)pid);
        } else {
            fprintf(stderr, "eic: cannot start a tunnel: %s\n", strerror(errno));
        }
        close(conn);
    }
    close(fd);
    /* Each open tunnel is closed with a close frame (SIGTERM: should_stop), then waited for. */
    for (size_t i = 0; i < n_kids; i++) {
        kill(kids[i], SIGTERM);
    }
    for (size_t i = 0; i < n_kids; i++) {
        while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return EIC_EXIT_OK;
}

static int service_error(const char *operation, const struct eic_api_result *r)
{
    switch (r->outcome) {
    case EIC_API_SERVICE_ERROR:
        fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n",
                r->error_code ? r->error_code : "Unknown", operation, r->error_message);
        return EIC_EXIT_SERVICE;
    case EIC_API_BAD_ENDPOINT:
        return eic_usage_error(CMD, "%s", r->error_message);
    case EIC_API_OK:
        return EIC_EXIT_OK;
    case EIC_API_FAILED:
    default:
        fprintf(stderr, "\n%s\n", r->error_message);
        return EIC_EXIT_OTHER;
    }
}

int eic_cmd_open_tunnel(int argc, char **argv)
{
    const char *instance_id = NULL, *endpoint_id = NULL, *dns_name = NULL, *private_ip = NULL, *port_arg = NULL;
    const char *duration_arg = NULL, *local_port = NULL, *region_arg = NULL, *endpoint = NULL, *profile = NULL;
    const char *status_file = NULL;
    bool want_help = false, debug = false;
    const struct eic_opt opts[] = {
        {"instance-id", &instance_id, NULL},
        {"instance-connect-endpoint-id", &endpoint_id, NULL},
        {"instance-connect-endpoint-dns-name", &dns_name, NULL},
        {"private-ip-address", &private_ip, NULL},
        {"remote-port", &port_arg, NULL},
        {"max-tunnel-duration", &duration_arg, NULL},
        {"local-port", &local_port, NULL},
        {"region", &region_arg, NULL},
        {"endpoint-url", &endpoint, NULL},
        {"profile", &profile, NULL},
        {"debug", NULL, &debug},
        {"help", NULL, &want_help},
        {"status-file", &status_file, NULL}, /* eic ssh's: where a refusal is noted */
    };
    struct eic_credentials creds = {0};
    struct eic_instance_info info = {0};
    struct eic_endpoint_list endpoints = {0};
    struct eic_api_result result = {0};
    struct eic_api_call call = {0};
    struct eic_api_endpoint ep = {0};
    struct tunnel_target target;
    struct sigaction stop = {.sa_handler = on_stop_signal}, ign = {.sa_handler = SIG_IGN};
    char *region = NULL, *params = NULL, *host_header = NULL, *api_err = NULL;
    char *esc_ip = NULL;
    const char *connect_host, *connect_port;
    bool tls;
    long port = 22, duration = 0, listen_port = 0;
    unsigned char addr[sizeof(struct in6_addr)];
    char err[512] = "";
    int status;
    int ret;

    status = eic_args_parse(CMD, argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (status != 0) {
        return status;
    }
    if (want_help) {
        help(stdout);
        return EIC_EXIT_OK;
    }
    if (instance_id == NULL) {
        return eic_usage_error(CMD, "the following arguments are required: --instance-id");
    }
    if (local_port != NULL && !parse_long(local_port, 1, 65535, &listen_port)) {
        return eic_usage_error(CMD, "argument --local-port: '%s' is not a port number (1..65535)", local_port);
    }
    if (port_arg != NULL && !parse_long(port_arg, 1, 65535, &port)) {
        return eic_usage_error(CMD, "argument --remote-port: '%s' is not a port number (1..65535)", port_arg);
    }
    if (duration_arg != NULL && !parse_long(duration_arg, 1, MAX_DURATION, &duration)) {
        return eic_usage_error(CMD, "argument --max-tunnel-duration: '%s' is not 1..%d seconds", duration_arg,
                               MAX_DURATION);
    }
    if (endpoint_id != NULL && !valid_endpoint_id(endpoint_id)) {
        return eic_usage_error(CMD, "argument --instance-connect-endpoint-id: '%s' is not an endpoint id (eice-...)",
                               endpoint_id);
    }
    if (dns_name != NULL && !valid_dns(dns_name)) {
        return eic_usage_error(CMD, "argument --instance-connect-endpoint-dns-name: '%s' is not a DNS name", dns_name);
    }
    if (private_ip != NULL && inet_pton(AF_INET, private_ip, addr) != 1 && inet_pton(AF_INET6, private_ip, addr) != 1) {
        return eic_usage_error(CMD, "argument --private-ip-address: '%s' is not an IP address", private_ip);
    }
    if (debug) {
        eic_log_set_level(LOG_DEBUG);
    }
    sigemptyset(&stop.sa_mask);
    sigemptyset(&ign.sa_mask);
    /* ssh ends its ProxyCommand with SIGHUP/SIGTERM: close the tunnel properly then. A reader
     * that went away is seen as EPIPE, not as a fatal signal. */
    sigaction(SIGHUP, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGPIPE, &ign, NULL);

    ret = eic_region_resolve(region_arg, profile, NULL, &region, err, sizeof(err));
    if (ret == 0) {
        ret = eic_credentials_resolve(profile, &creds, err, sizeof(err));
    }
    if (ret != 0) {
        fprintf(stderr, "%s\n", ret == ENOMEM ? "out of memory" : err);
        status = ret == ENOMEM ? EIC_EXIT_OTHER : EIC_EXIT_CONFIG;
        goto done;
    }
    call.endpoint_url = endpoint;
    call.region = region;
    call.credentials = &creds;
    call.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    call.read_timeout_ms = 60000;
    call.ca_bundle = getenv("AWS_CA_BUNDLE");
    if (call.ca_bundle != NULL && call.ca_bundle[0] == '\0') {
        call.ca_bundle = NULL; /* set but empty: the system's CAs, as botocore does */
    }

    /* 1. What is missing. */
    if (private_ip == NULL || endpoint_id == NULL) {
        eic_ec2_describe_instance(&call, instance_id, &info, &result);
        status = service_error("DescribeInstances", &result);
        eic_api_result_free(&result);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        if (private_ip == NULL) {
            private_ip = info.private_ipv4;
        }
        if (private_ip == NULL) {
            fprintf(stderr, "eic: instance %s has no private IPv4 address\n", instance_id);
            status = EIC_EXIT_OTHER;
            goto done;
        }
    }
    if (endpoint_id == NULL || (dns_name == NULL && endpoint == NULL)) {
        const struct eic_endpoint *chosen;

        eic_ec2_describe_endpoints(&call, endpoint_id, endpoint_id ? NULL : info.vpc_id, &endpoints, &result);
        status = service_error("DescribeInstanceConnectEndpoints", &result);
        eic_api_result_free(&result);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        chosen = endpoint_id != NULL ? (endpoints.n > 0 ? &endpoints.items[0] : NULL)
                                     : eic_endpoint_choose(&endpoints, info.vpc_id, info.subnet_id);
        if (chosen == NULL || chosen->dns_name == NULL) {
            fprintf(stderr, endpoint_id ? "eic: there is no available Instance Connect Endpoint %s\n"
                                        : "eic: there is no Instance Connect Endpoint in the VPC of %s (%s) in state "
                                          "create-complete\n",
                    endpoint_id ? endpoint_id : instance_id, info.vpc_id ? info.vpc_id : "VPC unknown");
            status = EIC_EXIT_SERVICE;
            goto done;
        }
        endpoint_id = chosen->id;
        dns_name = dns_name ? dns_name : chosen->dns_name;
    }
    eic_log(LOG_DEBUG, "tunnel to %s port %ld of %s through %s (%s)", private_ip, port, instance_id, endpoint_id,
            dns_name ? dns_name : "-");

    /* 2. The presigned URL. */
    if (endpoint != NULL) {
        call.service = TUNNEL_SERVICE;
        ret = eic_api_endpoint_parse(&call, &ep, &api_err);
        if (ret != 0) {
            status = ret == ENOMEM ? EIC_EXIT_OTHER : eic_usage_error(CMD, "%s", api_err ? api_err : "bad URL");
            goto done;
        }
        tls = strcmp(ep.scheme, "https") == 0;
        connect_host = ep.host;
        connect_port = ep.port;
        host_header = strdup(ep.host_header);
    } else {
        tls = true;
        connect_host = dns_name;
        connect_port = "443";
        host_header = strdup(dns_name);
    }
    esc_ip = curl_easy_escape(NULL, private_ip, 0);
    /* The parameters in the AWS CLI's order; maxTunnelDuration only when given. */
    if (host_header == NULL || esc_ip == NULL ||
        (duration > 0 ? asprintf(&params, "instanceConnectEndpointId=%s&remotePort=%ld&privateIpAddress=%s"
                                          "&maxTunnelDuration=%ld", endpoint_id, port, esc_ip, duration)
                      : asprintf(&params, "instanceConnectEndpointId=%s&remotePort=%ld&privateIpAddress=%s",
                                 endpoint_id, port, esc_ip)) < 0) {
        params = NULL;
        status = EIC_EXIT_OTHER;
        goto done;
    }
    eic_log(LOG_DEBUG, "%s://%s/openTunnel?%s", tls ? "wss" : "ws", host_header, params);
    target = (struct tunnel_target){
        .tls = tls, .connect_host = connect_host, .connect_port = connect_port, .host_header = host_header,
        .params = params, .region = region, .creds = &creds, .ca_bundle = call.ca_bundle,
        .endpoint_id = endpoint_id, .status_file = status_file,
    };

    /* 3. Connect, upgrade, relay: stdin/stdout, or each connection to the local port. */
    if (local_port == NULL) {
        status = run_tunnel(&target, STDIN_FILENO, STDOUT_FILENO);
    } else {
        status = serve_local_port(&target, (unsigned int)listen_port);
    }
done:
    eic_api_endpoint_free(&ep);
    eic_endpoint_list_free(&endpoints);
    eic_instance_info_free(&info);
    eic_api_result_free(&result);
    eic_credentials_free(&creds);
    curl_free(esc_ip);
    free(params);
    free(host_header);
    free(api_err);
    free(region);
    return status;
}
