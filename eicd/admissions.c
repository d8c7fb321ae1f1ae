/* eicd: the keys the AuthorizedKeysCommand let in, for the session of the same login.
 *
 * sshd runs the AKC at authentication and pam_eic's session step right after it. Between the two
 * the record can expire (a login at the edge of its 60 s), and IMDS no longer lists it: the
 * session would then not know the login was an EIC login at all (no principal, no watchdog; an
 * IAM-mapped account refused). So eicd remembers, per (user, fingerprint), what it let in, for as
 * long as sshd allows an authentication to take (LoginGraceTime, 120 s by default); pam_eic asks
 * with EIC_REQ_SESSION, root only. The AKC itself is never answered from here: an expired record
 * never logs anyone in. At most EICD_ADMISSIONS_MAX entries, the oldest replaced first. */
#include "eicd.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eic_time.h"

#define EICD_ADMISSIONS_MAX 256

struct admission {
    char *user;
    char *fingerprint;
    char *key;
    char *caller;
    char *request_id;
    uint64_t at_ms; /* monotonic; 0: empty slot */
};

static pthread_mutex_t admissions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct admission admissions[EICD_ADMISSIONS_MAX];
static size_t next_slot;

static void admission_clear(struct admission *a)
{
    free(a->user);
    free(a->fingerprint);
    free(a->key);
    free(a->caller);
    free(a->request_id);
    memset(a, 0, sizeof(*a));
}

void eicd_admission_note(const char *user, const char *fingerprint, const char *key, const char *caller,
                         const char *request_id)
{
    struct admission a = {
        .user = strdup(user),
        .fingerprint = strdup(fingerprint),
        .key = strdup(key),
        .caller = strdup(caller),
        .request_id = strdup(request_id),
        .at_ms = eic_monotonic_ms(),
    };
    size_t slot = EICD_ADMISSIONS_MAX;

    if (a.user == NULL || a.fingerprint == NULL || a.key == NULL || a.caller == NULL || a.request_id == NULL) {
        admission_clear(&a); /* not remembered: the session then asks IMDS, as without this */
        return;
    }
    pthread_mutex_lock(&admissions_lock);
    /* The same key let in again (the login's second AKC run) replaces its entry. */
    for (size_t i = 0; i < EICD_ADMISSIONS_MAX && slot == EICD_ADMISSIONS_MAX; i++) {
        if (admissions[i].at_ms != 0 && strcmp(admissions[i].user, user) == 0 &&
            strcmp(admissions[i].fingerprint, fingerprint) == 0) {
            slot = i;
        }
    }
    if (slot == EICD_ADMISSIONS_MAX) {
        slot = next_slot;
        next_slot = (next_slot + 1) % EICD_ADMISSIONS_MAX;
    }
    admission_clear(&admissions[slot]);
    admissions[slot] = a;
    pthread_mutex_unlock(&admissions_lock);
}

int eicd_admission_find(const char *user, const char *fingerprint, char **key, char **caller, char **request_id)
{
    uint64_t now = eic_monotonic_ms();
    int ret = ENOENT;

    *key = *caller = *request_id = NULL;
    pthread_mutex_lock(&admissions_lock);
    for (size_t i = 0; i < EICD_ADMISSIONS_MAX && ret == ENOENT; i++) {
        const struct admission *a = &admissions[i];

        if (a->at_ms == 0 || now - a->at_ms > EICD_ADMISSION_MS || strcmp(a->user, user) != 0 ||
            strcmp(a->fingerprint, fingerprint) != 0) {
            continue;
        }
        *key = strdup(a->key);
        *caller = strdup(a->caller);
        *request_id = strdup(a->request_id);
        ret = *key != NULL && *caller != NULL && *request_id != NULL ? 0 : ENOMEM;
    }
    pthread_mutex_unlock(&admissions_lock);
    if (ret != 0) {
        free(*key);
        free(*caller);
        free(*request_id);
        *key = *caller = *request_id = NULL;
    }
    return ret;
}

int eicd_admission_latest_caller(const char *user, char **caller)
{
    uint64_t now = eic_monotonic_ms();
    const struct admission *latest = NULL;
    int ret = ENOENT;

    *caller = NULL;
    pthread_mutex_lock(&admissions_lock);
    for (size_t i = 0; i < EICD_ADMISSIONS_MAX; i++) {
        const struct admission *a = &admissions[i];

        if (a->at_ms != 0 && now - a->at_ms <= EICD_ADMISSION_MS && a->caller[0] != '\0' &&
            strcmp(a->user, user) == 0 && (latest == NULL || a->at_ms > latest->at_ms)) {
            latest = a;
        }
    }
    if (latest != NULL) {
        *caller = strdup(latest->caller);
        ret = *caller != NULL ? 0 : ENOMEM;
    }
    pthread_mutex_unlock(&admissions_lock);
    return ret;
}

void eicd_admissions_free(void)
{
    pthread_mutex_lock(&admissions_lock);
    for (size_t i = 0; i < EICD_ADMISSIONS_MAX; i++) {
        admission_clear(&admissions[i]);
    }
    pthread_mutex_unlock(&admissions_lock);
}
