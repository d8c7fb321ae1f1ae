/* nss_eic: the passwd database. By name (cache, then IMDS for root callers), by uid and
 * enumeration (cache only). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "nss_common.h"

/* Prototypes for the exported entry points (glibc has no public header declaring them). */
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                                   int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_setpwent(void);
NSS_EIC_EXPORT enum nss_status _nss_eic_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
NSS_EIC_EXPORT enum nss_status _nss_eic_endpwent(void);

enum nss_status _nss_eic_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct nss_view *view = NULL;
    struct eic_cached_user u;
    int ret;

    ret = nss_user_by_name(name, &view, &u);
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

/* Enumeration: the only shared state, under its own lock. The view is held from setpwent to
 * endpwent so one enumeration sees one version of the cache. */
static pthread_mutex_t pwent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nss_view *pwent_view;
static size_t pwent_next;

enum nss_status _nss_eic_setpwent(void)
{
    struct nss_view *view = NULL;
    int ret;
    int err = 0;

    ret = nss_view_acquire(&view);
    pthread_mutex_lock(&pwent_lock);
    nss_view_release(pwent_view);
    pwent_view = view;
    pwent_next = 0;
    pthread_mutex_unlock(&pwent_lock);
    return ret == 0 ? NSS_STATUS_SUCCESS : nss_status(ret, &err);
}

enum nss_status _nss_eic_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    struct eic_cached_user u;
    int ret = 0;

    pthread_mutex_lock(&pwent_lock);
    if (pwent_view == NULL) {
        /* getpwent without setpwent is allowed: start at the beginning. */
        ret = nss_view_acquire(&pwent_view);
        pwent_next = 0;
        if (ret != 0) {
            goto done;
        }
    }
    for (;;) {
        if (pwent_view->cache == NULL || pwent_next >= eic_cache_n_users(pwent_view->cache)) {
            ret = ENOENT;
            goto done;
        }
        ret = eic_cache_user_at(pwent_view->cache, pwent_next, &u);
        if (ret == 0 && nss_user_servable(pwent_view, &u)) {
            break;
        }
        pwent_next++; /* an entry that may not be served is skipped, not an end */
    }
    ret = nss_fill_passwd(&u, pw, buf, buflen);
    if (ret == 0) {
        pwent_next++; /* ERANGE: the same entry again with the caller's larger buffer */
    }
done:
    pthread_mutex_unlock(&pwent_lock);
    return nss_status(ret, errnop);
}

enum nss_status _nss_eic_endpwent(void)
{
    pthread_mutex_lock(&pwent_lock);
    nss_view_release(pwent_view);
    pwent_view = NULL;
    pwent_next = 0;
    pthread_mutex_unlock(&pwent_lock);
    return NSS_STATUS_SUCCESS;
}
