/* Encodings and digests, all on top of OpenSSL (nothing here is hand-written crypto
 * or hand-written base64). */
#ifndef EIC_CODEC_H
#define EIC_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#define EIC_SHA256_LEN 32

/* Base64 (standard alphabet, padded, no line breaks). *out is malloc'd and NUL-terminated.
 * Returns 0 or ENOMEM/EINVAL. */
int eic_base64_encode(const void *in, size_t len, char **out);
/* Decode standard base64. ASCII whitespace (the line breaks of PEM-style bodies) is skipped;
 * any other character outside the alphabet, bad padding or a truncated quantum gives EBADMSG.
 * *out is malloc'd (never NUL-terminated meaningfully: use *out_len). */
int eic_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);
/* out must hold 2*len+1 bytes. */
void eic_hex_encode(const void *in, size_t len, char *out, bool upper);
/* The value 0..15 of one hex digit (either case), or -1 when c is not one (%XX escapes). */
int eic_hex_digit_value(unsigned char c);
int eic_sha256(const void *data, size_t len, unsigned char out[EIC_SHA256_LEN]);
/* Lower-case hex SHA-256 of data into out[65]. */
int eic_sha256_hex(const void *data, size_t len, char out[2 * EIC_SHA256_LEN + 1]);
int eic_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[EIC_SHA256_LEN]);
/* Constant-time comparison of two NUL-terminated strings (length may leak). */
bool eic_str_equal_ct(const char *a, const char *b);

#endif
