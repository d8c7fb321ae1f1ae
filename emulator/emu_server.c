#include "emu_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

int emu_server_init(struct emu_server *srv)
{
    pthread_condattr_t attr;
    int ret;

    memset(srv, 0, sizeof(*srv));
    srv->max_skew = 300;
    srv->start_time = time(NULL);
    ret = pthread_mutex_init(&srv->users_lock, NULL);
    if (ret != 0) {
        return ret;
    }
    ret = pthread_mutex_init(&srv->stop_lock, NULL);
    if (ret != 0) {
        pthread_mutex_destroy(&srv->users_lock);
        return ret;
    }
    /* Waits are measured on the monotonic clock: a wall-clock step must not stretch a delay. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    ret = pthread_cond_init(&srv->stop_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (ret != 0) {
        pthread_mutex_destroy(&srv->stop_lock);
        pthread_mutex_destroy(&srv->users_lock);
    }
    return ret;
}

void emu_server_destroy(struct emu_server *srv)
{
    for (size_t i = 0; i < srv->n_users; i++) {
        free(srv->users[i]);
    }
    srv->n_users = 0;
    pthread_cond_destroy(&srv->stop_cond);
    pthread_mutex_destroy(&srv->stop_lock);
    pthread_mutex_destroy(&srv->users_lock);
}

bool emu_server_stopping(struct emu_server *srv)
{
    bool stopping;

    pthread_mutex_lock(&srv->stop_lock);
    stopping = srv->stopping;
    pthread_mutex_unlock(&srv->stop_lock);
    return stopping;
}

long long emu_server_now(const struct emu_server *srv)
{
    return srv->fixed_now != 0 ? srv->fixed_now : (long long)time(NULL);
}

void emu_server_stop(struct emu_server *srv)
{
    pthread_mutex_lock(&srv->stop_lock);
    srv->stopping = true;
    pthread_cond_broadcast(&srv->stop_cond);
    pthread_mutex_unlock(&srv->stop_lock);
}

bool emu_server_sleep(struct emu_server *srv, long ms)
{
    struct timespec until;
    bool running;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopping) {
        if (pthread_cond_timedwait(&srv->stop_cond, &srv->stop_lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    running = !srv->stopping;
    pthread_mutex_unlock(&srv->stop_lock);
    return running;
}

void emu_server_wait_stop(struct emu_server *srv)
{
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopping) {
        pthread_cond_wait(&srv->stop_cond, &srv->stop_lock);
    }
    pthread_mutex_unlock(&srv->stop_lock);
}

/* Forget the users whose records have all expired (users_lock held). */
static void prune_users(struct emu_server *srv, long long now)
{
    struct eic_buf scratch;
    size_t keep = 0;

    eic_buf_init(&scratch, EMU_MAX_REPLY);
    for (size_t i = 0; i < srv->n_users; i++) {
        eic_buf_reset(&scratch);
        if (emu_record_store_render(srv->store, srv->users[i], now, &scratch) == ENOENT) {
            free(srv->users[i]);
            continue;
        }
        srv->users[keep++] = srv->users[i];
    }
    srv->n_users = keep;
    eic_buf_free(&scratch);
}

int emu_server_note_user(struct emu_server *srv, const char *os_user)
{
    int ret = 0;

    pthread_mutex_lock(&srv->users_lock);
    for (size_t i = 0; i < srv->n_users; i++) {
        if (strcmp(srv->users[i], os_user) == 0) {
            goto done;
        }
    }
    if (srv->n_users >= EMU_MAX_USERS) {
        prune_users(srv, (long long)time(NULL));
    }
    if (srv->n_users >= EMU_MAX_USERS) {
        ret = ENOSPC;
        goto done;
    }
    srv->users[srv->n_users] = strdup(os_user);
    if (srv->users[srv->n_users] == NULL) {
        ret = ENOMEM;
        goto done;
    }
    srv->n_users++;
done:
    pthread_mutex_unlock(&srv->users_lock);
    return ret;
}

int emu_server_list_users(struct emu_server *srv, long long now, struct eic_buf *out)
{
    struct eic_buf scratch;
    bool first = true;
    int ret = 0;

    /* The store can only render one user's records; a user is listed when that succeeds,
     * which also drops the users whose records have all expired. */
    eic_buf_init(&scratch, EMU_MAX_REPLY);
    pthread_mutex_lock(&srv->users_lock);
    for (size_t i = 0; i < srv->n_users; i++) {
        eic_buf_reset(&scratch);
        ret = emu_record_store_render(srv->store, srv->users[i], now, &scratch);
        if (ret == ENOENT) {
            ret = 0;
            continue;
        }
        if (ret == 0) {
            ret = eic_buf_printf(out, "%s%s", first ? "" : "\n", srv->users[i]);
            first = false;
        }
        if (ret != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&srv->users_lock);
    eic_buf_free(&scratch);
    return ret;
}

const char *emu_request_header(const struct emu_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

void emu_reply_init(struct emu_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->status = 500;
    reply->content_type = "text/plain";
    eic_buf_init(&reply->body, EMU_MAX_REPLY);
}

void emu_reply_free(struct emu_reply *reply)
{
    eic_buf_free(&reply->body);
}

int emu_reply_set(struct emu_reply *reply, unsigned int status, const char *content_type, const char *body,
                  size_t len)
{
    reply->status = status;
    reply->content_type = content_type;
    eic_buf_reset(&reply->body);
    return eic_buf_append(&reply->body, body, len);
}

int emu_reply_json(struct emu_reply *reply, unsigned int status, struct json_object *obj, int flags)
{
    const char *text = json_object_to_json_string_ext(obj, flags);
    int ret;

    if (text == NULL) {
        return ENOMEM;
    }
    ret = emu_reply_set(reply, status, "application/json", text, strlen(text));
    OPENSSL_cleanse((char *)text, strlen(text));
    return ret;
}

int emu_reply_header(struct emu_reply *reply, const char *name, const char *value)
{
    if (reply->n_headers >= EMU_MAX_REPLY_HEADERS) {
        return ENOSPC;
    }
    reply->headers[reply->n_headers].name = name;
    snprintf(reply->headers[reply->n_headers].value, sizeof(reply->headers[0].value), "%s", value);
    reply->n_headers++;
    return 0;
}
