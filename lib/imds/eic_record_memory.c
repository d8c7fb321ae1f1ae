/* The verified records a long-lived process remembers (eic_record_memory.h). */
#include "eic_record_memory.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void forget(struct eic_remembered_key *k)
{
    eic_keyrecords_free(k->records, k->n_records);
    memset(k, 0, sizeof(*k));
}

static struct eic_remembered_key *find(struct eic_record_memory *m, const char *user, const char *fingerprint)
{
    for (size_t i = 0; i < EIC_RECORD_MEMORY_KEYS; i++) {
        struct eic_remembered_key *k = &m->keys[i];

        if (k->user[0] != '\0' && strcmp(k->user, user) == 0 && strcmp(k->fingerprint, fingerprint) == 0) {
            return k;
        }
    }
    return NULL;
}

/* A free slot, or the one remembered first, forgotten to make room. */
static struct eic_remembered_key *make_room(struct eic_record_memory *m)
{
    struct eic_remembered_key *oldest = &m->keys[0];

    for (size_t i = 0; i < EIC_RECORD_MEMORY_KEYS; i++) {
        struct eic_remembered_key *k = &m->keys[i];

        if (k->user[0] == '\0') {
            return k;
        }
        if (k->order < oldest->order) {
            oldest = k;
        }
    }
    forget(oldest);
    return oldest;
}

static int copy_string(const char *from, char **to)
{
    *to = NULL;
    if (from == NULL) {
        return 0;
    }
    *to = strdup(from);
    return *to != NULL ? 0 : ENOMEM;
}

/* A deep copy of one verdict into the zeroed *to; on error *to holds what was copied (freed with
 * the array it is in). */
static int copy_verdict(const struct eic_record_verdict *from, struct eic_record_verdict *to)
{
    int ret;

    to->status = from->status;
    to->detail = from->detail; /* static text */
    memcpy(to->fingerprint, from->fingerprint, sizeof(to->fingerprint));
    to->expires = from->expires;
    if ((ret = copy_string(from->key, &to->key)) != 0 || (ret = copy_string(from->caller, &to->caller)) != 0 ||
        (ret = copy_string(from->request_id, &to->request_id)) != 0) {
        return ret;
    }
    return 0;
}

static size_t string_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

int eic_record_memory_get(struct eic_record_memory *m, const char *user, const char *fingerprint, uint64_t generation,
                          long long now_s, uint64_t now_ms, struct eic_record_verdict **verdicts, size_t *n_verdicts,
                          uint64_t *age_ms)
{
    struct eic_remembered_key *k;
    struct eic_record_verdict *out = NULL;
    size_t n_out = 0;
    int ret = ENOENT;

    *verdicts = NULL;
    *n_verdicts = 0;
    *age_ms = 0;
    k = find(m, user, fingerprint);
    if (k == NULL) {
        goto done;
    }
    /* now_ms before verified_ms cannot happen with one monotonic clock; if it did, the age would
     * be unknown, and an unknown age is too old. */
    if (generation == 0 || k->generation != generation || now_ms < k->verified_ms ||
        now_ms - k->verified_ms >= EIC_RECORD_MEMORY_MAX_AGE_MS) {
        forget(k);
        goto done;
    }
    out = calloc(k->n_records, sizeof(*out));
    if (out == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < k->n_records; i++) {
        /* eic_keyrecords' own rule: a record is valid while its #Timestamp is after now. */
        if (k->records[i].expires <= now_s) {
            continue;
        }
        ret = copy_verdict(&k->records[i], &out[n_out++]);
        if (ret != 0) {
            goto done;
        }
    }
    if (n_out == 0) {
        /* Every record of the key has expired: IMDS is asked again (it may have a newer one). */
        forget(k);
        ret = ENOENT;
        goto done;
    }
    *verdicts = out;
    *n_verdicts = n_out;
    *age_ms = now_ms - k->verified_ms;
    out = NULL;
    ret = 0;
done:
    eic_keyrecords_free(out, n_out);
    return ret;
}

/* Remember the ACCEPTED verdicts of the key fingerprint. Returns 0 (also when the key is past the
 * bounds and so not remembered) or ENOMEM. */
static int remember_key(struct eic_record_memory *m, const char *user, const char *fingerprint,
                        const struct eic_record_verdict *verdicts, size_t n_verdicts, uint64_t generation,
                        uint64_t fetched_ms)
{
    struct eic_remembered_key *k;
    struct eic_record_verdict *records = NULL;
    size_t n_records = 0;
    size_t count = 0;
    size_t bytes = 0;
    int ret = 0;

    for (size_t i = 0; i < n_verdicts; i++) {
        const struct eic_record_verdict *v = &verdicts[i];

        if (v->status == EIC_RECORD_ACCEPTED && strcmp(v->fingerprint, fingerprint) == 0) {
            count++;
            bytes += string_size(v->key) + string_size(v->caller) + string_size(v->request_id);
        }
    }
    if (count == 0 || count > EIC_RECORD_MEMORY_RECORDS_PER_KEY || bytes > EIC_RECORD_MEMORY_BYTES_PER_KEY) {
        goto done;
    }
    records = calloc(count, sizeof(*records));
    if (records == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_verdicts; i++) {
        const struct eic_record_verdict *v = &verdicts[i];

        if (v->status == EIC_RECORD_ACCEPTED && strcmp(v->fingerprint, fingerprint) == 0) {
            ret = copy_verdict(v, &records[n_records++]);
            if (ret != 0) {
                goto done;
            }
        }
    }
    k = make_room(m);
    /* Lengths checked by the caller: user is a valid login name, fingerprint came from a verdict of
     * the same size. */
    memcpy(k->user, user, strlen(user) + 1);
    memcpy(k->fingerprint, fingerprint, strlen(fingerprint) + 1);
    k->records = records;
    k->n_records = n_records;
    k->generation = generation;
    k->verified_ms = fetched_ms;
    k->order = ++m->next_order;
    records = NULL;
    n_records = 0;
done:
    eic_keyrecords_free(records, n_records);
    return ret;
}

static void forget_user(struct eic_record_memory *m, const char *user)
{
    for (size_t i = 0; i < EIC_RECORD_MEMORY_KEYS; i++) {
        if (m->keys[i].user[0] != '\0' && strcmp(m->keys[i].user, user) == 0) {
            forget(&m->keys[i]);
        }
    }
}

/* An ACCEPTED verdict always has a fingerprint (its key line parsed) ending within its array; the
 * check costs nothing and keeps an empty or unterminated one from ever becoming a key. */
static bool usable_fingerprint(const char fingerprint[64])
{
    return fingerprint[0] != '\0' && memchr(fingerprint, '\0', 64) != NULL;
}

/* Is verdicts[i] the first ACCEPTED verdict of its key? (Each key is remembered once.) */
static bool first_accepted_of_key(const struct eic_record_verdict *verdicts, size_t i)
{
    if (verdicts[i].status != EIC_RECORD_ACCEPTED) {
        return false;
    }
    for (size_t j = 0; j < i; j++) {
        if (verdicts[j].status == EIC_RECORD_ACCEPTED &&
            strcmp(verdicts[j].fingerprint, verdicts[i].fingerprint) == 0) {
            return false;
        }
    }
    return true;
}

int eic_record_memory_refresh(struct eic_record_memory *m, const char *user, const char *fingerprint,
                              const struct eic_record_verdict *verdicts, size_t n_verdicts, uint64_t generation,
                              uint64_t fetched_ms)
{
    int ret = 0;

    /* What this fetch says replaces what was remembered for user: a record no longer listed is no
     * longer given back. */
    forget_user(m, user);
    if (generation == 0 || strlen(user) > EIC_LOGIN_NAME_MAX) {
        goto done;
    }
    for (size_t i = 0; i < n_verdicts; i++) {
        if (verdicts[i].status == EIC_RECORD_TOO_MANY) {
            /* Records past the cap were not judged: what is known of a key may be a part. */
            goto done;
        }
    }
    for (size_t i = 0; i < n_verdicts; i++) {
        const char *fp = verdicts[i].fingerprint;

        if (!first_accepted_of_key(verdicts, i) || !usable_fingerprint(verdicts[i].fingerprint) ||
            (fingerprint != NULL && strcmp(fp, fingerprint) != 0)) {
            continue;
        }
        ret = remember_key(m, user, fp, verdicts, n_verdicts, generation, fetched_ms);
        if (ret != 0) {
            break;
        }
    }
done:
    if (ret != 0) {
        forget_user(m, user);
    }
    return ret;
}

void eic_record_memory_clear(struct eic_record_memory *m)
{
    for (size_t i = 0; i < EIC_RECORD_MEMORY_KEYS; i++) {
        if (m->keys[i].user[0] != '\0') {
            forget(&m->keys[i]);
        }
    }
}
