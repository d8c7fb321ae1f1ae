/* nss_eic: the group database and initgroups, from the cache only (a group never makes eic ask
 * IMDS: group lookups come after the user was resolved, and local names must cost nothing).
 *
 * The cache's group table holds each account's private group (same name, gid == uid) and the
 * eic-managed groups named by rules; local groups named by rules ("sudo") are served by files,
 * and reach a user's group list through initgroups_dyn. */
#include <errno.h>
#include <stdlib.h>

#include "eic_metadata.h"
#include "nss_common.h"

NSS_EIC_EXPORT enum nss_status _nss_eic_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_setgrent(void);
NSS_EIC_EXPORT enum nss_status _nss_eic_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_endgrent(void);
NSS_EIC_EXPORT enum nss_status _nss_eic_initgroups_dyn(const char *user, gid_t group, long int *start,
                                                       long int *size, gid_t **groupsp, long int limit,
                                                       int *errnop);

enum nss_status _nss_eic_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_group g;
    int ret;

    if (name == NULL || !eic_valid_login_name(name)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (view->cache == NULL || eic_cache_group_by_name(view->cache, name, &g) != 0 ||
        !nss_group_servable(view, &g)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_fill_group(view->cache, &g, gr, buf, buflen);
done:
    nss_view_release(view);
    return nss_status(ret, errnop);
}

enum nss_status _nss_eic_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_group g;
    int ret;

    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (view->cache == NULL || gid == 0 || eic_cache_group_by_gid(view->cache, gid, &g) != 0 ||
        !nss_group_servable(view, &g)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_fill_group(view->cache, &g, gr, buf, buflen);
done:
    nss_view_release(view);
    return nss_status(ret, errnop);
}

/* Enumeration: the only shared state (nss_enum.c). */
static struct nss_cursor grent = NSS_CURSOR_INIT;

enum nss_status _nss_eic_setgrent(void)
{
    int ret;
    int err = 0;

    ret = nss_cursor_rewind(&grent);
    return ret == 0 ? NSS_STATUS_SUCCESS : nss_status(ret, &err);
}

enum nss_status _nss_eic_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop)
{
    struct eic_cached_group g;
    int ret;

    ret = nss_cursor_lock(&grent);
    if (ret != 0) {
        goto done;
    }
    for (;;) {
        if (grent.view->cache == NULL || grent.next >= eic_cache_n_groups(grent.view->cache)) {
            ret = ENOENT; /* the end */
            goto done;
        }
        if (eic_cache_group_at(grent.view->cache, grent.next, &g) == 0 && nss_group_servable(grent.view, &g)) {
            break;
        }
        grent.next++; /* an entry that may not be served is skipped, not an end */
    }
    ret = nss_fill_group(grent.view->cache, &g, gr, buf, buflen);
    if (ret == 0) {
        grent.next++; /* ERANGE: the same entry again with the caller's larger buffer */
    }
done:
    nss_cursor_unlock(&grent);
    return nss_status(ret, errnop);
}

enum nss_status _nss_eic_endgrent(void)
{
    nss_cursor_close(&grent);
    return NSS_STATUS_SUCCESS;
}

/* Append gid to the caller's array the way glibc's own modules do: skip duplicates, grow by
 * doubling with realloc, never beyond limit (limit <= 0: no limit). Returns 0, ENOSPC when the
 * limit is reached (not an error: the caller stops), ENOMEM. */
static int add_gid(gid_t gid, long int *start, long int *size, gid_t **groupsp, long int limit)
{
    gid_t *grown;
    long int new_size;

    for (long int i = 0; i < *start; i++) {
        if ((*groupsp)[i] == gid) {
            return 0;
        }
    }
    if (*start >= *size) {
        if (limit > 0 && *size >= limit) {
            return ENOSPC;
        }
        new_size = *size > 0 ? 2 * *size : 8;
        if (limit > 0 && new_size > limit) {
            new_size = limit;
        }
        grown = realloc(*groupsp, (size_t)new_size * sizeof(gid_t));
        if (grown == NULL) {
            return ENOMEM;
        }
        *groupsp = grown;
        *size = new_size;
    }
    (*groupsp)[(*start)++] = gid;
    return 0;
}

enum nss_status _nss_eic_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                        gid_t **groupsp, long int limit, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_user u;
    int ret;

    /* Cache only: initgroups runs for every login of every user, local ones included, and the
     * account was resolved by getpwnam before. */
    if (user == NULL || !eic_valid_login_name(user)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (view->cache == NULL || eic_cache_user_by_name(view->cache, user, &u) != 0 ||
        !nss_user_servable(view, &u)) {
        ret = ENOENT;
        goto done;
    }
    /* Only to the account itself. glibc passes the primary gid of the passwd entry that actually
     * resolved the name; a user of the same name from another source (files, SSSD, LDAP, homed:
     * all come before eic) has another gid and must not borrow this account's private group and
     * rule groups (eic-admins, sudo). The private group's gid is the account's uid, given to no
     * one else, so it identifies the account. (gid_t)-1 (getent initgroups) names no account:
     * nothing either. */
    if (group != u.gid) {
        ret = ENOENT;
        goto done;
    }
    /* The primary group is the caller's to add; the rule's groups are ours. gid 0 is never
     * handed out. */
    ret = 0;
    for (size_t i = 0; ret == 0 && i < u.n_groups && i < EIC_CACHE_MAX_GROUPS_PER_USER; i++) {
        if (u.groups[i] != 0 && u.groups[i] != group) {
            ret = add_gid(u.groups[i], start, size, groupsp, limit);
        }
    }
    if (ret == ENOSPC) {
        ret = 0;
    }
done:
    nss_view_release(view);
    return nss_status(ret, errnop);
}
