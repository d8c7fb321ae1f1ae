/* SHA-256 (FIPS 180-4) and the OpenSSH fingerprint of a public key, in libc only: for the modules
 * that load into other people's processes (pam_eic: the fingerprint of a login key for the audit
 * trail, and to compare keys) and so must not load OpenSSL. Not for signatures: the verification
 * of key records stays with OpenSSL, in eicd, and so does eic_codec.c's eic_sha256() (SigV4,
 * eic_sshkey). Tested against FIPS 180-4's examples and against OpenSSL
 * (tests/unit/test_sha256.c). */
#ifndef EIC_SHA256_H
#define EIC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define EIC_SHA256_LEN 32

struct eic_sha256_ctx {
    uint32_t h[8];
    uint64_t total;     /* bytes hashed so far */
    uint8_t block[64];  /* a block being filled */
    size_t used;        /* bytes of it */
};

void eic_sha256_ctx_init(struct eic_sha256_ctx *c);
void eic_sha256_ctx_update(struct eic_sha256_ctx *c, const void *data, size_t len);
void eic_sha256_ctx_final(struct eic_sha256_ctx *c, uint8_t out[EIC_SHA256_LEN]);

/* Decode standard base64 (RFC 4648, '=' padding optional, no whitespace) of len bytes into a
 * malloc'd *out. 0, EINVAL (not base64), ENOMEM. */
int eic_base64_decode_libc(const char *in, size_t len, uint8_t **out, size_t *out_len);

/* "SHA256:" + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l` prints it, from
 * the base64 text of the blob (the second word of an OpenSSH public key line). out must hold 64
 * bytes (7 + 43 + NUL). 0, EINVAL (not base64), ENOMEM. */
int eic_ssh_fingerprint_libc(const char *b64, size_t len, char out[64]);

#endif
