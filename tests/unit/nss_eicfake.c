/* libnss_eicfake.so.2: a test NSS source standing for a directory (SSSD, LDAP), for the tests of
 * "no borrowed groups" (tests/integration/test_nss_sources.sh). glibc loads it from a test
 * nsswitch.conf bind-mounted over /etc/nsswitch.conf in a private mount namespace; eicd asks it
 * directly (lib/service/eic_nss_sources.c). What it answers is read at every call from the file named
 * by EIC_FAKE_NSS_FILE (none: it knows nothing), one answer a line:
 *
 *   passwd NAME found UID GID    the user, home /, shell /bin/sh (a directory user can log in)
 *   passwd NAME unavail          NSS_STATUS_UNAVAIL (the directory is down), errno EHOSTUNREACH
 *   passwd NAME tryagain         NSS_STATUS_TRYAGAIN, errno EAGAIN (busy)
 *   passwd NAME hang SECONDS     sleeps, then NOTFOUND (a directory that does not answer)
 *   group NAME found GID         a group without members
 *   group NAME unavail|tryagain|hang SECONDS
 *
 * A name without a line: NOTFOUND. Test code only; never installed. */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT enum nss_status _nss_eicfake_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                               int *errnop);
EXPORT enum nss_status _nss_eicfake_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop);
EXPORT enum nss_status _nss_eicfake_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen,
                                               int *errnop);
EXPORT enum nss_status _nss_eicfake_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop);
EXPORT enum nss_status _nss_eicfake_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                                   gid_t **groupsp, long int limit, int *errnop);

struct answer {
    char name[256];
    char what[16];
    unsigned long a;
    unsigned long b;
};

/* The line of db that matches name (name != NULL) or id (found lines only). */
static int find(const char *db, const char *name, unsigned long id, struct answer *out)
{
    const char *path = getenv("EIC_FAKE_NSS_FILE");
    char line[512];
    char line_db[16];
    FILE *f;
    int found = 0;

    if (path == NULL || (f = fopen(path, "re")) == NULL) {
        return 0;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        memset(out, 0, sizeof(*out));
        if (sscanf(line, "%15s %255s %15s %lu %lu", line_db, out->name, out->what, &out->a, &out->b) < 3 || strcmp(line_db, db) != 0) {
            continue;
        }
        if (name != NULL) {
            found = strcmp(out->name, name) == 0;
        } else {
            found = strcmp(out->what, "found") == 0 && out->a == id;
        }
    }
    fclose(f);
    return found;
}

/* Not found, or the status a line asks for when it is not "found". */
static enum nss_status not_found_status(const struct answer *ans, int *errnop)
{
    if (strcmp(ans->what, "unavail") == 0) {
        *errnop = EHOSTUNREACH;
        return NSS_STATUS_UNAVAIL;
    }
    if (strcmp(ans->what, "tryagain") == 0) {
        *errnop = EAGAIN;
        return NSS_STATUS_TRYAGAIN;
    }
    if (strcmp(ans->what, "hang") == 0) {
        sleep((unsigned)ans->a);
    }
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

static char *put(char **pos, char *end, const char *s)
{
    size_t len = strlen(s) + 1;
    char *at = *pos;

    if ((size_t)(end - at) < len) {
        return NULL;
    }
    memcpy(at, s, len);
    *pos += len;
    return at;
}

static enum nss_status fill_pw(const struct answer *ans, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    char *pos = buf;
    char *end = buf + buflen;

    pw->pw_uid = (uid_t)ans->a;
    pw->pw_gid = (gid_t)ans->b;
    if ((pw->pw_name = put(&pos, end, ans->name)) == NULL || (pw->pw_passwd = put(&pos, end, "x")) == NULL ||
        (pw->pw_gecos = put(&pos, end, "eicfake directory user")) == NULL ||
        (pw->pw_dir = put(&pos, end, "/")) == NULL || (pw->pw_shell = put(&pos, end, "/bin/sh")) == NULL) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_gr(const struct answer *ans, struct group *gr, char *buf, size_t buflen, int *errnop)
{
    char *pos = buf;
    char *end = buf + buflen;
    size_t align = (size_t)pos % sizeof(char *);

    gr->gr_gid = (gid_t)ans->a;
    if (align != 0) {
        pos += sizeof(char *) - align;
    }
    if (pos > end || (size_t)(end - pos) < sizeof(char *)) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    gr->gr_mem = (char **)(void *)pos;
    gr->gr_mem[0] = NULL;
    pos += sizeof(char *);
    if ((gr->gr_name = put(&pos, end, ans->name)) == NULL || (gr->gr_passwd = put(&pos, end, "x")) == NULL) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_eicfake_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct answer ans;

    if (!find("passwd", name, 0, &ans)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    if (strcmp(ans.what, "found") != 0) {
        return not_found_status(&ans, errnop);
    }
    return fill_pw(&ans, pw, buf, buflen, errnop);
}

enum nss_status _nss_eicfake_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct answer ans;

    if (!find("passwd", NULL, uid, &ans)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    return fill_pw(&ans, pw, buf, buflen, errnop);
}

enum nss_status _nss_eicfake_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen, int *errnop)
{
    struct answer ans;

    if (!find("group", name, 0, &ans)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    if (strcmp(ans.what, "found") != 0) {
        return not_found_status(&ans, errnop);
    }
    return fill_gr(&ans, gr, buf, buflen, errnop);
}

enum nss_status _nss_eicfake_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop)
{
    struct answer ans;

    if (!find("group", NULL, gid, &ans)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    return fill_gr(&ans, gr, buf, buflen, errnop);
}

/* No supplementary groups for anyone (present so that glibc does not enumerate instead). */
enum nss_status _nss_eicfake_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                            gid_t **groupsp, long int limit, int *errnop)
{
    (void)user;
    (void)group;
    (void)start;
    (void)size;
    (void)groupsp;
    (void)limit;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
