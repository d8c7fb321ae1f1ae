/* Reading the installed system under the root: paths resolved as a chroot would resolve them
 * (user space, component by component: the kernel's RESOLVE_IN_ROOT is openat2(), which valgrind
 * does not know), and the image's own passwd and group files (never NSS: that would ask the
 * running host, and load its modules). */
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_util.h"

#define MAX_SYMLINKS 40 /* the kernel's limit */

/* Append "/" + the component comp[0..len) to resolved (an image path). */
static int push_component(char *resolved, size_t cap, const char *comp, size_t len)
{
    size_t have = strlen(resolved);

    if (have + 1 + len + 1 > cap) {
        return ENAMETOOLONG;
    }
    if (have == 0 || resolved[have - 1] != '/') {
        resolved[have++] = '/';
    }
    memcpy(resolved + have, comp, len);
    resolved[have + len] = '\0';
    return 0;
}

static void pop_component(char *resolved)
{
    char *slash = strrchr(resolved, '/');

    if (slash != NULL) {
        *(slash == resolved ? slash + 1 : slash) = '\0';
    }
}

int doctor_path(const struct doctor *d, const char *path, bool follow, char *out, size_t out_len)
{
    char resolved[PATH_MAX] = "/";
    char rest[2 * PATH_MAX];
    char host[2 * PATH_MAX];
    int links = 0;
    const char *p;

    if (strlen(path) >= sizeof(rest)) {
        return ENAMETOOLONG;
    }
    strcpy(rest, path);
    p = rest;
    while (*p != '\0') {
        const char *end;
        size_t len;
        struct stat st;
        char target[PATH_MAX];
        ssize_t n;
        int ret;

        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        end = strchrnul(p, '/');
        len = (size_t)(end - p);
        if (len == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            pop_component(resolved); /* never above the root, as in a chroot */
            p = end;
            continue;
        }
        ret = push_component(resolved, sizeof(resolved), p, len);
        if (ret != 0) {
            return ret;
        }
        p = end;
        if ((size_t)snprintf(host, sizeof(host), "%s%s", d->root, resolved) >= sizeof(host)) {
            return ENAMETOOLONG;
        }
        if (lstat(host, &st) != 0 || !S_ISLNK(st.st_mode)) {
            continue; /* a missing component is the caller's ENOENT */
        }
        while (*p == '/') {
            p++;
        }
        if (*p == '\0' && !follow) {
            break;
        }
        if (++links > MAX_SYMLINKS) {
            return ELOOP;
        }
        n = readlink(host, target, sizeof(target) - 1);
        if (n < 0) {
            return errno;
        }
        target[n] = '\0';
        pop_component(resolved);
        if (target[0] == '/') {
            strcpy(resolved, "/");
        }
        /* The link's target, then what was left of the path. */
        if ((size_t)snprintf(host, sizeof(host), "%s/%s", target, p) >= sizeof(rest)) {
            return ENAMETOOLONG;
        }
        strcpy(rest, host);
        p = rest;
    }
    if ((size_t)snprintf(out, out_len, "%s%s", d->root, resolved) >= out_len) {
        return ENAMETOOLONG;
    }
    return 0;
}

int doctor_stat(const struct doctor *d, const char *path, bool follow, struct stat *st)
{
    char host[PATH_MAX];
    int ret = doctor_path(d, path, follow, host, sizeof(host));

    if (ret != 0) {
        return ret;
    }
    if ((follow ? stat(host, st) : lstat(host, st)) != 0) {
        return errno;
    }
    return 0;
}

int doctor_read(const struct doctor *d, const char *path, size_t max, char **data, size_t *len)
{
    char host[PATH_MAX];
    int ret = doctor_path(d, path, true, host, sizeof(host));

    if (ret != 0) {
        return ret;
    }
    return eic_read_file(host, O_NONBLOCK, max, data, len);
}

const char *doctor_unroot(const struct doctor *d, const char *host_path)
{
    size_t n = strlen(d->root);

    return n > 0 && strncmp(host_path, d->root, n) == 0 && host_path[n] == '/' ? host_path + n : host_path;
}

bool doctor_root_only(const struct stat *st)
{
    return st->st_uid == 0 && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Open the image's /etc/passwd or /etc/group for fgetpwent/fgetgrent (glibc's own parsers). */
static int open_db(const struct doctor *d, const char *path, FILE **f)
{
    char host[PATH_MAX];
    int ret = doctor_path(d, path, true, host, sizeof(host));

    if (ret != 0) {
        return ret;
    }
    *f = fopen(host, "re");
    return *f == NULL ? errno : 0;
}

int doctor_find_user(const struct doctor *d, const char *name, uid_t *uid)
{
    struct passwd *pw;
    FILE *f = NULL;
    int ret = open_db(d, "/etc/passwd", &f);

    if (ret != 0) {
        return ret;
    }
    ret = ENOENT;
    while ((pw = fgetpwent(f)) != NULL) {
        if (strcmp(pw->pw_name, name) == 0) {
            *uid = pw->pw_uid;
            ret = 0;
            break;
        }
    }
    fclose(f);
    return ret;
}

int doctor_find_group(const struct doctor *d, const char *name)
{
    struct group *gr;
    FILE *f = NULL;
    int ret = open_db(d, "/etc/group", &f);

    if (ret != 0) {
        return ret;
    }
    ret = ENOENT;
    while ((gr = fgetgrent(f)) != NULL) {
        if (strcmp(gr->gr_name, name) == 0) {
            ret = 0;
            break;
        }
    }
    fclose(f);
    return ret;
}
