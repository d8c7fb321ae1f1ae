/* Key records served at managed-ssh-keys/active-keys/<user>/ (docs/PROTOCOL.md):
 *
 *   #Timestamp=1732400000          expiry (Unix seconds): valid while Timestamp > now
 *   #Instance=i-0123456789abcdef0  must equal this instance's id
 *   #Caller=arn:aws:iam::...       optional, logged
 *   #Request=2d1b0a6e-...          optional, logged
 *   #<Other>=...                   kept and signed over
 *   ssh-ed25519 AAAA... [comment]  the key line
 *   <base64 signature, one or more lines>
 *   (blank line or end of body)
 *
 * Signed bytes: each '#' line then the key line, each followed by '\n'. Signature: RSA-PSS,
 * SHA-256, MGF1-SHA-256, salt length 32, by the signer key.
 *
 * eic_keyrecords_verify() is a pure function: body bytes and context in, one verdict per record
 * out. It does no I/O and no logging, so it is tested from fixture files; the caller logs. */
#ifndef EIC_KEYRECORDS_H
#define EIC_KEYRECORDS_H

#include <stddef.h>

#include <openssl/evp.h>

#define EIC_KEYRECORDS_MAX 64          /* records considered per body; the rest are refused */
#define EIC_KEYRECORDS_MAX_FIELDS 32   /* '#' lines per record */

enum eic_record_status {
    EIC_RECORD_ACCEPTED = 0,
    EIC_RECORD_MALFORMED,          /* structure: no key line, no signature, stray lines, bad field */
    EIC_RECORD_NO_TIMESTAMP,
    EIC_RECORD_NO_INSTANCE,
    EIC_RECORD_BAD_KEY,            /* key line is not a well-formed SSH public key */
    EIC_RECORD_BAD_SIGNATURE,
    EIC_RECORD_WRONG_INSTANCE,
    EIC_RECORD_EXPIRED,
    EIC_RECORD_FINGERPRINT_MISMATCH, /* internal: such records get no verdict */
    EIC_RECORD_TOO_MANY,
};

struct eic_record_verdict {
    enum eic_record_status status;
    const char *detail;   /* static text for log lines, never NULL */
    char *key;            /* "type base64" (canonical, no comment); set when the key line parsed */
    char fingerprint[64]; /* "SHA256:..." when the key line parsed, else "" */
    char *caller;         /* #Caller value or NULL */
    char *request_id;     /* #Request value or NULL */
    long long expires;    /* #Timestamp, 0 when absent */
};

struct eic_keyrecords_context {
    const char *instance_id;        /* this instance */
    long long now;                  /* Unix seconds */
    EVP_PKEY *signer_key;           /* verified signer (eic_signer_verify) */
    const char *fingerprint;        /* only this key is judged; NULL for all */
};

/* Returns 0 with *verdicts (n_verdicts entries, one per record in body order; free with
 * eic_keyrecords_free) or ENOMEM. A body with no records gives 0 verdicts. With
 * ctx->fingerprint, records of other keys get no verdict and do not count against
 * EIC_KEYRECORDS_MAX. */
int eic_keyrecords_verify(const char *body, size_t len, const struct eic_keyrecords_context *ctx,
                          struct eic_record_verdict **verdicts, size_t *n_verdicts);
void eic_keyrecords_free(struct eic_record_verdict *verdicts, size_t n_verdicts);
/* Short name of a status for logs and test fixtures ("accepted", "bad-signature", ...). */
const char *eic_record_status_name(enum eic_record_status status);

#endif
