#include "eic_codec.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int eic_base64_encode(const void *in, size_t len, char **out)
{
    char *p;

    *out = NULL;
    if (len > (size_t)INT_MAX / 2) {
        return EINVAL;
    }
    p = malloc(4 * ((len + 2) / 3) + 1);
    if (p == NULL) {
        return ENOMEM;
    }
    EVP_EncodeBlock((unsigned char *)p, in, (int)len);
    *out = p;
    return 0;
}

int eic_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    char *compact = NULL;
    unsigned char *bin = NULL;
    size_t n = 0;
    size_t pad = 0;
    int decoded;
    int ret;

    *out = NULL;
    *out_len = 0;
    if (len > (size_t)INT_MAX / 2) {
        return EMSGSIZE;
    }
    compact = malloc(len + 1);
    if (compact == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        compact[n++] = c;
    }
    /* EVP_DecodeBlock accepts some garbage (it trims surrounding whitespace and
     * does not report padding); the input is therefore checked strictly first. */
    if (n % 4 != 0) {
        ret = EBADMSG;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char c = compact[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/';

        if (c == '=') {
            if (i < n - 2 || (i == n - 2 && compact[n - 1] != '=')) {
                ret = EBADMSG;
                goto done;
            }
            pad++;
        } else if (!alpha) {
            ret = EBADMSG;
            goto done;
        }
    }
    bin = malloc(n / 4 * 3 + 1);
    if (bin == NULL) {
        ret = ENOMEM;
        goto done;
    }
    decoded = n ? EVP_DecodeBlock(bin, (unsigned char *)compact, (int)n) : 0;
    if (decoded < 0 || (size_t)decoded < pad) {
        ret = EBADMSG;
        goto done;
    }
    *out = bin;
    *out_len = (size_t)decoded - pad;
    bin = NULL;
    ret = 0;
done:
    free(compact);
    free(bin);
    return ret;
}

void eic_hex_encode(const void *in, size_t len, char *out, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    const unsigned char *p = in;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int eic_hex_digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int eic_sha256(const void *data, size_t len, unsigned char out[EIC_SHA256_LEN])
{
    unsigned int out_len = 0;

    if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 || out_len != EIC_SHA256_LEN) {
        return EIO;
    }
    return 0;
}

int eic_sha256_hex(const void *data, size_t len, char out[2 * EIC_SHA256_LEN + 1])
{
    unsigned char digest[EIC_SHA256_LEN];
    int ret = eic_sha256(data, len, digest);

    if (ret == 0) {
        eic_hex_encode(digest, sizeof(digest), out, false);
    }
    return ret;
}

int eic_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[EIC_SHA256_LEN])
{
    unsigned int out_len = 0;

    if (key_len > INT_MAX) {
        return EINVAL;
    }
    if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) == NULL ||
        out_len != EIC_SHA256_LEN) {
        return EIO;
    }
    return 0;
}

bool eic_str_equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);

    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}
