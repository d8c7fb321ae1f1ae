#include "emu_tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "eic_log.h"
#include "eic_sigv4.h"
#include "eic_tunnel.h"
#include "eic_ws.h"
#include "emu_push.h"

#define MSG_LEN 512

bool emu_tunnel_request(const struct emu_request *req)
{
    return strcmp(req->path, EMU_TUNNEL_PATH) == 0;
}

/* A refusal: logged with its reason, answered with the JSON error shape of the service. */
static int refuse(struct emu_reply *reply, const struct emu_request *req, unsigned int status, const char *type,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(struct emu_reply *reply, const struct emu_request *req, unsigned int status, const char *type,
                  const char *fmt, ...)
{
    char msg[MSG_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    eic_log(LOG_NOTICE, "tunnel refused (%u %s) from %s: %s", status, type, req->remote ? req->remote : "?", msg);
    return emu_push_error(reply, status, type, msg);
}

/* Whether the comma-separated header value list has token (case-insensitive), as
 * "Connection: keep-alive, Upgrade". */
static bool has_token(const char *list, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t')) {
            return true;
        }
        p = strchr(p, ',');
    }
    return false;
}

/* A decimal number in [min, max] without sign, spaces or leading garbage. */
static bool parse_number(const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 10) {
        return false;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

enum { P_ENDPOINT, P_PORT, P_ADDRESS, P_DURATION, P_COUNT };
static const char *const param_names[P_COUNT] = {
    "instanceConnectEndpointId", "remotePort", "privateIpAddress", "maxTunnelDuration",
};

/* The address of the world's instance that equals text (compared as addresses, so that any
 * spelling of the same IPv6 address is the same), as a socket address with port. */
static bool instance_address(const struct emu_world *w, const char *text, long port, struct emu_tunnel_plan *plan)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&plan->target;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&plan->target;
    struct in6_addr a6, mine6;
    struct in_addr a4, mine4;

    memset(&plan->target, 0, sizeof(plan->target));
    if (inet_pton(AF_INET, text, &a4) == 1) {
        /* An Instance Connect Endpoint reaches private IPv4 addresses (the API's parameter is
         * privateIpAddress); the IPv6 one counts too, as AWS allows it for dual-stack subnets. */
        if (w->private_ip == NULL || inet_pton(AF_INET, w->private_ip, &mine4) != 1 || a4.s_addr != mine4.s_addr) {
            return false;
        }
        sin->sin_family = AF_INET;
        sin->sin_addr = a4;
        sin->sin_port = htons((uint16_t)port);
        plan->target_len = sizeof(*sin);
        snprintf(plan->target_text, sizeof(plan->target_text), "%s:%ld", w->private_ip, port);
        return true;
    }
    if (inet_pton(AF_INET6, text, &a6) == 1 && w->ipv6 != NULL && inet_pton(AF_INET6, w->ipv6, &mine6) == 1 &&
        memcmp(&a6, &mine6, sizeof(a6)) == 0) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = a6;
        sin6->sin6_port = htons((uint16_t)port);
        plan->target_len = sizeof(*sin6);
        snprintf(plan->target_text, sizeof(plan->target_text), "[%s]:%ld", w->ipv6, port);
        return true;
    }
    return false;
}

static int check_upgrade(const struct emu_request *req, struct emu_reply *reply, struct emu_tunnel_plan *plan,
                         bool *refused)
{
    const char *upgrade = emu_request_header(req, "Upgrade");
    const char *connection = emu_request_header(req, "Connection");
    const char *version = emu_request_header(req, "Sec-WebSocket-Version");
    const char *key = emu_request_header(req, "Sec-WebSocket-Key");

    *refused = true;
    if (upgrade == NULL || strcasecmp(upgrade, "websocket") != 0 || connection == NULL ||
        !has_token(connection, "upgrade")) {
        return refuse(reply, req, 400, "ValidationException",
                      "OpenTunnel is a WebSocket request: Upgrade: websocket and Connection: Upgrade are required");
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        return refuse(reply, req, 400, "ValidationException", "Sec-WebSocket-Version must be 13");
    }
    if (key == NULL || eic_ws_accept_value(key, plan->accept) != 0) {
        return refuse(reply, req, 400, "ValidationException",
                      "Sec-WebSocket-Key must be the base64 of 16 bytes");
    }
    *refused = false;
    return 0;
}

int emu_tunnel_check(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply,
                     struct emu_tunnel_plan *plan, bool *go)
{
    const struct emu_world *w = srv->world;
    const struct emu_principal *principal = NULL;
    const struct emu_endpoint *ep;
    char *values[P_COUNT] = {NULL};
    char msg[EMU_PUSH_MSG_LEN];
    long port = 0, duration = EMU_TUNNEL_MAX_DURATION;
    bool refused = true, port_ok = false;
    int ret;

    *go = false;
    memset(plan, 0, sizeof(*plan));
    if (strcmp(req->method, "GET") != 0) {
        return refuse(reply, req, 405, "ValidationException", "OpenTunnel is GET %s", EMU_TUNNEL_PATH);
    }
    ret = check_upgrade(req, reply, plan, &refused);
    if (ret != 0 || refused) {
        return ret;
    }
    ret = emu_push_verify_presigned(srv, req, EMU_PUSH_SERVICE, EMU_TUNNEL_MAX_EXPIRES, &principal, msg);
    if (ret == EACCES) {
        return refuse(reply, req, 403, "AccessDeniedException", "%s", msg);
    }
    if (ret != 0) {
        return ret;
    }
    for (int i = 0; i < P_COUNT; i++) {
        ret = eic_sigv4_query_get(req->query, param_names[i], &values[i]);
        if (ret == ENOMEM) {
            goto done;
        }
        if (ret == EBADMSG || (ret == ENOENT && i != P_DURATION)) {
            ret = refuse(reply, req, 400, "ValidationException", "%s parameter %s", ret == ENOENT ? "Missing" :
                         "Malformed or repeated", param_names[i]);
            goto done;
        }
    }
    ret = 0;
    if (!parse_number(values[P_PORT], 1, 65535, &port)) {
        ret = refuse(reply, req, 400, "ValidationException", "remotePort must be a port number 1..65535");
        goto done;
    }
    if (values[P_DURATION] != NULL && !parse_number(values[P_DURATION], 1, EMU_TUNNEL_MAX_DURATION, &duration)) {
        ret = refuse(reply, req, 400, "ValidationException", "maxTunnelDuration must be 1..%d seconds",
                     EMU_TUNNEL_MAX_DURATION);
        goto done;
    }
    if (strlen(values[P_ENDPOINT]) >= sizeof(plan->endpoint_id)) {
        ret = refuse(reply, req, 400, "ValidationException", "instanceConnectEndpointId is too long");
        goto done;
    }
    if (!emu_world_allows_tunnel(w, principal->arn, values[P_ENDPOINT])) {
        ret = refuse(reply, req, 403, "AccessDeniedException",
                     "User: %s is not authorized to perform: ec2-instance-connect:OpenTunnel on resource: "
                     "%.32s", principal->arn, values[P_ENDPOINT]);
        goto done;
    }
    ep = emu_world_endpoint(w, values[P_ENDPOINT]);
    if (ep == NULL) {
        ret = refuse(reply, req, 404, "ResourceNotFoundException", "The instance connect endpoint %.32s does not exist",
                     values[P_ENDPOINT]);
        goto done;
    }
    if (strcmp(ep->state, "create-complete") != 0) {
        ret = refuse(reply, req, 400, "ValidationException", "The instance connect endpoint %s is %s, not "
                     "create-complete", ep->id, ep->state);
        goto done;
    }
    if (strcmp(ep->vpc_id, w->vpc_id) != 0 || !instance_address(w, values[P_ADDRESS], port, plan)) {
        ret = refuse(reply, req, 400, "ValidationException", "privateIpAddress %.64s is not an address of an instance "
                     "in %s (the VPC of %s)", values[P_ADDRESS], ep->vpc_id, ep->id);
        goto done;
    }
    for (size_t i = 0; i < ep->n_remote_ports; i++) {
        port_ok = port_ok || ep->remote_ports[i] == (unsigned int)port;
    }
    if (!port_ok) {
        ret = refuse(reply, req, 403, "AccessDeniedException", "remotePort %ld is not allowed through %s", port,
                     ep->id);
        goto done;
    }
    snprintf(plan->endpoint_id, sizeof(plan->endpoint_id), "%s", ep->id);
    plan->principal_arn = principal->arn;
    plan->max_duration = duration;
    *go = true;
done:
    for (int i = 0; i < P_COUNT; i++) {
        free(values[i]);
    }
    return ret;
}

int emu_tunnel_connect(const struct emu_tunnel_plan *plan)
{
    struct pollfd pfd;
    int fd = socket(plan->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int err = 0;
    socklen_t len = sizeof(err);
    int ready;

    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&plan->target, plan->target_len) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        err = errno;
        goto fail;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        ready = poll(&pfd, 1, EMU_TUNNEL_CONNECT_TIMEOUT_MS);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        err = ready == 0 ? ETIMEDOUT : errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err == 0) {
        return fd;
    }
fail:
    close(fd);
    errno = err;
    return -1;
}

static bool stopping(void *ctx)
{
    return emu_server_stopping(ctx);
}

void emu_tunnel_relay(struct emu_server *srv, const struct emu_tunnel_plan *plan, int tcp_fd, int ws_fd,
                      const char *early, size_t early_len, const char *remote)
{
    struct eic_tunnel_params params = {
        .role = EIC_WS_SERVER,
        .stream_in = tcp_fd,
        .stream_out = tcp_fd,
        .ws = {.fd = ws_fd},
        .ws_early = (const uint8_t *)early,
        .ws_early_len = early_len,
        .deadline_ms = eic_tunnel_now_ms() + plan->max_duration * 1000LL,
        .should_stop = stopping,
        .stop_ctx = srv,
    };
    struct eic_tunnel_result result;
    long long started = eic_tunnel_now_ms();
    int ret;

    eic_log(LOG_INFO, "tunnel open: %s -> %s through %s by %s (max %ld s)", remote, plan->target_text,
            plan->endpoint_id, plan->principal_arn, plan->max_duration);
    ret = eic_tunnel_run(&params, &result);
    /* The line the end-to-end tests read to prove that a login went through the tunnel. */
    eic_log(LOG_INFO, "tunnel closed: %s -> %s through %s: %llu bytes to the instance, %llu bytes from it, %lld ms, "
                      "close sent %u received %u: %s (%s)",
            remote, plan->target_text, plan->endpoint_id, (unsigned long long)result.bytes_received,
            (unsigned long long)result.bytes_sent, eic_tunnel_now_ms() - started, result.close_sent,
            result.close_received, result.reason, ret == 0 ? "ok" : strerror(ret));
    close(tcp_fd);
}
