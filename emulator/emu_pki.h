/* The emulated Instance Connect signer PKI: root CA -> intermediate CA -> signer.
 *
 * State directory layout (created at first start, 0700; keys 0600):
 *   ca.pem                 root CA certificate: the trust anchor verifiers are given
 *   ca.key                 root CA key
 *   intermediate.pem/.key  intermediate CA (signs the signer and its OCSP response)
 *   signer.pem/.key        signer certificate, CN managed-ssh-signer.<region>.<domain>
 *   signer-wrongcn.pem/.key  a second signer for the wrong-CN fault (CN managed-ssh-signer.<region>.example.com)
 * An existing state directory is reused (the trust anchor stays stable across restarts);
 * a signer whose CN does not match the configured region/domain is re-issued.
 * OCSP responses are made in memory at every load (thisUpdate now-1h, nextUpdate now+7d),
 * each signed by the issuer of the certificate it is about.
 *
 * The HTTPS listeners (--tls-listen) have a PKI of their own, in the same directory:
 *   tls-ca.pem/.key        their CA (kept across restarts like ca.pem: clients are given it as their
 *                          CA bundle); a root apart from the signer's, as AWS's TLS and signer PKIs are
 *   tls-server.pem/.key    the server certificate, ECDSA P-256, subjectAltName the names asked for,
 *                          issued anew at every start (only the CA must stay stable) */
#ifndef EMU_PKI_H
#define EMU_PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum emu_ocsp_fault {
    EMU_OCSP_GOOD = 0,
    EMU_OCSP_REVOKED,       /* status "revoked" */
    EMU_OCSP_MISSING,       /* no entry served */
    EMU_OCSP_BAD_SIGNATURE, /* signed by a key that is not the issuer's */
};

enum emu_ocsp_target {
    EMU_OCSP_TARGET_SIGNER = 0,
    EMU_OCSP_TARGET_INTERMEDIATE,
};

struct emu_pki_options {
    const char *state_dir;
    const char *region;              /* "us-east-1" */
    const char *domain;              /* "amazonaws.com" */
    int wrong_signer_cn;             /* serve and sign with signer-wrongcn instead of signer */
    enum emu_ocsp_fault ocsp_fault;  /* applied to ocsp_fault_target only */
    enum emu_ocsp_target ocsp_fault_target;
};

struct emu_ocsp_entry {
    char name[41];   /* upper-case hex SHA-1 of the certificate's DER */
    char *der_b64;   /* base64 DER OCSP response, as IMDS serves it */
};

struct emu_pki {
    EVP_PKEY *signer_key;       /* the key records are signed with */
    X509 *signer_cert;
    X509 *intermediate_cert;
    X509 *root_cert;
    char *chain_pem;            /* signer PEM then intermediate PEM: the body of signer-cert/ */
    struct emu_ocsp_entry ocsp[2];
    size_t n_ocsp;              /* entries actually served (MISSING removes one) */
};

/* Returns 0 or an errno value; on failure a message was logged with eic_log(). */
int emu_pki_load(const struct emu_pki_options *opts, struct emu_pki **out);
void emu_pki_free(struct emu_pki *pki);
/* RSA-PSS, SHA-256, MGF1-SHA-256, salt length 32 over data with the signer key;
 * *sig_b64 is malloc'd base64 (one line, no newline). */
int emu_pki_sign(const struct emu_pki *pki, const void *data, size_t len, char **sig_b64);

#define EMU_TLS_MAX_NAMES 64

struct emu_tls_creds {
    char *cert_pem;   /* the server certificate (its issuer, tls-ca.pem, is the clients' trust anchor) */
    char *key_pem;    /* its key; wiped when freed */
};

/* Load (or make) the TLS CA in state_dir and issue the server certificate for names (DNS names,
 * "*.domain", IPv4/IPv6 literals; EINVAL for anything else). Returns 0 or an errno value, logged. */
int emu_pki_tls_load(const char *state_dir, const char *const *names, size_t n_names, struct emu_tls_creds **out);
void emu_pki_tls_free(struct emu_tls_creds *tls);

#endif
