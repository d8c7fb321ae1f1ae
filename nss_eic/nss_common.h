/* nss_eic, light part: the private interface between its files.
 *
 * libnss_eic.so.2 is loaded into every process that resolves a user (ls, ps, sshd, sudo, nscd),
 * so this part links libc and pthread only and does no work at load time. It answers from the
 * account cache (eic_cache.h: one mmap'd, verified file, binary search). Only a by-name miss in a
 * plain root process (sshd's monitor resolves the user before authentication) goes further: it
 * asks the service eicd over its socket, which asks IMDS and adds the account to the cache. No
 * network, no heavy library in the caller, ever. See docs/NSS.md.
 *
 *   nss_passwd.c, nss_group.c  the _nss_eic_* entry points, one file per database
 *   nss_view.c                 the module's state: eic.conf and the cache version, when to reload
 *   nss_policy.c               what may be served, and who may make a miss ask eicd
 *   nss_miss.c                 a by-name miss: asking eicd (EIC_REQ_RESOLVE)
 *   nss_negcache.c             misses remembered, in the process and in /run/eic/miss
 *   nss_answer.c               what glibc gets: the entry in its buffer, the NSS status
 *   nss_enum.c                 the set/get/end*ent cursor
 *
 * Internals return errno values (0, ENOENT, ERANGE, EAGAIN for "back end unavailable", ...);
 * the _nss_eic_* functions turn them into NSS status codes at the boundary (nss_status()).
 * Everything here is hidden (-fvisibility=hidden, exports.map): only NSS_EIC_EXPORT is seen. */
#ifndef NSS_EIC_COMMON_H
#define NSS_EIC_COMMON_H

#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "eic_cache.h"

#define NSS_EIC_EXPORT __attribute__((visibility("default")))

/* ---- nss_view.c ---------------------------------------------------------------------------- */

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
 * new version was written. Returns 0 or ENOMEM. Release with nss_view_release() (NULL: nothing). */
int nss_view_acquire(struct nss_view **out);
void nss_view_release(struct nss_view *view);

/* ---- nss_policy.c -------------------------------------------------------------------------- */

/* A cached account may be served: not root, not uid/gid 0, within the configured range. The
 * cache writer refuses these already; the reader checks again (a file is only data). */
bool nss_user_servable(const struct nss_view *view, const struct eic_cached_user *u);
bool nss_group_servable(const struct nss_view *view, const struct eic_cached_group *g);

/* name is one a mapping rule can give (and not root): worth looking up by name at all. */
bool nss_name_may_be_iam(const char *name);

/* This process may make eicd look name up (a plain root process, a [map] rule, not eicd itself). */
bool nss_may_ask_service(const struct nss_view *view, const char *name);

/* ---- nss_miss.c ---------------------------------------------------------------------------- */

/* name is not in view's cache: ask eicd, when this process may (negative cache first). Returns 0
 * (eicd added it: a new cache version has it), ENOENT (not an IAM account, or not ours to ask),
 * or an errno saying eicd or IMDS could not answer. */
int nss_miss_resolve(const struct nss_view *view, const char *name);

/* ---- nss_negcache.c ------------------------------------------------------------------------ */

/* The remembered result for name (ENOENT or an "unavailable" errno), or 0 for none. */
int nss_neg_lookup(const struct nss_view *view, const char *name);
void nss_neg_record(const struct nss_view *view, const char *name, int err);
/* Forget a name (it has just been added to the cache). */
void nss_neg_forget(const char *name);

/* ---- nss_answer.c -------------------------------------------------------------------------- */

/* Copying into the caller's buffer. Both return 0 or ERANGE (buffer too small; nothing usable
 * was written). */
int nss_fill_passwd(const struct eic_cached_user *u, struct passwd *pw, char *buf, size_t buflen);
int nss_fill_group(const struct eic_cache *cache, const struct eic_cached_group *g, struct group *gr, char *buf,
                   size_t buflen);

/* errno-style result -> NSS status, and *errnop as glibc expects it (ERANGE only with TRYAGAIN). */
enum nss_status nss_status(int err, int *errnop);

/* ---- nss_enum.c ---------------------------------------------------------------------------- */

/* One database's enumeration: the only shared state besides the view, under its own lock. The
 * view is held from set*ent to end*ent so one enumeration sees one version of the cache. */
struct nss_cursor {
    pthread_mutex_t lock;
    struct nss_view *view;
    size_t next;             /* index of the next entry of view->cache to try */
};
#define NSS_CURSOR_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0}

/* set*ent: start again at the beginning of the current view. Returns 0 or ENOMEM. */
int nss_cursor_rewind(struct nss_cursor *c);
/* end*ent: let the view go. */
void nss_cursor_close(struct nss_cursor *c);
/* get*ent_r: take the cursor's lock (held whatever this returns; nss_cursor_unlock() it), with a
 * view: one is acquired when no set*ent came first. Returns 0 or ENOMEM. */
int nss_cursor_lock(struct nss_cursor *c);
void nss_cursor_unlock(struct nss_cursor *c);

#endif
