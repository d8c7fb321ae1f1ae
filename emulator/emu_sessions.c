#include "emu_sessions.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define RECYCLE_AFTER 3600 /* seconds after expiry before a slot is reused */

struct emu_session {
    struct emu_principal p;
    char *reuse_key;
    long long issued;
    bool used;
};

struct emu_sessions {
    pthread_mutex_t lock;
    struct emu_session slots[EMU_MAX_SESSIONS];
};

int emu_sessions_new(struct emu_sessions **out)
{
    struct emu_sessions *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        return ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return 0;
}

static void slot_clear(struct emu_session *slot)
{
    free(slot->p.arn);
    free(slot->p.access_key_id);
    if (slot->p.secret_access_key != NULL) {
        OPENSSL_cleanse(slot->p.secret_access_key, strlen(slot->p.secret_access_key));
    }
    free(slot->p.secret_access_key);
    if (slot->p.session_token != NULL) {
        OPENSSL_cleanse(slot->p.session_token, strlen(slot->p.session_token));
    }
    free(slot->p.session_token);
    free(slot->reuse_key);
    memset(slot, 0, sizeof(*slot));
}

void emu_sessions_free(struct emu_sessions *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < EMU_MAX_SESSIONS; i++) {
        slot_clear(&s->slots[i]);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* prefix followed by n random characters of alphabet (malloc'd). */
static char *random_text(const char *prefix, size_t n, const char *alphabet)
{
    size_t plen = strlen(prefix), alen = strlen(alphabet);
    unsigned char raw[256];
    char *out;

    if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1) {
        return NULL;
    }
    out = malloc(plen + n + 1);
    if (out != NULL) {
        memcpy(out, prefix, plen);
        for (size_t i = 0; i < n; i++) {
            out[plen + i] = alphabet[raw[i] % alen];
        }
        out[plen + n] = '\0';
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    return out;
}

#define UPPER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define B64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

int emu_sessions_issue(struct emu_sessions *s, const char *arn, long long now, long duration, const char *reuse_key,
                       const struct emu_principal **out)
{
    struct emu_session *free_slot = NULL;
    struct emu_session *slot;
    int ret = 0;

    *out = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < EMU_MAX_SESSIONS; i++) {
        slot = &s->slots[i];
        if (!slot->used) {
            free_slot = free_slot ? free_slot : slot;
            continue;
        }
        if (reuse_key != NULL && slot->reuse_key != NULL && strcmp(slot->reuse_key, reuse_key) == 0 &&
            strcmp(slot->p.arn, arn) == 0 && slot->p.expires - now > (slot->p.expires - slot->issued) / 2) {
            *out = &slot->p;
            goto done;
        }
        if (free_slot == NULL && slot->p.expires + RECYCLE_AFTER < now) {
            free_slot = slot;
        }
    }
    if (free_slot == NULL) {
        ret = ENOSPC;
        goto done;
    }
    slot = free_slot;
    slot_clear(slot);
    slot->used = true;
    slot->issued = now;
    slot->p.expires = now + duration;
    slot->p.arn = strdup(arn);
    slot->reuse_key = reuse_key ? strdup(reuse_key) : NULL;
    slot->p.access_key_id = random_text("ASIA", 16, UPPER_DIGITS);
    slot->p.secret_access_key = random_text("", 40, B64);
    slot->p.session_token = random_text("IQoJb3JpZ2luX2VjEEIC", 180, B64);
    if (slot->p.arn == NULL || (reuse_key != NULL && slot->reuse_key == NULL) || slot->p.access_key_id == NULL ||
        slot->p.secret_access_key == NULL || slot->p.session_token == NULL) {
        slot_clear(slot);
        ret = ENOMEM;
        goto done;
    }
    *out = &slot->p;
done:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

const struct emu_principal *emu_sessions_find(struct emu_sessions *s, const char *access_key_id)
{
    const struct emu_principal *found = NULL;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < EMU_MAX_SESSIONS && found == NULL; i++) {
        if (s->slots[i].used && strcmp(s->slots[i].p.access_key_id, access_key_id) == 0) {
            found = &s->slots[i].p;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}
