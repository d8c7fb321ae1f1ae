/* The account cache (docs/CACHE.md): the IAM-mapped accounts this host has seen,
 * kept so they resolve for ls -l, ps and audit after their key expired and while IMDS is down,
 * and so a UID, once given, is never given to anyone else.
 *
 * One file, default /var/lib/eic/accounts.db, root-owned 0644, replaced atomically (write a temp
 * file in the same directory, fsync, rename, fsync the directory) under an exclusive flock on
 * accounts.lock. Readers never lock: rename makes every open see one whole version. A reader checks
 * magic, version, every size and offset, and a checksum over the whole file; a file that fails any
 * check is logged and treated as absent, never trusted.
 *
 * The format (little-endian, all offsets from the start of the file, all checked on read):
 *   header | users (fixed-width, sorted by name) | uid index (u32 user positions sorted by uid) |
 *   groups (fixed-width, sorted by name) | gid index | member lists (u32 user positions) | strings
 * Lookups are binary searches: O(log n) at 100 000 accounts. The exact layout is described in
 * eic_cache_format.h.
 *
 * This header is the reader, libc only (no OpenSSL, no libcurl): every client links it. Only eicd
 * writes (lib/service/eic_cache_writer.h). */
#ifndef EIC_CACHE_H
#define EIC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EIC_CACHE_DEFAULT_DIR "/var/lib/eic"
#define EIC_CACHE_FILE "accounts.db"
#define EIC_CACHE_MAX_GROUPS_PER_USER 16

/* Views into the mapped file (valid until the cache handle is closed or reloaded). */
struct eic_cached_user {
    const char *name;
    uid_t uid;
    gid_t gid;               /* the user's private group (same name, gid == uid) */
    const char *principal;   /* the IAM ARN it was mapped from */
    const char *gecos;       /* e.g. "IAM user alice (111122223333)" */
    const char *home;
    const char *shell;
    long long created;       /* Unix seconds */
    size_t n_groups;         /* supplementary groups from the rule */
    gid_t groups[EIC_CACHE_MAX_GROUPS_PER_USER];
};

struct eic_cached_group {
    const char *name;
    gid_t gid;
    size_t n_members;
    /* members are read with eic_cache_group_member() */
    size_t first_member;     /* internal: where this group's member list starts (checked on use) */
};

struct eic_cache; /* an open, verified, read-only view of one version of the file */

/* Open and verify dir/accounts.db. Returns 0, ENOENT (no file: an empty cache), EBADMSG (corrupt
 * or truncated: logged by the caller, treated as empty), or another errno. */
int eic_cache_open(const char *dir, struct eic_cache **out);
void eic_cache_close(struct eic_cache *cache);
/* true when the file on disk is no longer the version this handle holds (cheap: one stat). */
bool eic_cache_stale(const struct eic_cache *cache);

int eic_cache_user_by_name(const struct eic_cache *cache, const char *name, struct eic_cached_user *out);
int eic_cache_user_by_uid(const struct eic_cache *cache, uid_t uid, struct eic_cached_user *out);
int eic_cache_user_at(const struct eic_cache *cache, size_t index, struct eic_cached_user *out); /* enumeration */
size_t eic_cache_n_users(const struct eic_cache *cache);
int eic_cache_group_by_name(const struct eic_cache *cache, const char *name, struct eic_cached_group *out);
int eic_cache_group_by_gid(const struct eic_cache *cache, gid_t gid, struct eic_cached_group *out);
int eic_cache_group_at(const struct eic_cache *cache, size_t index, struct eic_cached_group *out);
size_t eic_cache_n_groups(const struct eic_cache *cache);
/* Name of member i of group g (a user name), or NULL. */
const char *eic_cache_group_member(const struct eic_cache *cache, const struct eic_cached_group *g, size_t i);
/* Returns 0 / ENOENT for "not found". */
/* The version counter of the file this handle holds (1 for the first version written; each
 * write adds 1). For diagnostics and tests. */
uint64_t eic_cache_generation(const struct eic_cache *cache);


/* FNV-1a (64 bit) of a string: for hash tables and slots, not the UID/GID hash. */
uint64_t eic_name_hash(const char *name);

#endif
