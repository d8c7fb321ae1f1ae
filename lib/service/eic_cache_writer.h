/* The account cache's writer: eicd's alone (the clients only read, eic_cache.h). */
#ifndef EIC_CACHE_WRITER_H
#define EIC_CACHE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "eic_cache.h"

struct eic_cache_new_user {
    const char *name;
    const char *principal;
    const char *const *group_names;   /* from the rule; local groups are resolved from /etc/group
                                         (read directly, never through NSS), others become
                                         eic-managed groups with a GID from the range */
    size_t n_group_names;
    const char *home_base;            /* "/home" */
    const char *shell;                /* "/bin/bash" */
    bool hand_over;                   /* an administrator gives an existing account to principal, even
                                         when it is another identity (eic_same_identity()) */
};

struct eic_cache_range {
    uid_t min;                        /* UIDs and GIDs are allocated from [min, max] */
    uid_t max;
    /* The local account files consulted (read directly with fgetpwent_r/fgetgrent_r, never through
     * NSS); NULL means /etc/passwd and /etc/group. Tests point them at fixtures. */
    const char *passwd_file;
    const char *group_file;
};

/* Add (or refresh) one account under the lock and write a new version atomically. An existing
 * account keeps belonging to its identity: a principal that is not eic_same_identity() as the
 * cached one is refused (EPERM, logged with both ARNs) unless user->hand_over.
 * UID = min + (stable hash of the name) mod (max - min + 1), moving to the next free id on a
 * collision (logged); an id that is in the cache, in /etc/passwd or /etc/group is never given
 * out; an existing account keeps its UID and home forever, and is updated only if its principal,
 * groups or shell changed (logged at notice level). A request that changes nothing (pam_eic's
 * account step makes one at every login) is answered from the current file, without the lock,
 * and writes nothing. A name that exists in /etc/passwd is refused (EEXIST): local accounts are
 * never shadowed. On success *uid holds the account's UID. Returns 0, EEXIST, ENOSPC (range
 * full), EPERM (another identity), EACCES (a change, and not root / cannot lock), EIO. */
int eic_cache_add_user(const char *dir, const struct eic_cache_range *range, const struct eic_cache_new_user *user,
                       uid_t *uid);
/* Would eic_cache_add_user(dir, range, user) leave the file as it is? Read only, without the lock;
 * any doubt (an error, no readable file) is false. */
bool eic_cache_user_unchanged(const char *dir, const struct eic_cache_range *range,
                              const struct eic_cache_new_user *user);
/* The same for n accounts under one lock and one write (provisioning, tests at 100 000 accounts).
 * All or nothing: the first account that fails decides the return value and nothing is written.
 * uids (may be NULL) receives n UIDs on success. */
int eic_cache_add_users(const char *dir, const struct eic_cache_range *range, const struct eic_cache_new_user *users,
                        size_t n, uid_t *uids);

/* Does the local passwd file (NULL: /etc/passwd) list name with this uid? Read directly, as the
 * writer reads it, never through NSS: for a reader that cannot open the cache, the one source that
 * tells a local account from an IAM-mapped one nscd still serves. Returns 0 when listed, ENOENT when
 * not, EIO (logged) when the file cannot be read, ENOMEM. */
int eic_cache_local_user_listed(const char *passwd_file, const char *name, uid_t uid);

#endif
