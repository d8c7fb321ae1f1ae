#include "eic_keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_log.h"
#include "eic_metadata.h"
#include "eic_record_memory.h"
#include "eic_signer.h"
#include "eic_time.h"

#define META "/latest/meta-data/"
#define SSH_KEYS META "managed-ssh-keys/"
#define SMALL_RESPONSE 4096
/* Kept state (eic_keys_keep_state): the longest a verified signer is relied on without verifying
 * it again, whatever its certificates and OCSP responses allow; and how many idle IMDS clients
 * are kept. */
#define TRUST_REUSE_MAX_SECONDS 300
#define IMDS_POOL_MAX 16

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

/* ---- what a long-lived process keeps between requests ------------------------------------------ */

/* Guards everything below; held only to take or put back, never during I/O or verification. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static bool keep_state;
/* Idle IMDS clients, each with its session token and connection, and the options they were made
 * with ("endpoint timeout ttl max"). */
static struct {
    struct eic_imds *imds;
    char options[160];
} idle[IMDS_POOL_MAX];
static size_t n_idle;
/* The last verified signer: what it was verified against ("endpoint ca_file@version
 * ca_path@version", file_identity()), this
 * instance's id, the signer's key, and until when it may be relied on (Unix seconds). generation
 * changes whenever the signer relied on changes or is dropped (never 0 once one was kept). */
static struct {
    char source[4096 + 160];
    char instance_id[64];
    EVP_PKEY *signer_key;
    long long valid_until;
    uint64_t generation;
} trust;
/* The records that verified ACCEPTED with that signer, per (user, fingerprint), tagged with its
 * generation: forgotten whenever it changes, so that a record is never given back on the word of
 * a signer no longer relied on. */
static struct eic_record_memory verified_records;

void eic_keys_keep_state(void)
{
    pthread_mutex_lock(&kept_lock);
    keep_state = true;
    pthread_mutex_unlock(&kept_lock);
}

/* Is the kept signer one to rely on for source at now? (kept_lock held) */
static bool trust_usable_locked(const char *source, long long now)
{
    return trust.signer_key != NULL && now < trust.valid_until && strcmp(trust.source, source) == 0;
}

/* Drop the kept signer, and with it every record verified with it. (kept_lock held) */
static void trust_drop_locked(void)
{
    EVP_PKEY_free(trust.signer_key);
    trust.signer_key = NULL;
    trust.generation++;
    eic_record_memory_clear(&verified_records);
}

/* The kept signer for source at now (its key up-ref'd into *key, its generation in *generation),
 * or false. */
static bool trust_get(const char *source, long long now, char instance_id[64], EVP_PKEY **key, uint64_t *generation)
{
    bool ok = false;

    pthread_mutex_lock(&kept_lock);
    if (trust_usable_locked(source, now) && EVP_PKEY_up_ref(trust.signer_key) == 1) {
        memcpy(instance_id, trust.instance_id, sizeof(trust.instance_id));
        *key = trust.signer_key;
        *generation = trust.generation;
        ok = true;
    }
    pthread_mutex_unlock(&kept_lock);
    return ok;
}

static void trust_forget(void)
{
    pthread_mutex_lock(&kept_lock);
    trust_drop_locked();
    pthread_mutex_unlock(&kept_lock);
}

/* Keep key, just verified for source and instance_id, as the signer to rely on; returns the
 * generation it is kept under, 0 when it could not be kept. */
static uint64_t trust_put(const char *source, const char *instance_id, EVP_PKEY *key, long long now,
                          long long valid_until)
{
    uint64_t generation;

    if (valid_until > now + TRUST_REUSE_MAX_SECONDS) {
        valid_until = now + TRUST_REUSE_MAX_SECONDS;
    }
    if (strlen(source) >= sizeof(trust.source) || strlen(instance_id) >= sizeof(trust.instance_id) ||
        EVP_PKEY_up_ref(key) != 1) {
        return 0;
    }
    pthread_mutex_lock(&kept_lock);
    /* The signer relied on, verified again (by requests that found none kept at the same time):
     * the records verified with it stay. Any other change, an expired signer verified again
     * included, is a new generation, and the records verified with the one before are forgotten. */
    if (!trust_usable_locked(source, now) || strcmp(trust.instance_id, instance_id) != 0 ||
        EVP_PKEY_eq(trust.signer_key, key) != 1) {
        trust_drop_locked();
        memcpy(trust.source, source, strlen(source) + 1);
        memcpy(trust.instance_id, instance_id, strlen(instance_id) + 1);
    }
    EVP_PKEY_free(trust.signer_key);
    trust.signer_key = key;
    trust.valid_until = valid_until;
    generation = trust.generation;
    pthread_mutex_unlock(&kept_lock);
    return generation;
}

/* The ACCEPTED records remembered for (user, fingerprint) that may answer for source at now
 * (eic_record_memory_get): 0 with them in *verdicts, else ENOENT (or ENOMEM). */
static int remembered_records(const char *source, const char *user, const char *fingerprint, long long now,
                              struct eic_record_verdict **verdicts, size_t *n_verdicts, uint64_t *age_ms)
{
    int ret = ENOENT;

    *verdicts = NULL;
    *n_verdicts = 0;
    pthread_mutex_lock(&kept_lock);
    if (trust.signer_key != NULL && now >= trust.valid_until) {
        /* The kept signer has expired (a certificate, an OCSP response, the 300 s): neither it nor
         * what it vouched for is relied on any longer. */
        trust_drop_locked();
    }
    if (trust_usable_locked(source, now)) {
        ret = eic_record_memory_get(&verified_records, user, fingerprint, trust.generation, now,
                                    eic_monotonic_ms(), verdicts, n_verdicts, age_ms);
    }
    pthread_mutex_unlock(&kept_lock);
    return ret;
}

/* After a fetch for user fetched at fetched_ms: its verdicts replace what was remembered for
 * user, kept only if they were judged with the signer still relied on. */
static void remember_records(const char *user, const char *fingerprint, const struct eic_record_verdict *verdicts,
                             size_t n_verdicts, uint64_t generation, uint64_t fetched_ms)
{
    int ret;

    pthread_mutex_lock(&kept_lock);
    if (generation != trust.generation || trust.signer_key == NULL) {
        /* The signer changed while this request was judging with it: remember nothing. */
        generation = 0;
    }
    ret = eic_record_memory_refresh(&verified_records, user, fingerprint, verdicts, n_verdicts, generation,
                                    fetched_ms);
    pthread_mutex_unlock(&kept_lock);
    if (ret != 0) {
        eic_log(LOG_NOTICE, "cannot remember the verified key records of %s (%s); they are fetched again next time",
                user, strerror(ret));
    }
}

/* An idle IMDS client made with options, or a new one. */
static int imds_take(const struct eic_imds_options *opts, const char *options, struct eic_imds **out)
{
    *out = NULL;
    pthread_mutex_lock(&kept_lock);
    for (size_t i = n_idle; i-- > 0;) {
        if (strcmp(idle[i].options, options) == 0) {
            *out = idle[i].imds;
            idle[i] = idle[--n_idle];
            break;
        }
    }
    pthread_mutex_unlock(&kept_lock);
    return *out != NULL ? 0 : eic_imds_new(opts, out);
}

/* Keep imds for the next request (when state is kept and there is room), or free it. */
static void imds_give_back(struct eic_imds *imds, const char *options)
{
    pthread_mutex_lock(&kept_lock);
    if (keep_state && n_idle < IMDS_POOL_MAX && strlen(options) < sizeof(idle[0].options)) {
        idle[n_idle].imds = imds;
        memcpy(idle[n_idle].options, options, strlen(options) + 1);
        n_idle++;
        imds = NULL;
    }
    pthread_mutex_unlock(&kept_lock);
    eic_imds_free(imds);
}

/* What identifies the version of a trust anchor file or directory: an anchor replaced or removed
 * under the same name must not keep a signer verified against the old one. */
static int file_identity(const char *path, char *out, size_t len)
{
    struct stat st;
    int n;

    if (path == NULL) {
        n = snprintf(out, len, "-");
    } else if (stat(path, &st) != 0) {
        n = snprintf(out, len, "%s@-", path);
    } else {
        n = snprintf(out, len, "%s@%lu:%lu:%lld:%lld.%09ld", path, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
                     (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    return n >= 0 && (size_t)n < len ? 0 : ENAMETOOLONG;
}

/* ---- fetching and verifying --------------------------------------------------------------------- */

static bool any_bad_signature(const struct eic_record_verdict *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].status == EIC_RECORD_BAD_SIGNATURE) {
            return true;
        }
    }
    return false;
}

/* eic_keys_fetch_verified, relying on the kept signer for trust_source when there is one (NULL:
 * never kept, never relied on). *generation: that of the kept signer the records were judged with,
 * 0 when they were not (or there were none). */
static int fetch_verified(struct eic_imds *imds, const struct eic_keys_request *req, const char *trust_source,
                          struct eic_record_verdict **verdicts, size_t *n_verdicts, uint64_t *generation)
{
    struct signer_material signer;
    struct eic_buf instance_id;
    struct eic_buf zone;
    struct eic_buf domain;
    struct eic_buf records;
    struct eic_keyrecords_context ctx;
    EVP_PKEY *signer_key = NULL;
    char kept_id[64];
    long long valid_until = 0;
    char region[64];
    char expected_cn[256];
    char path[256];
    char reason[256];
    size_t max = (size_t)16 << 20; /* the IMDS client applies the configured, smaller cap */
    int ret;

    *verdicts = NULL;
    *n_verdicts = 0;
    *generation = 0;
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

    ctx.now = req->now;
    ctx.fingerprint = req->fingerprint;
    if (trust_source != NULL && trust_get(trust_source, req->now, kept_id, &signer_key, generation)) {
        ctx.instance_id = kept_id;
        ctx.signer_key = signer_key;
        ret = eic_keyrecords_verify(records.data, records.len, &ctx, verdicts, n_verdicts);
        if (ret == 0 && !any_bad_signature(*verdicts, *n_verdicts)) {
            goto log_verdicts;
        }
        /* Any doubt (a record that does not verify with the signer kept may be signed by a new
         * one): the signer is fetched and verified again, and the records judged by it. */
        eic_log(LOG_INFO, "a key record for %s does not verify with the signer verified before; verifying the "
                "signer again", req->user);
        eic_keyrecords_free(*verdicts, *n_verdicts);
        *verdicts = NULL;
        *n_verdicts = 0;
        EVP_PKEY_free(signer_key);
        signer_key = NULL;
        *generation = 0;
        trust_forget();
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
    ret = eic_signer_verify_until(signer.chain.data, signer.chain.len, req->anchors, expected_cn, signer.ocsp,
                                  signer.n_ocsp, req->now, &signer_key, &valid_until, reason, sizeof(reason));
    if (ret != 0) {
        eic_log(LOG_ERR, "EC2 Instance Connect signer not trusted, no key accepted: %s", reason);
        goto done;
    }
    if (trust_source != NULL) {
        *generation = trust_put(trust_source, instance_id.data, signer_key, req->now, valid_until);
    }

    ctx.instance_id = instance_id.data;
    ctx.signer_key = signer_key;
    ret = eic_keyrecords_verify(records.data, records.len, &ctx, verdicts, n_verdicts);
    if (ret != 0) {
        *generation = 0;
        goto done;
    }
log_verdicts:
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

int eic_keys_fetch_verified(struct eic_imds *imds, const struct eic_keys_request *req,
                            struct eic_record_verdict **verdicts, size_t *n_verdicts)
{
    uint64_t generation;

    return fetch_verified(imds, req, NULL, verdicts, n_verdicts, &generation);
}

int eic_keys_for_user(const struct eic_config *cfg, const char *user, const char *fingerprint, uint64_t deadline_ms,
                      struct eic_record_verdict **verdicts, size_t *n_verdicts)
{
    struct eic_imds_options opts;
    struct eic_keys_request req;
    struct eic_imds *imds = NULL;
    X509_STORE *anchors = NULL;
    unsigned long requests, retries, requests_before, retries_before;
    char options[160];
    char source[sizeof(trust.source)];
    char ca_file_id[PATH_MAX + 80];
    char ca_path_id[PATH_MAX + 80];
    uint64_t generation = 0;
    uint64_t fetched_ms;
    uint64_t age_ms;
    bool kept = false;
    bool source_ok;
    int ret;

    *verdicts = NULL;
    *n_verdicts = 0;
    /* What a kept client and a kept signer were made from: another configuration gets its own. */
    snprintf(options, sizeof(options), "%s %ld %ld %ld", cfg->imds_endpoint, cfg->imds_timeout_ms, cfg->imds_token_ttl,
             cfg->imds_max_response);
    source_ok = file_identity(cfg->ca_file, ca_file_id, sizeof(ca_file_id)) == 0 &&
                file_identity(cfg->ca_path, ca_path_id, sizeof(ca_path_id)) == 0 &&
                (size_t)snprintf(source, sizeof(source), "%s %s %s", cfg->imds_endpoint, ca_file_id, ca_path_id) <
                    sizeof(source);
    pthread_mutex_lock(&kept_lock);
    kept = keep_state;
    pthread_mutex_unlock(&kept_lock);
    req.now = (long long)time(NULL);

    /* A login asks for the same key two or three times within seconds (sshd's AKC runs, pam_eic's
     * session step): the records verified at its first request answer the others. Only for a
     * fingerprint: a request for all of a user's keys must see one pushed a moment ago. */
    if (kept && source_ok && fingerprint != NULL) {
        ret = remembered_records(source, user, fingerprint, req.now, verdicts, n_verdicts, &age_ms);
        if (ret == 0) {
            eic_log(LOG_DEBUG, "key %s for %s: the records verified %llu ms ago answer, no IMDS request", fingerprint,
                    user, (unsigned long long)age_ms);
            goto done;
        }
        if (ret != ENOENT) {
            goto done;
        }
    }

    ret = eic_signer_load_anchors(cfg->ca_file, cfg->ca_path, &anchors);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot load trust anchors (ca_file %s, ca_path %s)", cfg->ca_file ? cfg->ca_file : "-",
                cfg->ca_path ? cfg->ca_path : "-");
        ret = EACCES;
        goto done;
    }
    memset(&opts, 0, sizeof(opts));
    /* "auto": discovery (eic_imds.h), whose result this process keeps. */
    opts.endpoint = cfg->imds_endpoint;
    opts.request_timeout_ms = cfg->imds_timeout_ms;
    opts.token_ttl = cfg->imds_token_ttl;
    opts.max_response = (size_t)cfg->imds_max_response;
    ret = kept ? imds_take(&opts, options, &imds) : eic_imds_new(&opts, &imds);
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot set up the IMDS client: %s", strerror(ret));
        goto done;
    }
    req.user = user;
    req.fingerprint = fingerprint;
    req.anchors = anchors;
    req.deadline_ms = deadline_ms;
    /* Taken before the records are fetched: a remembered record's age counts from then. */
    fetched_ms = eic_monotonic_ms();
    /* A kept client counts since it was made: this call's share is the difference. */
    eic_imds_stats(imds, NULL, &requests_before, &retries_before);
    ret = fetch_verified(imds, &req, kept && source_ok ? source : NULL, verdicts, n_verdicts, &generation);
    eic_imds_stats(imds, NULL, &requests, &retries);
    requests -= requests_before;
    retries -= retries_before;
    if (retries > 0) {
        /* A line of its own: IMDS, or this host's CPU, is slower than imds_timeout_ms allows, and
         * the next login may not get away with it. */
        eic_log(LOG_NOTICE, "IMDS: %lu of %lu requests ran into imds_timeout_ms (%ld ms) and were sent again",
                retries, requests, cfg->imds_timeout_ms);
    }
    /* What IMDS lists now replaces what was remembered for user (a failed fetch says nothing). */
    if (kept && ret == 0) {
        remember_records(user, fingerprint, *verdicts, *n_verdicts, generation, fetched_ms);
    }
done:
    if (kept && imds != NULL) {
        imds_give_back(imds, options);
    } else {
        eic_imds_free(imds);
    }
    X509_STORE_free(anchors);
    return ret;
}
