/* The WebSocket frame codec (lib/aws/eic_ws.h) and the tunnel loop (lib/aws/eic_tunnel.h): both
 * roles run against each other over socketpairs, so every byte goes through the real code. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_tunnel.h"
#include "eic_ws.h"

static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* RFC 6455 section 5.7's examples. */
static void test_rfc_examples(void **state)
{
    static const uint8_t unmasked_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t hdr[EIC_WS_MAX_HEADER];
    uint8_t payload[5];
    struct eic_ws_header h;

    (void)state;
    assert_int_equal(eic_ws_header_encode(hdr, true, EIC_WS_OP_TEXT, NULL, 5), 2);
    assert_memory_equal(hdr, unmasked_hello, 2);
    assert_int_equal(eic_ws_header_encode(hdr, true, EIC_WS_OP_TEXT, mask, 5), 6);
    assert_memory_equal(hdr, masked_hello, 6);
    memcpy(payload, "Hello", 5);
    eic_ws_mask(payload, 5, mask, 0);
    assert_memory_equal(payload, masked_hello + 6, 5);

    assert_int_equal(eic_ws_header_decode(masked_hello, sizeof(masked_hello), EIC_WS_SERVER, 1024, &h), 0);
    assert_true(h.fin);
    assert_int_equal(h.opcode, EIC_WS_OP_TEXT);
    assert_true(h.masked);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(h.header_len, 6);
    assert_memory_equal(h.mask, mask, 4);
    /* Unmasking in two pieces gives the same as in one. */
    memcpy(payload, masked_hello + 6, 5);
    eic_ws_mask(payload, 2, h.mask, 0);
    eic_ws_mask(payload + 2, 3, h.mask, 2);
    assert_memory_equal(payload, "Hello", 5);
    /* Roles: a server requires masking, a client refuses it. */
    assert_int_equal(eic_ws_header_decode(unmasked_hello, sizeof(unmasked_hello), EIC_WS_SERVER, 1024, &h), EBADMSG);
    assert_int_equal(eic_ws_header_decode(masked_hello, sizeof(masked_hello), EIC_WS_CLIENT, 1024, &h), EBADMSG);
    assert_int_equal(eic_ws_header_decode(unmasked_hello, sizeof(unmasked_hello), EIC_WS_CLIENT, 1024, &h), 0);
}

static void test_lengths(void **state)
{
    static const uint64_t lens[] = {0, 125, 126, 65535, 65536, 1ULL << 40};
    static const size_t hlen[] = {2, 2, 4, 4, 10, 10};
    uint8_t hdr[EIC_WS_MAX_HEADER];
    struct eic_ws_header h;

    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = eic_ws_header_encode(hdr, true, EIC_WS_OP_BINARY, NULL, lens[i]);

        assert_int_equal(n, hlen[i]);
        assert_int_equal(eic_ws_header_decode(hdr, n, EIC_WS_CLIENT, UINT64_MAX >> 1, &h), 0);
        assert_int_equal(h.payload_len, lens[i]);
        assert_int_equal(h.header_len, n);
        /* One byte short of the header: more is needed, not an error. */
        assert_int_equal(eic_ws_header_decode(hdr, n - 1, EIC_WS_CLIENT, UINT64_MAX >> 1, &h), EAGAIN);
        n = eic_ws_header_encode(hdr, true, EIC_WS_OP_BINARY, mask, lens[i]);
        assert_int_equal(n, hlen[i] + 4);
        assert_int_equal(eic_ws_header_decode(hdr, n, EIC_WS_SERVER, UINT64_MAX >> 1, &h), 0);
        assert_int_equal(h.payload_len, lens[i]);
    }
    /* The cap. */
    eic_ws_header_encode(hdr, true, EIC_WS_OP_BINARY, NULL, 1025);
    assert_int_equal(eic_ws_header_decode(hdr, 4, EIC_WS_CLIENT, 1024, &h), EMSGSIZE);
}

static void test_bad_headers(void **state)
{
    static const struct {
        uint8_t bytes[10];
        size_t len;
    } bad[] = {
        {{0xC2, 0x00}, 2},                                      /* RSV1 */
        {{0x83, 0x00}, 2},                                      /* opcode 3 */
        {{0x8B, 0x00}, 2},                                      /* opcode 0xB */
        {{0x09, 0x00}, 2},                                      /* fragmented ping */
        {{0x89, 0x7E, 0x00, 0x7E}, 4},                          /* ping of 126 bytes */
        {{0x82, 0x7E, 0x00, 0x05}, 4},                          /* 16-bit length for 5 */
        {{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 10},       /* 64-bit length for 65535 */
        {{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},          /* top bit set */
    };
    struct eic_ws_header h;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eic_ws_header_decode(bad[i].bytes, bad[i].len, EIC_WS_CLIENT, UINT64_MAX, &h), EBADMSG);
    }
    assert_int_equal(eic_ws_header_decode(bad[0].bytes, 1, EIC_WS_CLIENT, 10, &h), EAGAIN);
}

static void test_sequence_close_accept(void **state)
{
    struct eic_ws_sequence seq = {0};
    struct eic_ws_header first = {.fin = false, .opcode = EIC_WS_OP_BINARY};
    struct eic_ws_header cont = {.fin = false, .opcode = EIC_WS_OP_CONTINUATION};
    struct eic_ws_header last = {.fin = true, .opcode = EIC_WS_OP_CONTINUATION};
    struct eic_ws_header ping = {.fin = true, .opcode = EIC_WS_OP_PING};
    struct eic_ws_header whole = {.fin = true, .opcode = EIC_WS_OP_BINARY};
    uint8_t payload[2];
    uint16_t code;
    char accept[29];

    (void)state;
    assert_int_equal(eic_ws_sequence_next(&seq, &cont), EBADMSG); /* continuation without a message */
    assert_int_equal(eic_ws_sequence_next(&seq, &first), 0);
    assert_int_equal(eic_ws_sequence_next(&seq, &ping), 0);
    assert_int_equal(eic_ws_sequence_next(&seq, &whole), EBADMSG); /* a new message inside one */
    assert_int_equal(eic_ws_sequence_next(&seq, &cont), 0);
    assert_int_equal(eic_ws_sequence_next(&seq, &last), 0);
    assert_int_equal(eic_ws_sequence_next(&seq, &whole), 0);

    assert_int_equal(eic_ws_close_payload(payload, 1009), 2);
    assert_int_equal(eic_ws_close_code(payload, 2, &code), 0);
    assert_int_equal(code, 1009);
    assert_int_equal(eic_ws_close_code(payload, 0, &code), 0);
    assert_int_equal(code, 1005);
    assert_int_equal(eic_ws_close_code(payload, 1, &code), EBADMSG);

    /* RFC 6455 section 1.3's example. */
    assert_int_equal(eic_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(eic_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ", accept), EINVAL);
    assert_int_equal(eic_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ=!", accept), EINVAL);
}

/* ---- the tunnel loop, both roles ---- */

struct side {
    struct eic_tunnel_params p;
    struct eic_tunnel_result r;
    int ret;
};

static void *run_side(void *arg)
{
    struct side *s = arg;

    s->ret = eic_tunnel_run(&s->p, &s->r);
    return NULL;
}

static void pair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
}

/* client stdin/stdout = app_c, server TCP side = app_s; the WebSocket connection between. */
static void test_tunnel_both_ways(void **state)
{
    int ws[2], app_c[2], app_s[2];
    struct side client = {0}, server = {0};
    pthread_t tc, ts;
    size_t total = 300 * 1024; /* several frames and queue refills */
    uint8_t *data = malloc(total), *got = malloc(total);
    size_t off = 0, have = 0;

    (void)state;
    assert_non_null(data);
    assert_non_null(got);
    for (size_t i = 0; i < total; i++) {
        data[i] = (uint8_t)(i * 7 + (i >> 8));
    }
    pair(ws);
    pair(app_c);
    pair(app_s);
    client.p = (struct eic_tunnel_params){.role = EIC_WS_CLIENT, .stream_in = app_c[1], .stream_out = app_c[1],
                                          .ws = {.fd = ws[0]}};
    server.p = (struct eic_tunnel_params){.role = EIC_WS_SERVER, .stream_in = app_s[1], .stream_out = app_s[1],
                                          .ws = {.fd = ws[1]}};
    assert_int_equal(pthread_create(&tc, NULL, run_side, &client), 0);
    assert_int_equal(pthread_create(&ts, NULL, run_side, &server), 0);
    /* What goes in on the client's side comes out on the server's, and back. */
    while (off < total || have < total) {
        ssize_t n;

        if (off < total) {
            n = write(app_c[0], data + off, total - off > 8192 ? 8192 : total - off);
            assert_true(n > 0);
            off += (size_t)n;
        }
        n = read(app_s[0], got + have, total - have);
        assert_true(n > 0);
        have += (size_t)n;
    }
    assert_memory_equal(got, data, total);
    assert_int_equal(write(app_s[0], "pong", 4), 4);
    assert_int_equal(read(app_c[0], got, 4), 4);
    assert_memory_equal(got, "pong", 4);
    /* The instance side ends: the server closes, the client answers, both end orderly. */
    shutdown(app_s[0], SHUT_WR);
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    assert_int_equal(server.ret, 0);
    assert_int_equal(client.ret, 0);
    assert_int_equal(server.r.close_sent, EIC_WS_CLOSE_NORMAL);
    assert_int_equal(client.r.close_received, EIC_WS_CLOSE_NORMAL);
    assert_int_equal(server.r.bytes_received, total);
    assert_int_equal(client.r.bytes_sent, total);
    assert_int_equal(server.r.bytes_sent, 4);
    for (int i = 0; i < 2; i++) {
        close(ws[i]);
        close(app_c[i]);
        close(app_s[i]);
    }
    free(data);
    free(got);
}

/* Raw frames from a misbehaving client: the server answers with the right close code. */
static uint16_t server_close_for(const uint8_t *frames, size_t len, uint64_t *delivered)
{
    int ws[2], app[2];
    struct side server = {0};
    pthread_t ts;
    uint8_t buf[256];
    ssize_t n;
    uint16_t code = 0;

    pair(ws);
    pair(app);
    server.p = (struct eic_tunnel_params){.role = EIC_WS_SERVER, .stream_in = app[1], .stream_out = app[1],
                                          .ws = {.fd = ws[1]}};
    assert_int_equal(pthread_create(&ts, NULL, run_side, &server), 0);
    assert_int_equal(write(ws[0], frames, len), (ssize_t)len);
    shutdown(ws[0], SHUT_WR);
    n = read(ws[0], buf, sizeof(buf));
    /* The last frame the server sent is its close: 0x88, length 2, code. */
    for (ssize_t i = 0; i + 3 < n; i++) {
        if (buf[i] == 0x88 && buf[i + 1] == 2) {
            code = (uint16_t)(buf[i + 2] << 8 | buf[i + 3]);
        }
    }
    pthread_join(ts, NULL);
    *delivered = server.r.bytes_received;
    for (int i = 0; i < 2; i++) {
        close(ws[i]);
        close(app[i]);
    }
    return code;
}

static void test_tunnel_refusals(void **state)
{
    uint8_t frames[64];
    uint64_t delivered = 0;
    size_t n;

    (void)state;
    /* A text frame: 1003. */
    n = eic_ws_header_encode(frames, true, EIC_WS_OP_TEXT, mask, 0);
    assert_int_equal(server_close_for(frames, n, &delivered), EIC_WS_CLOSE_UNSUPPORTED);
    /* An unmasked frame from a client: 1002. */
    n = eic_ws_header_encode(frames, true, EIC_WS_OP_BINARY, NULL, 0);
    assert_int_equal(server_close_for(frames, n, &delivered), EIC_WS_CLOSE_PROTOCOL);
    /* Over the frame cap: 1009. */
    n = eic_ws_header_encode(frames, true, EIC_WS_OP_BINARY, mask, EIC_TUNNEL_MAX_FRAME + 1);
    assert_int_equal(server_close_for(frames, n, &delivered), EIC_WS_CLOSE_TOO_BIG);
    /* A fragmented message with a ping between: delivered whole, then the client's close echoed. */
    n = eic_ws_header_encode(frames, false, EIC_WS_OP_BINARY, mask, 2);
    memcpy(frames + n, "ab", 2);
    eic_ws_mask(frames + n, 2, mask, 0);
    n += 2;
    n += eic_ws_header_encode(frames + n, true, EIC_WS_OP_PING, mask, 0);
    {
        size_t h = eic_ws_header_encode(frames + n, true, EIC_WS_OP_CONTINUATION, mask, 3);

        memcpy(frames + n + h, "cde", 3);
        eic_ws_mask(frames + n + h, 3, mask, 0);
        n += h + 3;
    }
    {
        uint8_t payload[2];
        size_t h = eic_ws_header_encode(frames + n, true, EIC_WS_OP_CLOSE, mask, 2);

        eic_ws_close_payload(payload, 4000);
        memcpy(frames + n + h, payload, 2);
        eic_ws_mask(frames + n + h, 2, mask, 0);
        n += h + 2;
    }
    assert_int_equal(server_close_for(frames, n, &delivered), 4000);
    assert_int_equal(delivered, 5);
}

static bool stop_now(void *ctx)
{
    (void)ctx;
    return true;
}

static void test_tunnel_deadline_and_stop(void **state)
{
    int ws[2], app[2];
    struct side s = {0};

    (void)state;
    pair(ws);
    pair(app);
    /* A deadline already past: close 1000 at once, ETIMEDOUT once the wait for an answer ends
     * (the peer here never answers, and hangs up). */
    s.p = (struct eic_tunnel_params){.role = EIC_WS_SERVER, .stream_in = app[1], .stream_out = app[1],
                                     .ws = {.fd = ws[1]}, .deadline_ms = eic_tunnel_now_ms() - 1};
    close(ws[0]);
    s.ret = eic_tunnel_run(&s.p, &s.r);
    assert_int_equal(s.r.close_sent, EIC_WS_CLOSE_NORMAL);
    assert_int_equal(s.ret, ETIMEDOUT);
    close(ws[1]);
    pair(ws);
    s.p.ws.fd = ws[1];
    s.p.deadline_ms = 0;
    s.p.should_stop = stop_now;
    close(ws[0]);
    s.ret = eic_tunnel_run(&s.p, &s.r);
    assert_int_equal(s.r.close_sent, EIC_WS_CLOSE_GOING_AWAY);
    assert_int_equal(s.ret, ECANCELED);
    close(ws[1]);
    close(app[0]);
    close(app[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_sequence_close_accept),
        cmocka_unit_test(test_tunnel_both_ways),
        cmocka_unit_test(test_tunnel_refusals),
        cmocka_unit_test(test_tunnel_deadline_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
