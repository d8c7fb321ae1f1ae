/* One Instance Connect Endpoint tunnel after the WebSocket handshake: bytes of a stream (the TCP
 * connection to the instance in the emulator; stdin/stdout of `eic open-tunnel`) go both ways
 * as binary WebSocket frames (eic_ws.h). The same loop runs on both ends; only the role differs
 * (a client masks what it sends and refuses masked frames, a server the other way round).
 *
 * Behaviour: one poll(2) loop over non-blocking descriptors with bounded buffers (a side is only
 * read while the other side's queue has room, so a slow reader slows the writer instead of
 * growing memory); pings are answered with pongs; data frames are streamed as they arrive
 * (fragmented messages too), text frames are refused (close 1003), a frame longer than
 * EIC_TUNNEL_MAX_FRAME ends the tunnel (close 1009) and any protocol error too (close 1002).
 * End of the stream, a close from the peer or the deadline sends a close frame; the peer's
 * answer is awaited at most EIC_TUNNEL_CLOSE_WAIT_MS. */
#ifndef EIC_TUNNEL_H
#define EIC_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eic_ws.h"

#define EIC_TUNNEL_MAX_FRAME (1024 * 1024) /* payload bytes of one received frame */
#define EIC_TUNNEL_CHUNK (16 * 1024)        /* stream bytes per frame sent, and per read */
#define EIC_TUNNEL_QUEUE (256 * 1024)       /* a side is not read while the other's queue is fuller */
#define EIC_TUNNEL_CLOSE_WAIT_MS 5000

/* The WebSocket connection. With read/write NULL, plain read(2)/write(2) on fd; else (TLS) they
 * return bytes moved, 0 at end of stream, or -1 with errno EAGAIN and *want set to the poll
 * event (POLLIN or POLLOUT) that must come first; pending says how many decrypted bytes wait
 * (poll would not see them). */
struct eic_ws_conn {
    int fd;
    void *ctx;
    ssize_t (*read)(void *ctx, void *buf, size_t len, short *want);
    ssize_t (*write)(void *ctx, const void *buf, size_t len, short *want);
    size_t (*pending)(void *ctx);
};

struct eic_tunnel_params {
    enum eic_ws_role role;
    int stream_in;            /* bytes to send (may equal stream_out: a socket) */
    int stream_out;           /* bytes received */
    struct eic_ws_conn ws;
    const uint8_t *ws_early;  /* bytes already read from the WebSocket connection, or NULL */
    size_t ws_early_len;
    long long deadline_ms;    /* CLOCK_MONOTONIC milliseconds at which the tunnel is closed; 0: none */
    /* Checked at least every 250 ms; true ends the tunnel (close 1001). NULL: never. */
    bool (*should_stop)(void *ctx);
    void *stop_ctx;
};

struct eic_tunnel_result {
    uint64_t bytes_sent;      /* stream bytes sent as frame payload */
    uint64_t bytes_received;  /* frame payload bytes written to the stream */
    uint16_t close_sent;      /* 0: none */
    uint16_t close_received;  /* 0: none */
    const char *reason;       /* why it ended, for the log (static text) */
};

/* Run the tunnel to its end. Returns 0 for an orderly end (a close exchanged, or the stream's
 * end), EPROTO (the peer broke the protocol), ECONNRESET (the connection dropped without a
 * close), ETIMEDOUT (the deadline), ECANCELED (should_stop), ENOMEM or another errno of I/O.
 * The descriptors are left open (and non-blocking). */
int eic_tunnel_run(const struct eic_tunnel_params *p, struct eic_tunnel_result *result);

/* CLOCK_MONOTONIC in milliseconds. */
long long eic_tunnel_now_ms(void);

#endif
