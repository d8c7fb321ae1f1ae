#include "eic_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_log.h"
#include "eic_metadata.h"
#include "eic_signer.h"

#define META "/latest/meta-data/"
#define SSH_KEYS META "managed-ssh-keys/"
#define SMALL_RESPONSE 4096

/* GET path into out (capped at max) and log what went wrong, naming the path. */
static int fetch(struct eic_imds *imds, const char *path, uint64_t deadline, size_t max, struct eic_buf *out)
{
    int ret;

    eic_buf_free(out);
    eic_buf_init(out, max);
    ret = eic_imds_get(imds, path, deadline, out);
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "IMDS %s: %s (%s)", path, eic_imds_strerror(ret), eic_imds_last_error(imds));
    }
    return ret;
}

/* A small metadata value: one line, no trailing newline tolerated beyond one. */
static int fetch_value(struct eic_imds *imds, const char *path, uint64_t deadline, struct eic_buf *out)
{
    int ret = fetch(imds, path, deadline, SMALL_RESPONSE, out);

    if (ret == ENOENT) {
        eic_log(LOG_ERR, "IMDS %s: not found", path);
        return EBADMSG;
    }
    if (ret == 0 && out->len > 0 && out->data[out->len - 1] == '\n') {
        out->data[--out->len] = '\0';
    }
    if (ret == 0 && (out->len == 0 || strlen(out->data) != out->len)) {
        eic_log(LOG_ERR, "IMDS %s: empty or binary value", path);
        return EBADMSG;
    }
    return ret;
}

struct signer_material {
    struct eic_buf chain;
    struct eic_ocsp_blob ocsp[EIC_MAX_OCSP_ENTRIES];
    char names[EIC_MAX_OCSP_ENTRIES][41];
    unsigned char *der[EIC_MAX_OCSP_ENTRIES];
    size_t n_ocsp;
};

static bool valid_ocsp_name(const char *s, size_t len)
{
    if (len != 40) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* signer-cert/ and every signer-ocsp/ entry the listing names. */
static int fetch_signer(struct eic_imds *imds, uint64_t deadline, size_t max, struct signer_material *m)
{
    struct eic_buf listing;
    struct eic_buf entry;
    char path[256];
    const char *p;
    const char *end;
    int ret;

    eic_buf_init(&listing, SMALL_RESPONSE);
    eic_buf_init(&entry, max);
    ret = fetch(imds, SSH_KEYS "signer-cert/", deadline, max, &m->chain);
    if (ret == ENOENT) {
        eic_log(LOG_ERR, "IMDS has keys but no signer certificate");
        ret = EBADMSG;
    }
    if (ret != 0) {
        goto done;
    }
    ret = fetch(imds, SSH_KEYS "signer-ocsp/", deadline, SMALL_RESPONSE, &listing);
    if (ret == ENOENT) {
        /* No responses at all: the signer check will say which certificate lacks one. */
        ret = 0;
        goto done;
    }
    if (ret != 0 || listing.len == 0) {
        /* An empty listing names no response (and its buffer may be NULL: no arithmetic on it). */
        goto done;
    }
    p = listing.data;
    end = listing.data + listing.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t i = m->n_ocsp;

        if (len == 0) {
            p += 1;
            continue;
        }
        if (!valid_ocsp_name(p, len)) {
            eic_log(LOG_WARNING, "IMDS signer-ocsp/ lists an entry that is not a certificate fingerprint; ignored");
        } else if (i == EIC_MAX_OCSP_ENTRIES) {
            eic_log(LOG_WARNING, "IMDS signer-ocsp/ lists more than %d entries; the rest are ignored",
                    EIC_MAX_OCSP_ENTRIES);
            break;
        } else {
            memcpy(m->names[i], p, 40);
            m->names[i][40] = '\0';
            snprintf(path, sizeof(path), SSH_KEYS "signer-ocsp/%s", m->names[i]);
            ret = fetch(imds, path, deadline, max, &entry);
            if (ret == ENOENT) {
                eic_log(LOG_WARNING, "IMDS %s: listed but not found", path);
            } else if (ret != 0) {
                goto done;
            } else if (eic_base64_decode(entry.data, entry.len, &m->der[i], &m->ocsp[i].der_len) != 0) {
                eic_log(LOG_WARNING, "IMDS %s: not base64; ignored", path);
            } else {
                m->ocsp[i].name = m->names[i];
                m->ocsp[i].der = m->der[i];
                m->n_ocsp++;
            }
            ret = 0;
        }
        p += len + 1;
    }
done:
    eic_buf_free(&listing);
    eic_buf_free(&entry);
    return ret;
}

static void signer_material_free(struct signer_material *m)
{
    eic_buf_free(&m->chain);
    for (size_t i = 0; i < EIC_MAX_OCSP_ENTRIES; i++) {
        free(m->der[i]);
    }
}

static void log_verdict(const char *user, const struct eic_record_verdict *v)
{
    switch (v->status) {
    case EIC_RECORD_ACCEPTED:
        break;
    case EIC_RECORD_EXPIRED:
        eic_log(LOG_INFO, "key %s for %s refused: %s", v->fingerprint[0] ? v->fingerprint : "(unparsed)", user,
                v->detail);
        break;
    default:
        eic_log(LOG_WARNING, "key record for %s refused (%s): %s%s%s", user, eic_record_status_name(v->status),
                v->detail, v->fingerprint[0] ? ", fingerprint " : "", v->fingerprint);
        break;
    }
}

int eic_keys_fetch_verified(struct eic_imds *imds, const struct eic_keys_request *req,
                            struct eic_record_verdict **verdicts, size_t *n_verdicts)
{
    struct signer_material signer;
    struct eic_buf instance_id;
    struct eic_buf zone;
    struct eic_buf domain;
    struct eic_buf records;
    struct eic_keyrecords_context ctx;
    EVP_PKEY *signer_key = NULL;
    char region[64];
    char expected_cn[256];
    char path[256];
    char reason[256];
    size_t max = (size_t)16 << 20; /* the IMDS client applies the configured, smaller cap */
    int ret;

    *verdicts = NULL;
    *n_verdicts = 0;
    memset(&signer, 0, sizeof(signer));
    eic_buf_init(&signer.chain, max);
    eic_buf_init(&instance_id, SMALL_RESPONSE);
    eic_buf_init(&zone, SMALL_RESPONSE);
    eic_buf_init(&domain, SMALL_RESPONSE);
    eic_buf_init(&records, max);

    /* The records first: with no key pushed for this user (the common case for every other
     * login) nothing else is fetched. */
    snprintf(path, sizeof(path), SSH_KEYS "active-keys/%s/", req->user);
    ret = fetch(imds, path, req->deadline_ms, max, &records);
    if (ret == ENOENT || (ret == 0 && records.len == 0)) {
        eic_log(LOG_DEBUG, "no EC2 Instance Connect keys for %s", req->user);
        ret = 0;
        goto done;
    }
    if (ret != 0) {
        goto done;
    }

    if ((ret = fetch_value(imds, META "instance-id", req->deadline_ms, &instance_id)) != 0 ||
        (ret = fetch_value(imds, META "placement/availability-zone", req->deadline_ms, &zone)) != 0 ||
        (ret = fetch_value(imds, META "services/domain", req->deadline_ms, &domain)) != 0) {
        goto done;
    }
    if (!eic_valid_instance_id(instance_id.data)) {
        eic_log(LOG_ERR, "IMDS instance-id is not a valid instance id");
        ret = EBADMSG;
        goto done;
    }
    if (!eic_region_from_zone(zone.data, region, sizeof(region))) {
        eic_log(LOG_ERR, "IMDS availability zone is not a valid zone name");
        ret = EBADMSG;
        goto done;
    }
    if (!eic_valid_domain(domain.data)) {
        eic_log(LOG_ERR, "IMDS services/domain is not an AWS domain");
        ret = EBADMSG;
        goto done;
    }
    snprintf(expected_cn, sizeof(expected_cn), "managed-ssh-signer.%s.%s", region, domain.data);

    ret = fetch_signer(imds, req->deadline_ms, max, &signer);
    if (ret != 0) {
        goto done;
    }
    ret = eic_signer_verify(signer.chain.data, signer.chain.len, req->anchors, expected_cn, signer.ocsp,
                            signer.n_ocsp, req->now, &signer_key, reason, sizeof(reason));
    if (ret != 0) {
        eic_log(LOG_ERR, "EC2 Instance Connect signer not trusted, no key accepted: %s", reason);
        goto done;
    }

    ctx.instance_id = instance_id.data;
    ctx.now = req->now;
    ctx.signer_key = signer_key;
    ctx.fingerprint = req->fingerprint;
    ret = eic_keyrecords_verify(records.data, records.len, &ctx, verdicts, n_verdicts);
    if (ret != 0) {
        goto done;
    }
    for (size_t i = 0; i < *n_verdicts; i++) {
        log_verdict(req->user, &(*verdicts)[i]);
    }
done:
    EVP_PKEY_free(signer_key);
    signer_material_free(&signer);
    eic_buf_free(&instance_id);
    eic_buf_free(&zone);
    eic_buf_free(&domain);
    eic_buf_free(&records);
    return ret;
}

int eic_keys_for_user(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline_ms,
                      struct eic_record_verdict **verdicts, size_t *n_verdicts)
{
    struct eic_imds_options opts;
    struct eic_keys_request req;
    struct eic_imds *imds = NULL;
    X509_STORE *anchors = NULL;
    unsigned long requests, retries;
    int ret;

    *verdicts = NULL;
    *n_verdicts = 0;
    ret = eic_signer_load_anchors(cfg->ca_file, cfg->ca_path, &anchors);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot load trust anchors (ca_file %s, ca_path %s)", cfg->ca_file ? cfg->ca_file : "-",
                cfg->ca_path ? cfg->ca_path : "-");
        ret = EACCES;
        goto done;
    }
    memset(&opts, 0, sizeof(opts));
    opts.endpoint = cfg->imds_endpoint;
    opts.request_timeout_ms = cfg->imds_timeout_ms;
    opts.token_ttl = cfg->imds_token_ttl;
    opts.max_response = (size_t)cfg->imds_max_response;
    ret = eic_imds_new(&opts, &imds);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot set up the IMDS client: %s", strerror(ret));
        goto done;
    }
    req.user = user;
    req.fingerprint = fingerprint;
    req.anchors = anchors;
    req.now = (long long)time(NULL);
    req.deadline_ms = deadline_ms;
    ret = eic_keys_fetch_verified(imds, &req, verdicts, n_verdicts);
    eic_imds_stats(imds, NULL, &requests, &retries);
    if (retries > 0) {
        /* A line of its own: IMDS, or this host's CPU, is slower than imds_timeout_ms allows, and
         * the next login may not get away with it. */
        eic_log(LOG_NOTICE, "IMDS: %lu of %lu requests ran into imds_timeout_ms (%ld ms) and were sent again",
                retries, requests, cfg->imds_timeout_ms);
    }
done:
    eic_imds_free(imds);
    X509_STORE_free(anchors);
    return ret;
}
