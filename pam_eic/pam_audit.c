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

#include "eic_log.h"

/* The audit record is written here, without json-c: pam_eic is loaded into sshd, sudo and su, and
 * brings in nothing but libc and libpam. The text is the one json-c wrote before
 * (json_object_to_json_string_ext with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
 * byte for byte, so that readers of existing logs see no difference: keys in a fixed order, no
 * blanks, null for an unknown ("") value, and json-c's escaping of strings (tests/unit/
 * test_pam_libc.c compares the two for every byte value). */

/* The longest escape of one byte: "\u00XX". */
#define JSON_ESCAPE_MAX 6
#define FIELD_SIZE(field) sizeof(((const struct pam_eic_session *)NULL)->field)
/* The longest event name accepted ("session_expired" is the longest there is). */
#define AUDIT_EVENT_MAX 32
/* Room for the longest record: every string value escaped at JSON_ESCAPE_MAX bytes a byte, and
 * 512 bytes for the keys, the punctuation, the integers (at most 20 characters each), the
 * boolean and the final newline. */
#define AUDIT_LINE_MAX                                                                            \
    (JSON_ESCAPE_MAX * (AUDIT_EVENT_MAX + FIELD_SIZE(user) + FIELD_SIZE(principal) +              \
                        FIELD_SIZE(request_id) + FIELD_SIZE(fingerprint) + FIELD_SIZE(rhost) +    \
                        FIELD_SIZE(service)) +                                                    \
     512)

/* A JSON text written into a buffer of fixed size. The first error sticks (EOVERFLOW when the
 * buffer is too small, which AUDIT_LINE_MAX rules out for any session), so a record is built
 * with no check after each call and tested once at the end. */
struct json_writer {
    char *buf;
    size_t size;
    size_t used;
    bool first_member; /* no ',' before the next member */
    int err;
};

static void json_put(struct json_writer *w, const char *bytes, size_t len)
{
    if (w->err != 0) {
        return;
    }
    /* Keep one byte for the terminating NUL. */
    if (len >= w->size - w->used) {
        w->err = EOVERFLOW;
        return;
    }
    memcpy(w->buf + w->used, bytes, len);
    w->used += len;
    w->buf[w->used] = '\0';
}

/* A JSON string of the len bytes at s, escaped as json-c escapes: '"' and '\\' with a backslash,
 * the control characters that JSON has a short form for by it (\b \f \n \r \t), the other
 * bytes below 0x20 as \u00XX in lower-case hex (so no value, an rhost or a principal from a key
 * record, breaks the one-record-per-line framing), and everything else as it is: '/', DEL (0x7f)
 * and the bytes from 0x80 up (UTF-8 or not) are not escaped. */
static void json_put_string(struct json_writer *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t plain = 0; /* bytes of s before i not yet written: written in one piece */

    json_put(w, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[JSON_ESCAPE_MAX];
        size_t esc_len = 2;

        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c >= 0x20) {
                continue;
            }
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            esc_len = 6;
            break;
        }
        json_put(w, s + plain, i - plain);
        json_put(w, esc, esc_len);
        plain = i + 1;
    }
    json_put(w, s + plain, len - plain);
    json_put(w, "\"", 1);
}

/* "key": with the ',' that separates it from the member before. The keys are our own literals:
 * nothing in them needs escaping. */
static void json_put_key(struct json_writer *w, const char *key)
{
    if (!w->first_member) {
        json_put(w, ",", 1);
    }
    w->first_member = false;
    json_put(w, "\"", 1);
    json_put(w, key, strlen(key));
    json_put(w, "\":", 2);
}

/* A string member from a bounded char array (at most max bytes read, even without a NUL);
 * null when it is empty, as an unknown value is null in the records. */
static void json_member_string(struct json_writer *w, const char *key, const char *value, size_t max)
{
    size_t len = value != NULL ? strnlen(value, max) : 0;

    json_put_key(w, key);
    if (len == 0) {
        json_put(w, "null", 4);
    } else {
        json_put_string(w, value, len);
    }
}

static void json_member_int(struct json_writer *w, const char *key, long long value)
{
    char digits[32]; /* 20 characters for the lowest long long, with its sign */
    int n = snprintf(digits, sizeof(digits), "%lld", value);

    json_put_key(w, key);
    if (n < 0 || (size_t)n >= sizeof(digits)) {
        if (w->err == 0) {
            w->err = EOVERFLOW;
        }
        return;
    }
    json_put(w, digits, (size_t)n);
}

static void json_member_bool(struct json_writer *w, const char *key, bool value)
{
    json_put_key(w, key);
    json_put(w, value ? "true" : "false", value ? 4 : 5);
}

/* The record as one line, "\n" included, in a malloc'd *line of AUDIT_LINE_MAX bytes. Returns 0,
 * EINVAL (an event name longer than AUDIT_EVENT_MAX), ENOMEM, or EOVERFLOW (cannot happen for a
 * session within its fields' sizes; checked all the same). */
static int build_line(const struct pam_eic_session *s, const char *event, long long duration, char **line,
                      size_t *len)
{
    struct json_writer w = {.size = AUDIT_LINE_MAX, .first_member = true};
    size_t event_len = event != NULL ? strnlen(event, AUDIT_EVENT_MAX + 1) : 0;
    int ret;

    *line = NULL;
    *len = 0;
    if (event_len > AUDIT_EVENT_MAX) {
        ret = EINVAL;
        goto done;
    }
    w.buf = malloc(w.size);
    if (w.buf == NULL) {
        ret = ENOMEM;
        goto done;
    }
    json_put(&w, "{", 1);
    json_member_string(&w, "event", event, event_len);
    json_member_int(&w, "time", (long long)time(NULL));
    json_member_string(&w, "user", s->user, sizeof(s->user));
    json_member_int(&w, "uid", (long long)s->uid);
    json_member_string(&w, "principal", s->principal, sizeof(s->principal));
    json_member_string(&w, "request_id", s->request_id, sizeof(s->request_id));
    json_member_string(&w, "fingerprint", s->fingerprint, sizeof(s->fingerprint));
    json_member_string(&w, "rhost", s->rhost, sizeof(s->rhost));
    json_member_string(&w, "service", s->service, sizeof(s->service));
    json_member_int(&w, "pid", (long long)s->pid);
    json_member_bool(&w, "eic_key", s->eic_key);
    if (duration >= 0) {
        json_member_int(&w, "duration", duration);
    }
    json_put(&w, "}\n", 2);
    ret = w.err;
    if (ret != 0) {
        goto done;
    }
    *line = w.buf;
    *len = w.used;
    w.buf = NULL;
done:
    free(w.buf);
    return ret;
}

/* The directory of the audit log, opened (O_PATH) into *dir_fd: created 0700 when missing (only
 * its last component: the directories above it are the system's). It must be a directory, ours
 * and writable by us alone: whoever else may write it may delete or replace the trail. The file is
 * then opened relative to this descriptor, so the directory written to is the one checked: one
 * swapped for a symbolic link after the check (or a parent of it renamed) changes nothing. A log
 * directly under / is in the system's directory, which is not checked. Returns 0 or an errno. */
static int open_log_dir(const char *path, char *file_name, size_t file_name_size, int *dir_fd)
{
    char dir[PAM_EIC_PATH_MAX];
    const char *parent;
    char *dir_name;
    char *slash;
    struct stat st;
    size_t len = strnlen(path, sizeof(dir));
    int parent_fd = -1;
    int fd = -1;
    int ret;

    *dir_fd = -1;
    if (len >= sizeof(dir)) {
        ret = ENAMETOOLONG;
        goto done;
    }
    memcpy(dir, path, len + 1);
    /* Absolute, with a file name after the last '/' (pam_args.c accepts nothing else). */
    slash = strrchr(dir, '/');
    if (dir[0] != '/' || slash == NULL || slash[1] == '\0') {
        ret = EINVAL;
        goto done;
    }
    if (strlen(slash + 1) >= file_name_size) {
        ret = ENAMETOOLONG;
        goto done;
    }
    memcpy(file_name, slash + 1, strlen(slash + 1) + 1);
    if (slash == dir) {
        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ret = fd >= 0 ? 0 : errno;
        goto done;
    }
    *slash = '\0';

    /* dir is now the log's directory: split it into its parent and its own name. */
    slash = strrchr(dir, '/');
    dir_name = slash + 1;
    if (slash == dir) {
        parent = "/";
    } else {
        *slash = '\0';
        parent = dir;
    }
    if (dir_name[0] == '\0') {
        ret = EINVAL;
        goto done;
    }
    parent_fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0) {
        ret = errno;
        goto done;
    }
    if (mkdirat(parent_fd, dir_name, 0700) != 0 && errno != EEXIST) {
        ret = errno;
        goto done;
    }
    /* O_NOFOLLOW with O_DIRECTORY: a symbolic link there is refused, not followed. */
    fd = openat(parent_fd, dir_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ret = errno;
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        ret = errno;
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        ret = ENOTDIR;
        goto done;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ret = EPERM;
        goto done;
    }
    ret = 0;
done:
    if (ret == 0) {
        *dir_fd = fd;
    } else if (fd >= 0) {
        close(fd);
    }
    if (parent_fd >= 0) {
        close(parent_fd);
    }
    return ret;
}

static int append(const char *path, const char *line, size_t len)
{
    char file_name[PAM_EIC_PATH_MAX];
    struct stat st;
    ssize_t n;
    int dir_fd = -1;
    int fd = -1;
    int ret;

    ret = open_log_dir(path, file_name, sizeof(file_name), &dir_fd);
    if (ret != 0) {
        goto done;
    }
    /* O_NOFOLLOW: a symlink planted at the log path must not make root append to another file. */
    fd = openat(dir_fd, file_name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
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
    if (dir_fd >= 0) {
        close(dir_fd);
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
