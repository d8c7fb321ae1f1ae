/* What a long-lived process (eicd) remembers of the key records it verified: per (user, key
 * fingerprint), the records that verified ACCEPTED, so that the other requests of one login for
 * the same key (sshd's second AuthorizedKeysCommand run, pam_eic's session step) are answered
 * without IMDS and without verifying again.
 *
 * A plain data structure: no lock, no clock, no logging, no global state. The caller (eic_keys.c)
 * holds its lock around every call, passes the times, and tags what it remembers with the
 * generation of the verified signer the records were judged with; a record is given back only
 * under that same generation, so a signer dropped or replaced takes its records with it.
 * docs/SERVICE.md says why this is safe. */
#ifndef EIC_RECORD_MEMORY_H
#define EIC_RECORD_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "eic_keyrecords.h"
#include "eic_metadata.h"

/* Keys remembered in all (the oldest remembered goes first). A key is one (user, fingerprint). */
#define EIC_RECORD_MEMORY_KEYS 256
/* The longest a record is given back after it was verified, whatever its #Timestamp allows: the
 * span of one login's requests (the AKC's two runs come within deadline_ms each, the PAM session
 * right after), and no longer than EC2 Instance Connect lets a pushed key live (60 s). */
#define EIC_RECORD_MEMORY_MAX_AGE_MS 60000
/* Accepted records of one key (the same key pushed again within its lifetime); a key with more is
 * not remembered at all, so that an answer from memory is never a part of what IMDS lists. */
#define EIC_RECORD_MEMORY_RECORDS_PER_KEY 4
/* The key lines, #Caller and #Request values of one key's records together; a key with more is not
 * remembered (an RSA key line is under 1 KiB, an IAM ARN under 2 KiB). Bounds the memory to
 * about EIC_RECORD_MEMORY_KEYS * 8 KiB. */
#define EIC_RECORD_MEMORY_BYTES_PER_KEY 8192

struct eic_remembered_key {
    char user[EIC_LOGIN_NAME_MAX + 1];    /* "" when the slot is free */
    char fingerprint[64];
    struct eic_record_verdict *records;   /* ACCEPTED verdicts, deep copies */
    size_t n_records;
    uint64_t generation;                  /* of the signer they were verified with, never 0 */
    uint64_t verified_ms;                 /* monotonic: when they were fetched */
    uint64_t order;                       /* larger: remembered later */
};

struct eic_record_memory {
    struct eic_remembered_key keys[EIC_RECORD_MEMORY_KEYS];
    uint64_t next_order;
};

/* The records remembered for (user, fingerprint) that may answer now: verified with the signer of
 * generation, less than EIC_RECORD_MEMORY_MAX_AGE_MS before now_ms (monotonic), and not expired at
 * now_s (Unix seconds) by eic_keyrecords' rule (#Timestamp > now). Returns 0 with deep copies in
 * *verdicts (free with eic_keyrecords_free) and how long ago they were verified in *age_ms;
 * ENOENT when nothing may answer (a key found unusable is forgotten on the way); ENOMEM. */
int eic_record_memory_get(struct eic_record_memory *m, const char *user, const char *fingerprint, uint64_t generation,
                          long long now_s, uint64_t now_ms, struct eic_record_verdict **verdicts, size_t *n_verdicts,
                          uint64_t *age_ms);

/* A fetch of user's records, fetched at fetched_ms (monotonic) and judged with the signer of
 * generation (0: no kept signer), gave verdicts: what was remembered for user is forgotten, and the
 * ACCEPTED verdicts are remembered in its place, grouped by key. fingerprint is the one the fetch
 * was for (NULL: every record was judged); with one, only that key's records were judged, so the
 * user's other keys are forgotten and fetched again when asked for. Nothing is remembered under
 * generation 0, from a body with more records than were judged (EIC_RECORD_TOO_MANY) or past the
 * bounds above. Returns 0 or ENOMEM (then nothing is remembered for user). */
int eic_record_memory_refresh(struct eic_record_memory *m, const char *user, const char *fingerprint,
                              const struct eic_record_verdict *verdicts, size_t n_verdicts, uint64_t generation,
                              uint64_t fetched_ms);

/* Forget everything (the signer was dropped or replaced); frees what was remembered. */
void eic_record_memory_clear(struct eic_record_memory *m);

#endif
