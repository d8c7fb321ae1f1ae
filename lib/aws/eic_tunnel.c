#include "eic_tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define POLL_SLICE_MS 250

/* A byte queue: appended at the end, consumed from the front. Hard cap twice the soft one: the
 * soft cap (EIC_TUNNEL_QUEUE) decides whether a side is read at all, and one read adds at most
 * one chunk or a few control frames beyond it. */
struct queue {
    uint8_t *data;
    size_t len;
    size_t cap;
};

#define QUEUE_HARD_CAP (2 * EIC_TUNNEL_QUEUE + EIC_TUNNEL_CHUNK + EIC_WS_MAX_HEADER)

static int queue_append(struct queue *q, const void *data, size_t n)
{
    if (n > QUEUE_HARD_CAP - q->len) {
        return EMSGSIZE;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        uint8_t *grown;

        while (cap < q->len + n) {
            cap *= 2;
        }
        grown = realloc(q->data, cap);
        if (grown == NULL) {
            return ENOMEM;
        }
        q->data = grown;
        q->cap = cap;
    }
    memcpy(q->data + q->len, data, n);
    q->len += n;
    return 0;
}

static void queue_consume(struct queue *q, size_t n)
{
    memmove(q->data, q->data + n, q->len - n);
    q->len -= n;
}

struct tunnel {
    const struct eic_tunnel_params *p;
    struct eic_tunnel_result *r;
    struct queue from_ws;   /* raw bytes from the WebSocket connection, not yet decoded */
    struct queue to_ws;     /* encoded frames */
    struct queue to_stream; /* payload bytes */
    struct eic_ws_header frame; /* the data frame whose payload is being streamed */
    bool in_frame;
    uint64_t frame_done;
    struct eic_ws_sequence seq;
    bool stream_eof, stream_broken;
    bool ws_eof;            /* nothing more can be read from the WebSocket connection */
    bool ws_dead;           /* nothing more can be written to it */
    bool close_sent, close_received;
    long long close_sent_at;
    int end;                /* the return value once the close exchange is over */
    short ws_read_want, ws_write_want;
};

long long eic_tunnel_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_frame(struct tunnel *t, uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t header[EIC_WS_MAX_HEADER];
    uint8_t mask[4];
    bool masked = t->p->role == EIC_WS_CLIENT;
    size_t start;
    size_t hlen;
    int ret;

    /* A client's masking key must be unpredictable (RFC 6455 section 10.3). */
    if (masked && RAND_bytes(mask, sizeof(mask)) != 1) {
        return EIO;
    }
    hlen = eic_ws_header_encode(header, true, opcode, masked ? mask : NULL, len);
    ret = queue_append(&t->to_ws, header, hlen);
    start = t->to_ws.len;
    if (ret == 0 && len > 0) {
        ret = queue_append(&t->to_ws, payload, len);
    }
    if (ret == 0 && masked) {
        eic_ws_mask(t->to_ws.data + start, len, mask, 0);
    }
    return ret;
}

static int send_close(struct tunnel *t, uint16_t code, int end, const char *reason)
{
    uint8_t payload[2];

    if (t->close_sent) {
        return 0;
    }
    t->close_sent = true;
    t->close_sent_at = eic_tunnel_now_ms();
    t->r->close_sent = code;
    t->end = end;
    if (t->r->reason == NULL) {
        t->r->reason = reason;
    }
    return send_frame(t, EIC_WS_OP_CLOSE, payload, eic_ws_close_payload(payload, code));
}

/* A protocol violation by the peer: say why in a close frame, then wait for its close. */
static int refuse(struct tunnel *t, uint16_t code, const char *reason)
{
    return send_close(t, code, EPROTO, reason);
}

static int handle_control(struct tunnel *t, const struct eic_ws_header *h, uint8_t *payload)
{
    uint16_t code;

    if (h->masked) {
        eic_ws_mask(payload, (size_t)h->payload_len, h->mask, 0);
    }
    switch (h->opcode) {
    case EIC_WS_OP_PING:
        return t->close_sent ? 0 : send_frame(t, EIC_WS_OP_PONG, payload, (size_t)h->payload_len);
    case EIC_WS_OP_PONG:
        return 0;
    case EIC_WS_OP_CLOSE:
    default:
        if (eic_ws_close_code(payload, (size_t)h->payload_len, &code) != 0) {
            t->close_received = true;
            return refuse(t, EIC_WS_CLOSE_PROTOCOL, "malformed close frame");
        }
        t->close_received = true;
        t->r->close_received = code;
        /* Echo the status (section 5.5.1); "no status" is answered with a normal close. */
        return send_close(t, code == 1005 ? EIC_WS_CLOSE_NORMAL : code, 0, "closed by the peer");
    }
}

/* Decode what has arrived: control frames whole, data payload streamed to to_stream as far as
 * it has room. */
static int process_ws_input(struct tunnel *t)
{
    int ret = 0;

    while (ret == 0 && !t->close_received) {
        if (!t->in_frame) {
            struct eic_ws_header h;

            ret = eic_ws_header_decode(t->from_ws.data, t->from_ws.len, t->p->role, EIC_TUNNEL_MAX_FRAME, &h);
            if (ret == EAGAIN) {
                return 0;
            }
            if (ret == EMSGSIZE) {
                t->from_ws.len = 0;
                t->close_received = true; /* nothing more is read from this peer */
                return refuse(t, EIC_WS_CLOSE_TOO_BIG, "frame too large");
            }
            if (ret != 0 || eic_ws_sequence_next(&t->seq, &h) != 0) {
                t->from_ws.len = 0;
                t->close_received = true;
                return refuse(t, EIC_WS_CLOSE_PROTOCOL, "WebSocket protocol error");
            }
            if (h.opcode == EIC_WS_OP_TEXT) {
                t->from_ws.len = 0;
                t->close_received = true;
                return refuse(t, EIC_WS_CLOSE_UNSUPPORTED, "text frame (the tunnel carries binary frames)");
            }
            if ((h.opcode & 0x08) != 0) {
                uint8_t payload[EIC_WS_MAX_CONTROL];

                if (t->from_ws.len < h.header_len + h.payload_len) {
                    return 0; /* the whole control frame first (at most 139 bytes) */
                }
                memcpy(payload, t->from_ws.data + h.header_len, (size_t)h.payload_len);
                queue_consume(&t->from_ws, h.header_len + (size_t)h.payload_len);
                ret = handle_control(t, &h, payload);
                continue;
            }
            queue_consume(&t->from_ws, h.header_len);
            t->frame = h;
            t->in_frame = true;
            t->frame_done = 0;
        }
        {
            uint64_t remaining = t->frame.payload_len - t->frame_done;
            size_t n = t->from_ws.len;

            if (n > remaining) {
                n = (size_t)remaining;
            }
            if (t->to_stream.len >= EIC_TUNNEL_QUEUE) {
                n = 0;
            } else if (n > EIC_TUNNEL_QUEUE - t->to_stream.len) {
                n = EIC_TUNNEL_QUEUE - t->to_stream.len;
            }
            if (n == 0 && remaining > 0) {
                return 0;
            }
            if (t->frame.masked) {
                eic_ws_mask(t->from_ws.data, n, t->frame.mask, t->frame_done);
            }
            if (!t->stream_broken) {
                ret = queue_append(&t->to_stream, t->from_ws.data, n);
                t->r->bytes_received += n;
            }
            queue_consume(&t->from_ws, n);
            t->frame_done += n;
            if (t->frame_done == t->frame.payload_len) {
                t->in_frame = false;
            }
        }
    }
    return ret;
}

static ssize_t ws_read(struct tunnel *t, void *buf, size_t len)
{
    const struct eic_ws_conn *c = &t->p->ws;
    ssize_t n;

    t->ws_read_want = POLLIN;
    if (c->read != NULL) {
        return c->read(c->ctx, buf, len, &t->ws_read_want);
    }
    do {
        n = read(c->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t ws_write(struct tunnel *t, const void *buf, size_t len)
{
    const struct eic_ws_conn *c = &t->p->ws;
    ssize_t n;

    t->ws_write_want = POLLOUT;
    if (c->write != NULL) {
        return c->write(c->ctx, buf, len, &t->ws_write_want);
    }
    do {
        n = send(c->fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

static bool would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* One pass over whatever poll reported (or could be done without waiting). */
static int step(struct tunnel *t, short ws_revents, short in_revents, short out_revents)
{
    const struct eic_tunnel_params *p = t->p;
    uint8_t chunk[EIC_TUNNEL_CHUNK];
    bool ws_pending = p->ws.pending != NULL && p->ws.pending(p->ws.ctx) > 0;
    ssize_t n;
    int ret = 0;

    if (!t->ws_eof && (ws_pending || (ws_revents & (t->ws_read_want | POLLHUP | POLLERR)) != 0) &&
        t->from_ws.len < EIC_TUNNEL_QUEUE) {
        n = ws_read(t, chunk, sizeof(chunk));
        if (n > 0) {
            ret = queue_append(&t->from_ws, chunk, (size_t)n);
        } else if (n == 0) {
            t->ws_eof = true;
        } else if (!would_block()) {
            t->ws_eof = true;
        }
    }
    if (ret == 0) {
        ret = process_ws_input(t);
    }
    /* Written even after the peer's end of stream: a half-closed peer still gets the close. */
    if (ret == 0 && t->to_ws.len > 0 && !t->ws_dead && (ws_revents & (t->ws_write_want | POLLERR | POLLHUP)) != 0) {
        n = ws_write(t, t->to_ws.data, t->to_ws.len);
        if (n > 0) {
            queue_consume(&t->to_ws, (size_t)n);
        } else if (n == 0 || !would_block()) {
            t->ws_dead = true; /* nobody to write to: the connection is gone */
            t->ws_eof = true;
        }
    }
    if (ret == 0 && (in_revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !t->stream_eof && !t->close_sent) {
        do {
            n = read(p->stream_in, chunk, sizeof(chunk));
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            ret = send_frame(t, EIC_WS_OP_BINARY, chunk, (size_t)n);
            t->r->bytes_sent += (uint64_t)n;
        } else if (n == 0 || !would_block()) {
            t->stream_eof = true;
            ret = send_close(t, EIC_WS_CLOSE_NORMAL, 0, "the stream ended");
        }
    }
    if (ret == 0 && t->to_stream.len > 0 && (out_revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
        do {
            n = p->stream_out == p->stream_in ? send(p->stream_out, t->to_stream.data, t->to_stream.len, MSG_NOSIGNAL)
                                              : write(p->stream_out, t->to_stream.data, t->to_stream.len);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            queue_consume(&t->to_stream, (size_t)n);
        } else if (n == 0 || !would_block()) {
            /* The reader went away (ssh ended, the instance closed): drop what was meant for it. */
            t->stream_broken = true;
            t->to_stream.len = 0;
            ret = send_close(t, EIC_WS_CLOSE_NORMAL, 0, "the stream's reader went away");
        }
    }
    return ret;
}

int eic_tunnel_run(const struct eic_tunnel_params *p, struct eic_tunnel_result *result)
{
    struct tunnel t;
    int ret = 0;

    memset(result, 0, sizeof(*result));
    memset(&t, 0, sizeof(t));
    t.p = p;
    t.r = result;
    t.ws_read_want = POLLIN;
    t.ws_write_want = POLLOUT;
    set_nonblocking(p->ws.fd);
    set_nonblocking(p->stream_in);
    set_nonblocking(p->stream_out);
    if (p->ws_early_len > 0) {
        ret = queue_append(&t.from_ws, p->ws_early, p->ws_early_len);
    }
    while (ret == 0) {
        struct pollfd fds[3];
        nfds_t nfds = 0;
        int ws_i = -1, in_i = -1, out_i = -1;
        long long now = eic_tunnel_now_ms();
        long long timeout = POLL_SLICE_MS;
        bool same = p->stream_in == p->stream_out;

        ret = process_ws_input(&t);
        if (ret != 0) {
            break;
        }
        if (t.close_sent && (t.close_received || t.ws_eof) && (t.to_ws.len == 0 || t.ws_dead) &&
            (t.to_stream.len == 0 || t.stream_broken)) {
            ret = t.end;
            break;
        }
        if (t.ws_eof && !t.close_sent && (t.to_stream.len == 0 || t.stream_broken)) {
            result->reason = "the connection dropped without a close frame";
            ret = ECONNRESET;
            break;
        }
        if (t.close_sent && now - t.close_sent_at >= EIC_TUNNEL_CLOSE_WAIT_MS) {
            if (result->reason == NULL) {
                result->reason = "no answer to the close frame";
            }
            ret = t.end;
            break;
        }
        if (!t.close_sent && p->deadline_ms > 0 && now >= p->deadline_ms) {
            ret = send_close(&t, EIC_WS_CLOSE_NORMAL, ETIMEDOUT, "the maximum tunnel duration was reached");
            continue;
        }
        if (!t.close_sent && p->should_stop != NULL && p->should_stop(p->stop_ctx)) {
            ret = send_close(&t, EIC_WS_CLOSE_GOING_AWAY, ECANCELED, "shutting down");
            continue;
        }

        fds[nfds] = (struct pollfd){.fd = p->ws.fd};
        if (!t.ws_eof && t.from_ws.len < EIC_TUNNEL_QUEUE && t.to_stream.len < EIC_TUNNEL_QUEUE &&
            t.to_ws.len < EIC_TUNNEL_QUEUE) {
            fds[nfds].events |= t.ws_read_want;
        }
        if (!t.ws_dead && t.to_ws.len > 0) {
            fds[nfds].events |= t.ws_write_want;
        }
        if (fds[nfds].events == 0) {
            fds[nfds].fd = -1; /* nothing wanted now: a POLLHUP of it must not wake every poll */
        }
        ws_i = (int)nfds++;
        if (!t.stream_eof && !t.close_sent && t.to_ws.len < EIC_TUNNEL_QUEUE) {
            fds[nfds] = (struct pollfd){.fd = p->stream_in, .events = POLLIN};
            in_i = (int)nfds++;
        }
        if (t.to_stream.len > 0 && !t.stream_broken) {
            if (same && in_i >= 0) {
                fds[in_i].events |= POLLOUT;
                out_i = in_i;
            } else {
                fds[nfds] = (struct pollfd){.fd = p->stream_out, .events = POLLOUT};
                out_i = (int)nfds++;
            }
        }
        if (p->deadline_ms > 0 && !t.close_sent && p->deadline_ms - now < timeout) {
            timeout = p->deadline_ms - now;
        }
        if (p->ws.pending != NULL && p->ws.pending(p->ws.ctx) > 0) {
            timeout = 0;
        }
        if (poll(fds, nfds, (int)(timeout < 0 ? 0 : timeout)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            ret = errno;
            break;
        }
        ret = step(&t, fds[ws_i].revents, in_i >= 0 ? fds[in_i].revents : 0, out_i >= 0 ? fds[out_i].revents : 0);
    }
    if (result->reason == NULL) {
        result->reason = ret == ENOMEM ? "out of memory" : "I/O error";
    }
    free(t.from_ws.data);
    free(t.to_ws.data);
    free(t.to_stream.data);
    return ret;
}
