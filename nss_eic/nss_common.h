/* nss_eic, light part: private interface shared by nss_passwd.c and nss_group.c.
 *
 * libnss_eic.so.2 is loaded into every process that resolves a user (ls, ps, sshd, sudo, nscd),
 * so this part links libc and pthread only and does no work at load time. It answers from the
 * account cache (eic_cache.h: one mmap'd, verified file, binary search). Only a by-name miss in a
 * plain root process (sshd's monitor resolves the user before authentication) goes further: it
 * asks the service eicd over its socket, which asks IMDS and adds the account to the cache. No
 * network, no heavy library in the caller, ever. See docs/NSS.md.
 *
 * Internals return errno values (0, ENOENT, ERANGE, EAGAIN for "back end unavailable", ...);
 * the _nss_eic_* functions turn them into NSS status codes at the boundary (nss_status()). */
#ifndef NSS_EIC_COMMON_H
#define NSS_EIC_COMMON_H

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "eic_cache.h"

#define NSS_EIC_EXPORT __attribute__((visibility("default")))

/* The settings the light part uses, copied out of eic.conf when it is (re)loaded. */
struct nss_settings {
    char *cache_dir;
    char *service_socket;    /* eicd's, which a root process asks about a name not cached */
    uid_t uid_min;
    uid_t uid_max;
    long negative_cache_ttl; /* seconds */
    long imds_timeout_ms;
    bool maps_accounts;      /* eic.conf has a [map] rule: a miss may be an IAM account */
};

/* One consistent, reference-counted view: the configuration and the cache version it selects.
 * Callers use it outside any lock; it is freed when the last user releases it, so a reload in
 * another thread never unmaps a cache that a lookup is still copying from. */
struct nss_view {
    unsigned int refs;
    bool config_ok;             /* false: eic.conf is bad; eic serves nothing */
    struct nss_settings set;
    struct eic_cache *cache;    /* NULL: no cache file (or a corrupt one): no accounts */
};

/* Get the current view, reloading eic.conf if it changed on disk and reopening the cache if a
 * new version was written. Returns 0 or ENOMEM. Release with nss_view_release(). */
int nss_view_acquire(struct nss_view **out);
void nss_view_release(struct nss_view *view);

/* A cached account may be served: not root, not uid/gid 0, within the configured range. The
 * cache writer refuses these already; the reader checks again (a file is only data). */
bool nss_user_servable(const struct nss_view *view, const struct eic_cached_user *u);
bool nss_group_servable(const struct nss_view *view, const struct eic_cached_group *g);

/* The by-name lookup of a user: from the cache; on a miss, when the caller is plain root, from eicd
 * (negative cache first). On 0, *view_out holds the view the user points
 * into (release it). Returns 0, ENOENT, EAGAIN (IMDS unreachable or untrusted), ENOMEM. */
int nss_user_by_name(const char *name, struct nss_view **view_out, struct eic_cached_user *user);

/* Copying into the caller's buffer. Both return 0 or ERANGE (buffer too small; nothing usable
 * was written). */
int nss_fill_passwd(const struct eic_cached_user *u, struct passwd *pw, char *buf, size_t buflen);
int nss_fill_group(const struct eic_cache *cache, const struct eic_cached_group *g, struct group *gr, char *buf,
                   size_t buflen);

/* errno-style result -> NSS status, and *errnop as glibc expects it (ERANGE only with TRYAGAIN). */
enum nss_status nss_status(int err, int *errnop);

#endif
