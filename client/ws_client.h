/* The client end of an Instance Connect Endpoint tunnel up to the WebSocket upgrade: TCP to port
 * 443 (each address of the name in turn, one deadline), TLS (OpenSSL, TLS >= 1.2, the system's CAs
 * or a CA bundle, the host name verified with SSL_set1_host, SNI): wss only, as the endpoints
 * serve nothing else, so no plaintext path exists to fall back to; and the RFC 6455 handshake
 * (random key, 101 with Upgrade: websocket and the right Sec-WebSocket-Accept required; any other
 * status is the service refusing, its JSON error kept). The bytes afterwards belong to
 * lib/aws/eic_tunnel.h, to which eic_ws_client_tunnel_conn hands the connection. */
#ifndef EIC_CLIENT_WS_CLIENT_H
#define EIC_CLIENT_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "eic_tunnel.h"

struct eic_ws_client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

struct eic_ws_handshake {
    char *head;          /* the response's status line and headers */
    int status;
    uint8_t *early;      /* bytes after the headers (the first frames), owned */
    size_t early_len;
    char *error_type;    /* a refusal's error */
    char *error_message;
};

/* Connect to host port 443 and start TLS within timeout_ms. Returns 0, or an errno value with err
 * saying what failed (resolving, connecting, the certificate). Close with eic_ws_client_close
 * either way. */
int eic_ws_client_connect(struct eic_ws_client *c, const char *host, const char *ca_bundle, long timeout_ms,
                          char *err, size_t err_len);
/* Send "GET path_query" with the upgrade headers and read the answer's head (at most 16 KiB,
 * 30 s). Returns 0 with h->status set (101: upgraded, h->early holds the first frame bytes; else
 * h->error_type/error_message may hold the service's error), or an errno value with err set. */
int eic_ws_client_handshake(struct eic_ws_client *c, const char *host_header, const char *path_query,
                            struct eic_ws_handshake *h, char *err, size_t err_len);
/* The connection in eic_tunnel.h's terms (non-blocking TLS read/write). */
void eic_ws_client_tunnel_conn(struct eic_ws_client *c, struct eic_ws_conn *out);
void eic_ws_client_close(struct eic_ws_client *c);
void eic_ws_handshake_free(struct eic_ws_handshake *h);

#endif
