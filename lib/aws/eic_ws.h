/* The WebSocket framing of RFC 6455 (section 5), as pure functions over byte buffers: no I/O,
 * no allocation. One codec for both ends of an Instance Connect Endpoint tunnel: the client
 * (`eic open-tunnel`, which masks what it sends) and the emulator (which requires masking from
 * the client and never masks). tests/unit/test_ws.c.
 *
 *   byte 0: FIN(1) RSV1-3(3) opcode(4)      byte 1: MASK(1) length(7)
 *   length 126: a 16-bit length follows; 127: a 64-bit length (top bit 0) follows
 *   then the 4-byte masking key when MASK is set, then the payload (XOR-ed with the key)
 */
#ifndef EIC_WS_H
#define EIC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EIC_WS_OP_CONTINUATION 0x0
#define EIC_WS_OP_TEXT 0x1
#define EIC_WS_OP_BINARY 0x2
#define EIC_WS_OP_CLOSE 0x8
#define EIC_WS_OP_PING 0x9
#define EIC_WS_OP_PONG 0xA

#define EIC_WS_MAX_HEADER 14  /* 2 + 8 (64-bit length) + 4 (mask) */
#define EIC_WS_MAX_CONTROL 125

/* Close status codes used here (RFC 6455 section 7.4.1). */
#define EIC_WS_CLOSE_NORMAL 1000
#define EIC_WS_CLOSE_GOING_AWAY 1001
#define EIC_WS_CLOSE_PROTOCOL 1002
#define EIC_WS_CLOSE_UNSUPPORTED 1003 /* a text frame: the tunnel carries bytes */
#define EIC_WS_CLOSE_TOO_BIG 1009

/* Which side of the connection decodes: a server requires every frame from the client to be
 * masked, a client requires frames from the server not to be (section 5.1). */
enum eic_ws_role {
    EIC_WS_SERVER,
    EIC_WS_CLIENT,
};

struct eic_ws_header {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;    /* bytes before the payload */
};

/* Write the header of a frame of len payload bytes into out; mask NULL: unmasked. Returns the
 * header length (2..14). */
size_t eic_ws_header_encode(uint8_t out[EIC_WS_MAX_HEADER], bool fin, uint8_t opcode, const uint8_t *mask,
                            uint64_t len);

/* Decode the header at the start of data[0..len). Returns 0 (*h filled), EAGAIN (more bytes are
 * needed for the header), EBADMSG (a protocol error: reserved bits set, unknown opcode, a
 * control frame fragmented or longer than 125 bytes, a length not in its shortest form or with
 * the top bit set, masking against role's rule) or EMSGSIZE (payload longer than max_payload). */
int eic_ws_header_decode(const uint8_t *data, size_t len, enum eic_ws_role role, uint64_t max_payload,
                         struct eic_ws_header *h);

/* XOR data with the masking key, for bytes that start offset bytes into the payload (so that
 * a payload can be (un)masked in pieces). Masking and unmasking are the same operation. */
void eic_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* The data-frame sequence (section 5.4): a message is one data frame with FIN, or a first
 * frame without FIN and continuation frames up to one with FIN; control frames may come in
 * between. */
struct eic_ws_sequence {
    bool in_message;
};
/* Account for frame h. Returns 0, or EBADMSG for a continuation outside a message or a new
 * data frame inside one. */
int eic_ws_sequence_next(struct eic_ws_sequence *s, const struct eic_ws_header *h);

/* Close frame payload: a 2-byte status code in network order. Returns the payload length (2). */
size_t eic_ws_close_payload(uint8_t out[2], uint16_t code);
/* The status code of a received close payload; 1005 (none sent) for an empty one; EBADMSG for a
 * 1-byte payload. */
int eic_ws_close_code(const uint8_t *payload, size_t len, uint16_t *code);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 SHA-1 of key + the RFC's GUID) into
 * out[29]. The key must be the base64 of 16 bytes (24 characters), else EINVAL. */
int eic_ws_accept_value(const char *key, char out[29]);

#endif
