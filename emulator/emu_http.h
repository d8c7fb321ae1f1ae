/* The HTTP side of the emulator: one libmicrohttpd daemon per --listen address (HTTPS for a
 * --tls-listen one: libmicrohttpd's GnuTLS, WebSocket upgrades included), a thread per
 * connection (so a hanging or slow request never blocks another), request bodies capped at
 * EMU_MAX_BODY, fault injection, and dispatch to the IMDS and push handlers. */
#ifndef EMU_HTTP_H
#define EMU_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "emu_pki.h"
#include "emu_server.h"

#define EMU_MAX_LISTENERS 16
#define EMU_CONNECTION_TIMEOUT 10   /* seconds of client silence before a connection is closed */
#define EMU_CONNECTION_LIMIT 1000   /* per listener */

struct emu_listen {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[72];        /* "127.0.0.1" or "[::1]" */
    unsigned int port;    /* as asked; the bound port once started */
    bool tls;             /* --tls-listen: HTTPS and wss (never IMDS) */
};

/* Parse "ADDR:PORT" (IPv4 literal, or an IPv6 literal in brackets; port 0..65535, 0 picks a
 * free one). Returns 0 or EINVAL with a reason in err. */
int emu_listen_parse(const char *spec, struct emu_listen *out, char *err, size_t err_len);

/* Hand one request to the IMDS, EC2 or push API handler by its path and shape (no fault
 * injection: that is the transport's). Returns as the handlers do. Also the fuzzer's entry. */
int emu_http_dispatch(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

struct emu_http;

/* Start listening on every address (ports of 0 are replaced by the bound ones); the listeners
 * marked tls serve HTTPS with tls's certificate (TLS 1.2 or 1.3). Returns 0 or an errno value
 * (logged). */
int emu_http_start(struct emu_server *srv, struct emu_listen *listens, size_t n, const struct emu_tls_creds *tls,
                   struct emu_http **out);
/* Wake waiting requests (emu_server_stop), close every listener and connection, free. */
void emu_http_stop(struct emu_http *http);

#endif
