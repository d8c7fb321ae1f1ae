/* Trust in the Instance Connect signer (docs/PROTOCOL.md, "Signer trust").
 *
 * IMDS serves managed-ssh-keys/signer-cert/ (PEM: the signer certificate first, then its
 * issuers) and signer-ocsp/<FP> (base64 DER OCSP responses named by the upper-case hex SHA-1
 * of the certificate they are about). All of it is untrusted input:
 * - the served certificates are only ever "untrusted" intermediates: trust comes from the
 *   configured anchors alone, however a served certificate is named;
 * - the subject of the signer must hold exactly one commonName, equal byte for byte to
 *   managed-ssh-signer.<region>.<domain>;
 * - every certificate of the verified chain that is not itself the trust anchor needs an OCSP
 *   response that is signed by its issuer from the verified chain (or a responder that issuer
 *   delegated to), is about that certificate, is current (thisUpdate..nextUpdate, or at most
 *   EIC_OCSP_MAX_AGE_SECONDS old without nextUpdate), and says "good".
 * The function is pure (no I/O): the caller fetches, this decides, so it is tested from fixtures. */
#ifndef EIC_SIGNER_H
#define EIC_SIGNER_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define EIC_SIGNER_MAX_CERTS 8
/* Clock skew tolerated on OCSP thisUpdate/nextUpdate. */
#define EIC_OCSP_SKEW_SECONDS 300
/* The oldest thisUpdate accepted from a response without nextUpdate (the validity CAs give their
 * OCSP responses, and what `openssl ocsp -status_age` is for). */
#define EIC_OCSP_MAX_AGE_SECONDS (7 * 86400)

struct eic_ocsp_blob {
    const char *name;       /* listing name (upper-case hex SHA-1 of the certificate DER) */
    const unsigned char *der;
    size_t der_len;
};

/* Verify the served signer chain at time now. On success returns 0 and the signer's RSA public
 * key in *signer_key (caller EVP_PKEY_free()s it). On failure returns EACCES (untrusted: chain,
 * CN, OCSP) or EBADMSG (malformed input) or ENOMEM, and *reason says why in words fit for a log
 * line (static or in reason_buf). */
int eic_signer_verify(const char *chain_pem, size_t chain_len, X509_STORE *anchors, const char *expected_cn,
                      const struct eic_ocsp_blob *ocsp, size_t n_ocsp, long long now, EVP_PKEY **signer_key,
                      char *reason_buf, size_t reason_len);

/* The same, and the last moment (Unix seconds) this verdict may be relied on: the earliest of every
 * chain certificate's notAfter and every OCSP response's nextUpdate (thisUpdate +
 * EIC_OCSP_MAX_AGE_SECONDS for one without). A process that keeps the verified signer (eicd) must
 * verify again by then. 0 on failure. */
int eic_signer_verify_until(const char *chain_pem, size_t chain_len, X509_STORE *anchors, const char *expected_cn,
                            const struct eic_ocsp_blob *ocsp, size_t n_ocsp, long long now, EVP_PKEY **signer_key,
                            long long *valid_until, char *reason_buf, size_t reason_len);

/* The trust store from ca_file and/or ca_path; both NULL: the system default locations.
 * Returns 0 or EIO (reason logged by the caller from errno-style code). */
int eic_signer_load_anchors(const char *ca_file, const char *ca_path, X509_STORE **out);

/* Upper-case hex SHA-1 of the certificate's DER into out[41] (the signer-ocsp/ entry name). */
int eic_cert_sha1_name(X509 *cert, char out[41]);

#endif
