/* The emulated Instance Connect Endpoint: OpenTunnel, as the AWS CLI's `ec2-instance-connect
 * open-tunnel` uses it. A WebSocket (RFC 6455) request
 *
 *   GET /openTunnel?instanceConnectEndpointId=eice-...&remotePort=22&privateIpAddress=10.0.0.5
 *       [&maxTunnelDuration=3600]&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...
 *       &X-Amz-Date=...&X-Amz-Expires=60&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
 *       &X-Amz-Signature=...
 *   Upgrade: websocket / Connection: Upgrade / Sec-WebSocket-Version: 13 / Sec-WebSocket-Key: ...
 *
 * presigned with SigV4 for service ec2-instance-connect, is checked (emu_tunnel_check), answered
 * 101 and then relays the bytes of a real TCP connection to privateIpAddress:remotePort as
 * binary frames (eic_tunnel.h) until either side closes or maxTunnelDuration passes. Refusals
 * come before the upgrade, as HTTP 4xx with a JSON error body like the push API's. */
#ifndef EMU_TUNNEL_H
#define EMU_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "emu_server.h"

#define EMU_TUNNEL_PATH "/openTunnel"
/* Presigned URLs: SigV4's limit of seven days. The AWS CLI signs for 60 s, other SDKs' presigners
 * for longer (900 s is a common default); AWS accepts them. */
#define EMU_TUNNEL_MAX_EXPIRES 604800
#define EMU_TUNNEL_MAX_DURATION 3600       /* maxTunnelDuration 1..3600, default 3600 */
#define EMU_TUNNEL_CONNECT_TIMEOUT_MS 5000

/* What an accepted request asks for. */
struct emu_tunnel_plan {
    char endpoint_id[32];
    const char *principal_arn;      /* the world's */
    struct sockaddr_storage target;
    socklen_t target_len;
    char target_text[64];           /* "ADDR:PORT" for the log */
    long max_duration;              /* seconds */
    char accept[29];                /* Sec-WebSocket-Accept */
};

/* Whether req is for OpenTunnel (its path is /openTunnel). */
bool emu_tunnel_request(const struct emu_request *req);

/* Check a request in order: method GET, WebSocket upgrade headers, the presigned signature, the
 * parameters, the policy, the endpoint (exists, create-complete), the address (an address of the
 * instance, which is in the endpoint's VPC) and the port (one the endpoint allows). Returns 0 with
 * *go set and plan filled when the tunnel may open, 0 with reply filled (a refusal, logged) when
 * not, or an errno value (internal failure). */
int emu_tunnel_check(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply,
                     struct emu_tunnel_plan *plan, bool *go);

/* Connect to the plan's target (bounded by EMU_TUNNEL_CONNECT_TIMEOUT_MS). Returns a connected
 * socket (close-on-exec) or -1 with errno set. */
int emu_tunnel_connect(const struct emu_tunnel_plan *plan);

/* Relay between the upgraded client connection ws_fd (early: bytes libmicrohttpd already read
 * from it) and tcp_fd until the tunnel ends; one log line when it opens and one when it closes
 * with the bytes each way. Closes tcp_fd; ws_fd stays the caller's. */
void emu_tunnel_relay(struct emu_server *srv, const struct emu_tunnel_plan *plan, int tcp_fd, int ws_fd,
                      const char *early, size_t early_len, const char *remote);

#endif
