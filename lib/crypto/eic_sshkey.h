/* SSH public keys: the OpenSSH one-line format ("ssh-ed25519 AAAA... comment") and the
 * RFC 4716 "SSH2" format. Used by the emulator to validate pushed keys and by the
 * AuthorizedKeysCommand to compute the SHA256 fingerprints sshd passes as %f. */
#ifndef EIC_SSHKEY_H
#define EIC_SSHKEY_H

#include <stddef.h>

enum eic_sshkey_type {
    EIC_SSHKEY_RSA,
    EIC_SSHKEY_ED25519,
    EIC_SSHKEY_ECDSA,
    EIC_SSHKEY_OTHER, /* well-formed but of a type eic does not handle (dss, sk-*, certificates) */
};

struct eic_sshkey {
    enum eic_sshkey_type type;
    char *type_name;     /* e.g. "ssh-rsa" */
    unsigned int bits;   /* RSA modulus bits, 256 for ED25519, curve bits for ECDSA, 0 if unknown */
    unsigned char *blob; /* the decoded wire-format key */
    size_t blob_len;
    char *comment;       /* may be NULL */
};

/* Parse one OpenSSH public key line. The type name in front must equal the one inside the
 * blob and the blob must be well-formed for its type (RSA: string, mpint e, mpint n with
 * nothing after; ED25519: string, 32-byte string). Returns 0, EBADMSG, ENOMEM. */
int eic_sshkey_parse_openssh(const char *line, size_t len, struct eic_sshkey *key);
/* Parse either format (an RFC 4716 block starts with "---- BEGIN SSH2 PUBLIC KEY ----"). */
int eic_sshkey_parse_any(const char *text, size_t len, struct eic_sshkey *key);
/* "SHA256:" + unpadded base64 of SHA-256(blob), as ssh-keygen -l prints; out must hold 64 bytes. */
int eic_sshkey_fingerprint(const struct eic_sshkey *key, char out[64]);
/* "type base64blob[ comment]" (malloc'd). */
int eic_sshkey_to_openssh(const struct eic_sshkey *key, char **line);
void eic_sshkey_free(struct eic_sshkey *key);

#endif
