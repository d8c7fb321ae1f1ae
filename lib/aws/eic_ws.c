#include "eic_ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "eic_codec.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 section 1.3 */
#define WS_KEY_LEN 24                                  /* base64 of 16 bytes */

size_t eic_ws_header_encode(uint8_t out[EIC_WS_MAX_HEADER], bool fin, uint8_t opcode, const uint8_t *mask,
                            uint64_t len)
{
    size_t n = 2;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    out[1] = mask != NULL ? 0x80 : 0;
    /* The shortest form, as section 5.2 requires. */
    if (len <= 125) {
        out[1] |= (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] |= 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[1] |= 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            out[n++] = (uint8_t)(len >> shift);
        }
    }
    if (mask != NULL) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

static bool opcode_known(uint8_t op)
{
    return op == EIC_WS_OP_CONTINUATION || op == EIC_WS_OP_TEXT || op == EIC_WS_OP_BINARY || op == EIC_WS_OP_CLOSE ||
           op == EIC_WS_OP_PING || op == EIC_WS_OP_PONG;
}

int eic_ws_header_decode(const uint8_t *data, size_t len, enum eic_ws_role role, uint64_t max_payload,
                         struct eic_ws_header *h)
{
    size_t need = 2;
    uint64_t plen;

    memset(h, 0, sizeof(*h));
    if (len < 2) {
        return EAGAIN;
    }
    h->fin = (data[0] & 0x80) != 0;
    h->opcode = data[0] & 0x0f;
    h->masked = (data[1] & 0x80) != 0;
    plen = data[1] & 0x7f;
    /* Everything that can be judged from the first two bytes is judged before waiting for more,
     * so that garbage is refused at once. No extension is negotiated: RSV bits must be 0. */
    if ((data[0] & 0x70) != 0 || !opcode_known(h->opcode)) {
        return EBADMSG;
    }
    if ((h->opcode & 0x08) != 0 && (!h->fin || plen > EIC_WS_MAX_CONTROL)) {
        return EBADMSG;
    }
    if (h->masked != (role == EIC_WS_SERVER)) {
        return EBADMSG;
    }
    need += plen == 126 ? 2 : plen == 127 ? 8 : 0;
    need += h->masked ? 4 : 0;
    if (len < need) {
        return EAGAIN;
    }
    if (plen == 126) {
        plen = ((uint64_t)data[2] << 8) | data[3];
        if (plen <= 125) {
            return EBADMSG;
        }
    } else if (plen == 127) {
        plen = 0;
        for (size_t i = 0; i < 8; i++) {
            plen = (plen << 8) | data[2 + i];
        }
        if ((plen >> 63) != 0 || plen <= 0xffff) {
            return EBADMSG;
        }
    }
    if (plen > max_payload) {
        return EMSGSIZE;
    }
    if (h->masked) {
        memcpy(h->mask, data + need - 4, 4);
    }
    h->payload_len = plen;
    h->header_len = need;
    return 0;
}

void eic_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++) {
        data[i] ^= mask[(offset + i) & 3];
    }
}

int eic_ws_sequence_next(struct eic_ws_sequence *s, const struct eic_ws_header *h)
{
    if ((h->opcode & 0x08) != 0) {
        return 0; /* control frames may be interleaved anywhere */
    }
    if (h->opcode == EIC_WS_OP_CONTINUATION) {
        if (!s->in_message) {
            return EBADMSG;
        }
    } else if (s->in_message) {
        return EBADMSG;
    }
    s->in_message = !h->fin;
    return 0;
}

size_t eic_ws_close_payload(uint8_t out[2], uint16_t code)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    return 2;
}

int eic_ws_close_code(const uint8_t *payload, size_t len, uint16_t *code)
{
    if (len == 0) {
        *code = 1005;
        return 0;
    }
    if (len < 2) {
        return EBADMSG;
    }
    *code = (uint16_t)((payload[0] << 8) | payload[1]);
    return 0;
}

int eic_ws_accept_value(const char *key, char out[29])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    unsigned int dlen = 0;
    char input[WS_KEY_LEN + sizeof(WS_GUID)];
    char *b64 = NULL;
    int ret;

    if (strlen(key) != WS_KEY_LEN) {
        return EINVAL;
    }
    ret = eic_base64_decode(key, WS_KEY_LEN, &raw, &raw_len);
    free(raw);
    if (ret != 0 || raw_len != 16) {
        return EINVAL;
    }
    memcpy(input, key, WS_KEY_LEN);
    memcpy(input + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID));
    /* SHA-1 is what the handshake is defined with; it proves nothing about security here. */
    if (EVP_Digest(input, strlen(input), digest, &dlen, EVP_sha1(), NULL) != 1) {
        return EIO;
    }
    ret = eic_base64_encode(digest, dlen, &b64);
    if (ret != 0) {
        return ret;
    }
    if (strlen(b64) != 28) {
        free(b64);
        return EIO;
    }
    memcpy(out, b64, 29);
    free(b64);
    return 0;
}
