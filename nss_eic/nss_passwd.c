/* nss_eic: the passwd database. By name (cache, then eicd for root callers), by uid and
 * enumeration (cache only). */
#include <errno.h>
#include <stddef.h>

#include "nss_common.h"

/* Prototypes for the exported entry points (glibc has no public header declaring them). */
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_setpwent(void);
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_endpwent(void);

/* From the cache; on a miss, from eicd when this process may ask it (nss_miss.c). On 0, *view_out
 * holds the view user points into (release it). Returns 0, ENOENT, ENOMEM, or an errno saying
 * eicd or IMDS could not answer. */
static int user_by_name(const char *name, struct nss_view **view_out, struct eic_cached_user *user)
{
    struct nss_view *view = NULL;
    int ret;

    *view_out = NULL;
    if (!nss_name_may_be_iam(name)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (!view->config_ok) {
        ret = ENOENT;
        goto done;
    }
    ret = view->cache != NULL ? eic_cache_user_by_name(view->cache, name, user) : ENOENT;
    if (ret != ENOENT) {
        /* Cached: a name the cache holds but may not serve is not eicd's to add either. */
        ret = ret == 0 && nss_user_servable(view, user) ? 0 : ENOENT;
        goto done;
    }
    ret = nss_miss_resolve(view, name);
    if (ret != 0) {
        goto done;
    }
    /* eicd wrote a new cache version: answer from it, like any later lookup will. */
    nss_view_release(view);
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    ret = view->cache != NULL ? eic_cache_user_by_name(view->cache, name, user) : ENOENT;
    if (ret == 0 && !nss_user_servable(view, user)) {
        ret = ENOENT;
    }
done:
    if (ret == 0) {
        *view_out = view;
    } else {
        nss_view_release(view);
    }
    return ret;
}

enum nss_status _nss_eic_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_user u;
    int ret;

    ret = user_by_name(name, &view, &u);
    if (ret != 0) {
        goto done;
    }
    ret = nss_fill_passwd(&u, pw, buf, buflen);
done:
    nss_view_release(view);
    return nss_status(ret, errnop);
}

enum nss_status _nss_eic_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_user u;
    int ret;

    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (view->cache == NULL || uid == 0) {
        ret = ENOENT;
        goto done;
    }
    ret = eic_cache_user_by_uid(view->cache, uid, &u);
    if (ret != 0) {
        ret = ENOENT;
        goto done;
    }
    if (!nss_user_servable(view, &u)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_fill_passwd(&u, pw, buf, buflen);
done:
    nss_view_release(view);
    return nss_status(ret, errnop);
}

/* Enumeration: the only shared state (nss_enum.c). */
static struct nss_cursor pwent = NSS_CURSOR_INIT;

enum nss_status _nss_eic_setpwent(void)
{
    int ret;
    int err = 0;

    ret = nss_cursor_rewind(&pwent);
    return ret == 0 ? NSS_STATUS_SUCCESS : nss_status(ret, &err);
}

enum nss_status _nss_eic_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct eic_cached_user u;
    int ret;

    ret = nss_cursor_lock(&pwent);
    if (ret != 0) {
        goto done;
    }
    for (;;) {
        if (pwent.view->cache == NULL || pwent.next >= eic_cache_n_users(pwent.view->cache)) {
            ret = ENOENT;
            goto done;
        }
        ret = eic_cache_user_at(pwent.view->cache, pwent.next, &u);
        if (ret == 0 && nss_user_servable(pwent.view, &u)) {
            break;
        }
        pwent.next++; /* an entry that may not be served is skipped, not an end */
    }
    ret = nss_fill_passwd(&u, pw, buf, buflen);
    if (ret == 0) {
        pwent.next++; /* ERANGE: the same entry again with the caller's larger buffer */
    }
done:
    nss_cursor_unlock(&pwent);
    return nss_status(ret, errnop);
}

enum nss_status _nss_eic_endpwent(void)
{
    nss_cursor_close(&pwent);
    return NSS_STATUS_SUCCESS;
}
