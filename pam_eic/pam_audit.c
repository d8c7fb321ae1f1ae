#include "pam_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "eic_log.h"

/* NULL for "" so that unknown values are JSON null, not empty strings. */
static int add_string(json_object *obj, const char *key, const char *value)
{
    json_object *v = NULL;

    if (value != NULL && value[0] != '\0') {
        v = json_object_new_string(value);
        if (v == NULL) {
            return ENOMEM;
        }
    }
    if (json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return ENOMEM;
    }
    return 0;
}

static int add_int(json_object *obj, const char *key, long long value)
{
    json_object *v = json_object_new_int64(value);

    if (v == NULL || json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return ENOMEM;
    }
    return 0;
}

static int build_line(const struct pam_eic_session *s, const char *event, long long duration, char **line,
                      size_t *len)
{
    json_object *obj = json_object_new_object();
    json_object *b = NULL;
    const char *text;
    int ret = ENOMEM;

    *line = NULL;
    if (obj == NULL) {
        goto done;
    }
    if (add_string(obj, "event", event) != 0 || add_int(obj, "time", (long long)time(NULL)) != 0 ||
        add_string(obj, "user", s->user) != 0 || add_int(obj, "uid", (long long)s->uid) != 0 ||
        add_string(obj, "principal", s->principal) != 0 || add_string(obj, "request_id", s->request_id) != 0 ||
        add_string(obj, "fingerprint", s->fingerprint) != 0 || add_string(obj, "rhost", s->rhost) != 0 ||
        add_string(obj, "service", s->service) != 0 || add_int(obj, "pid", (long long)s->pid) != 0) {
        goto done;
    }
    b = json_object_new_boolean(s->eic_key);
    if (b == NULL || json_object_object_add(obj, "eic_key", b) != 0) {
        json_object_put(b);
        goto done;
    }
    if (duration >= 0 && add_int(obj, "duration", duration) != 0) {
        goto done;
    }
    /* PLAIN: no newlines inside the object; json-c escapes control characters in strings (an rhost
     * or a #Caller from a record cannot break the one-object-per-line framing). */
    text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL || asprintf(line, "%s\n", text) < 0) {
        *line = NULL;
        goto done;
    }
    *len = strlen(*line);
    ret = 0;
done:
    json_object_put(obj);
    return ret;
}

/* The directory of the audit log: created 0700 when missing (only its last component: the
 * directories above it are the system's). It must be ours and writable by us alone: whoever else
 * may write it may delete or replace the trail. */
static int ensure_dir(const char *path)
{
    char dir[PAM_EIC_PATH_MAX];
    char *slash;
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return 0; /* directly under / */
    }
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return errno;
    }
    if (lstat(dir, &st) != 0) {
        return errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        return ENOTDIR;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        return EPERM;
    }
    return 0;
}

static int append(const char *path, const char *line, size_t len)
{
    struct stat st;
    ssize_t n;
    int fd = -1;
    int ret;

    ret = ensure_dir(path);
    if (ret != 0) {
        goto done;
    }
    /* O_NOFOLLOW: a symlink planted at the log path must not make root append to another file. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0) {
        ret = errno;
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        ret = errno;
        goto done;
    }
    /* Someone else's file, or one others may rewrite, is no audit trail. */
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ret = EPERM;
        goto done;
    }
    do {
        n = write(fd, line, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        ret = errno;
        goto done;
    }
    if ((size_t)n != len) {
        ret = EIO;
        goto done;
    }
    ret = 0;
done:
    if (fd >= 0 && close(fd) != 0 && ret == 0) {
        ret = errno;
    }
    return ret;
}

static const char *or_dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

int pam_eic_audit_write(const struct pam_eic_session *s, const char *event, long long duration)
{
    char *line = NULL;
    size_t len = 0;
    char dur[32] = "";
    int ret;

    if (duration >= 0) {
        snprintf(dur, sizeof(dur), " duration=%llds", duration);
    }
    eic_log(LOG_INFO, "%s user=%s uid=%lu principal=%s request-id=%s fingerprint=%s rhost=%s service=%s pid=%ld%s%s",
            event, s->user, (unsigned long)s->uid, or_dash(s->principal), or_dash(s->request_id),
            or_dash(s->fingerprint), or_dash(s->rhost), or_dash(s->service), (long)s->pid,
            s->eic_key ? " eic-key" : "", dur);
    ret = build_line(s, event, duration, &line, &len);
    if (ret == 0) {
        ret = append(s->audit_log, line, len);
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "cannot write the %s audit record for %s to %s: %s", event, s->user, s->audit_log,
                strerror(ret));
    }
    free(line);
    return ret;
}
