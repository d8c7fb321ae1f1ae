/* Signed key records and the per-os-user store (see emu_records.h for the record format). */
#include "emu_records.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define EMU_MAX_RECORDS_PER_USER 64
/* A record is a few hundred bytes (an RSA 4096 key line is the biggest part). */
#define EMU_MAX_RECORD_LEN (16 * 1024)

struct emu_record {
    struct emu_record *next;
    long long expires;
    char *text;
};

struct emu_user {
    struct emu_user *next;
    char *name;
    struct emu_record *head; /* oldest first: rendered in the order they were pushed */
    struct emu_record *tail;
    size_t count;
};

struct emu_record_store {
    pthread_mutex_t lock;
    struct emu_user *users;
};

/* A field value becomes one line of the record: a line break inside would let a pushed value
 * forge further '#' lines (or a key line) under the emulator's signature. */
static int check_line(const char *value, int may_be_empty)
{
    if (value == NULL || (!may_be_empty && value[0] == '\0')) {
        return EINVAL;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            return EINVAL;
        }
    }
    return 0;
}

/* Change one character to a different one of the same kind, so the record still parses
 * and only its signature is wrong. */
static char flip_char(char c)
{
    if (c >= 'a' && c <= 'z') {
        return c == 'z' ? 'a' : (char)(c + 1);
    }
    if (c >= 'A' && c <= 'Z') {
        return c == 'Z' ? 'A' : (char)(c + 1);
    }
    if (c >= '0' && c <= '9') {
        return c == '9' ? '0' : (char)(c + 1);
    }
    return c == 'x' ? 'y' : 'x';
}

/* Tamper with the signed part: the last character of the #Caller value (a different principal
 * is the attack a signature must stop), or, when the caller is empty, the last character of
 * the key line (its comment, or the base64 blob's final character). */
static void tamper_record(char *text, size_t caller_end, size_t key_end, int caller_empty)
{
    size_t at = caller_empty ? key_end - 1 : caller_end - 1;

    text[at] = flip_char(text[at]);
}

int emu_record_make(const struct emu_pki *pki, const struct emu_record_fields *fields, int tamper,
                    char **record)
{
    struct eic_buf buf;
    char *sig = NULL;
    size_t caller_end;
    size_t key_end;
    int ret;

    *record = NULL;
    eic_buf_init(&buf, EMU_MAX_RECORD_LEN);
    if (pki == NULL || fields == NULL || check_line(fields->instance_id, 0) != 0 ||
        check_line(fields->caller_arn, 1) != 0 || check_line(fields->request_id, 0) != 0 ||
        check_line(fields->key_line, 0) != 0) {
        return EINVAL;
    }
    ret = eic_buf_printf(&buf, "#Timestamp=%lld\n#Instance=%s\n#Caller=%s", fields->expires,
                         fields->instance_id, fields->caller_arn);
    if (ret != 0) {
        goto done;
    }
    caller_end = buf.len;
    ret = eic_buf_printf(&buf, "\n#Request=%s\n%s", fields->request_id, fields->key_line);
    if (ret != 0) {
        goto done;
    }
    key_end = buf.len;
    ret = eic_buf_append_str(&buf, "\n");
    if (ret != 0) {
        goto done;
    }
    /* Signed bytes: every '#' line and the key line, each with its '\n' - i.e. all of buf. */
    ret = emu_pki_sign(pki, buf.data, buf.len, &sig);
    if (ret != 0) {
        goto done;
    }
    ret = eic_buf_printf(&buf, "%s\n", sig);
    if (ret != 0) {
        goto done;
    }
    if (tamper) {
        tamper_record(buf.data, caller_end, key_end, fields->caller_arn[0] == '\0');
    }
    *record = eic_buf_steal(&buf);
    ret = *record != NULL ? 0 : ENOMEM;
done:
    free(sig);
    eic_buf_free(&buf);
    return ret;
}

int emu_record_store_new(struct emu_record_store **out)
{
    struct emu_record_store *store = calloc(1, sizeof(*store));

    *out = NULL;
    if (store == NULL) {
        return ENOMEM;
    }
    if (pthread_mutex_init(&store->lock, NULL) != 0) {
        free(store);
        return ENOMEM;
    }
    *out = store;
    return 0;
}

static void free_records(struct emu_record *rec)
{
    while (rec != NULL) {
        struct emu_record *next = rec->next;

        free(rec->text);
        free(rec);
        rec = next;
    }
}

void emu_record_store_free(struct emu_record_store *store)
{
    struct emu_user *user;

    if (store == NULL) {
        return;
    }
    user = store->users;
    while (user != NULL) {
        struct emu_user *next = user->next;

        free_records(user->head);
        free(user->name);
        free(user);
        user = next;
    }
    pthread_mutex_destroy(&store->lock);
    free(store);
}

/* Caller holds the lock. */
static struct emu_user *find_user(struct emu_record_store *store, const char *os_user)
{
    for (struct emu_user *user = store->users; user != NULL; user = user->next) {
        if (strcmp(user->name, os_user) == 0) {
            return user;
        }
    }
    return NULL;
}

/* Drop the user's records with expires <= now. Caller holds the lock. */
static void prune_user(struct emu_user *user, long long now)
{
    struct emu_record **link = &user->head;

    user->tail = NULL;
    while (*link != NULL) {
        struct emu_record *rec = *link;

        if (rec->expires <= now) {
            *link = rec->next;
            free(rec->text);
            free(rec);
            user->count--;
        } else {
            user->tail = rec;
            link = &rec->next;
        }
    }
}

/* Forget a user without records, so the list only holds users with something to serve.
 * Caller holds the lock. */
static void drop_user_if_empty(struct emu_record_store *store, struct emu_user *user)
{
    if (user->head != NULL) {
        return;
    }
    for (struct emu_user **link = &store->users; *link != NULL; link = &(*link)->next) {
        if (*link == user) {
            *link = user->next;
            free(user->name);
            free(user);
            return;
        }
    }
}

int emu_record_store_add(struct emu_record_store *store, const char *os_user, const char *record,
                         long long expires)
{
    struct emu_record *rec = NULL;
    struct emu_user *user;
    int ret;

    if (store == NULL || os_user == NULL || os_user[0] == '\0' || record == NULL) {
        return EINVAL;
    }
    rec = calloc(1, sizeof(*rec));
    if (rec == NULL) {
        return ENOMEM;
    }
    rec->expires = expires;
    rec->text = strdup(record);
    if (rec->text == NULL) {
        free(rec);
        return ENOMEM;
    }

    pthread_mutex_lock(&store->lock);
    user = find_user(store, os_user);
    if (user == NULL) {
        user = calloc(1, sizeof(*user));
        if (user == NULL || (user->name = strdup(os_user)) == NULL) {
            free(user);
            user = NULL;
            ret = ENOMEM;
            goto done;
        }
        user->next = store->users;
        store->users = user;
    }
    /* Only live records count against the cap: expired ones are dropped first. */
    prune_user(user, (long long)time(NULL));
    if (user->count >= EMU_MAX_RECORDS_PER_USER) {
        ret = ENOSPC;
        goto done;
    }
    if (user->tail != NULL) {
        user->tail->next = rec;
    } else {
        user->head = rec;
    }
    user->tail = rec;
    user->count++;
    rec = NULL;
    ret = 0;
done:
    if (user != NULL) {
        drop_user_if_empty(store, user);
    }
    pthread_mutex_unlock(&store->lock);
    if (rec != NULL) {
        free(rec->text);
        free(rec);
    }
    return ret;
}

int emu_record_store_render(struct emu_record_store *store, const char *os_user, long long now,
                            struct eic_buf *out)
{
    struct emu_user *user;
    size_t start = out->len;
    int ret = 0;

    if (store == NULL || os_user == NULL) {
        return EINVAL;
    }
    pthread_mutex_lock(&store->lock);
    user = find_user(store, os_user);
    if (user == NULL) {
        ret = ENOENT;
        goto done;
    }
    prune_user(user, now);
    if (user->head == NULL) {
        drop_user_if_empty(store, user);
        ret = ENOENT;
        goto done;
    }
    for (struct emu_record *rec = user->head; rec != NULL && ret == 0; rec = rec->next) {
        if (rec != user->head) {
            ret = eic_buf_append_str(out, "\n"); /* each record ends in '\n': this makes the blank line */
        }
        if (ret == 0) {
            ret = eic_buf_append_str(out, rec->text);
        }
    }
done:
    pthread_mutex_unlock(&store->lock);
    if (ret != 0 && ret != ENOENT && out->data != NULL) {
        /* Never leave half a listing behind for the caller to serve. */
        out->len = start;
        out->data[start] = '\0';
    }
    return ret;
}

int emu_uuid4(char out[37])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1) {
        return EIO;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}
