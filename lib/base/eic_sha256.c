/* SHA-256 as FIPS 180-4 section 6.2 describes it, and the OpenSSH fingerprint built on it
 * (eic_sha256.h). */
#include "eic_sha256.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* One 512-bit block into the hash value (6.2.2). */
static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    uint32_t a, b, c, d, e, f, g, hh;

    for (int t = 0; t < 16; t++) {
        w[t] = ((uint32_t)block[4 * t] << 24) | ((uint32_t)block[4 * t + 1] << 16) |
               ((uint32_t)block[4 * t + 2] << 8) | block[4 * t + 3];
    }
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);

        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void eic_sha256_ctx_init(struct eic_sha256_ctx *c)
{
    /* The first 32 bits of the fractional parts of the square roots of the first 8 primes (5.3.3). */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

    memcpy(c->h, h0, sizeof(h0));
    c->total = 0;
    c->used = 0;
}

void eic_sha256_ctx_update(struct eic_sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;

    c->total += len;
    while (len > 0) {
        size_t n = sizeof(c->block) - c->used < len ? sizeof(c->block) - c->used : len;

        memcpy(c->block + c->used, p, n);
        c->used += n;
        p += n;
        len -= n;
        if (c->used == sizeof(c->block)) {
            compress(c->h, c->block);
            c->used = 0;
        }
    }
}

void eic_sha256_ctx_final(struct eic_sha256_ctx *c, uint8_t out[EIC_SHA256_LEN])
{
    uint64_t bits = c->total * 8;

    /* Padding (5.1.1): a 1 bit, zeros, and the message length in bits as 64 big-endian bits. */
    c->block[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->block + c->used, 0, sizeof(c->block) - c->used);
        compress(c->h, c->block);
        c->used = 0;
    }
    memset(c->block + c->used, 0, 56 - c->used);
    for (int i = 0; i < 8; i++) {
        c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    compress(c->h, c->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
    memset(c, 0, sizeof(*c));
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char ch)
{
    const char *p = ch != '\0' ? strchr(b64_alphabet, ch) : NULL;

    return p != NULL ? (int)(p - b64_alphabet) : -1;
}

int eic_base64_decode_libc(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *buf;
    uint32_t acc = 0;
    size_t bits = 0;
    size_t pad = 0;
    size_t n = 0;

    *out = NULL;
    *out_len = 0;
    /* Padding: at most two '=' at the end, and only to complete the last group of four. */
    while (pad < 2 && len > 0 && in[len - 1] == '=') {
        len--;
        pad++;
    }
    if (pad > 0 && (len + pad) % 4 != 0) {
        return EINVAL;
    }
    if (len % 4 == 1) {
        return EINVAL; /* a lone sextet cannot make a byte */
    }
    buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);

        if (v < 0) {
            free(buf);
            return EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* The bits left over must be zero, or another text decodes to the same bytes. */
    if ((acc & ((1u << bits) - 1)) != 0) {
        free(buf);
        return EINVAL;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int eic_ssh_fingerprint_libc(const char *b64, size_t len, char out[64])
{
    uint8_t digest[EIC_SHA256_LEN];
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    char *pos = out;
    int ret;

    ret = eic_base64_decode_libc(b64, len, &blob, &blob_len);
    if (ret != 0) {
        return ret;
    }
    {
        struct eic_sha256_ctx c;

        eic_sha256_ctx_init(&c);
        eic_sha256_ctx_update(&c, blob, blob_len);
        eic_sha256_ctx_final(&c, digest);
    }
    free(blob);
    memcpy(pos, "SHA256:", 7);
    pos += 7;
    /* 32 bytes: ten groups of three, then two bytes: 43 characters, no padding (ssh-keygen's form). */
    for (size_t i = 0; i < EIC_SHA256_LEN; i += 3) {
        uint32_t v = (uint32_t)digest[i] << 16;
        size_t left = EIC_SHA256_LEN - i;

        if (left > 1) {
            v |= (uint32_t)digest[i + 1] << 8;
        }
        if (left > 2) {
            v |= digest[i + 2];
        }
        *pos++ = b64_alphabet[(v >> 18) & 63];
        *pos++ = b64_alphabet[(v >> 12) & 63];
        if (left > 1) {
            *pos++ = b64_alphabet[(v >> 6) & 63];
        }
        if (left > 2) {
            *pos++ = b64_alphabet[v & 63];
        }
    }
    *pos = '\0';
    return 0;
}
