/* Which accounts eic manages, read from the account cache and the rules: shared by the clients and
 * eicd so that all decide "IAM-mapped or local", and "still allowed", the same way, in one place.
 * What changes an account is eicd's (lib/service/eic_account_keep.h). */
#ifndef EIC_ACCOUNTS_H
#define EIC_ACCOUNTS_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>

#include "eic_config.h"
#include "eic_mapping.h"

/* Is pw (as getpwnam returned it) an IAM-mapped account, served by nss_eic from the account cache
 * in cache_dir, rather than a local one? It is when the cache holds its name with the same UID: a
 * local account of the same name (which nss_files answers first) has another UID.
 * Returns 0 when mapped, with the cached principal ARN copied into principal when that is not
 * NULL; ENOENT when not mapped (the cache does not hold it, or there is no cache file); ERANGE when
 * the principal does not fit principal_len; the error of eic_cache_open() (EACCES, EBADMSG for a
 * corrupt or wrongly owned file, ENOMEM...) when the cache cannot be read. That last case is not
 * "not mapped": getpwnam may still have found a mapped account through nscd, which reads the
 * cache as root. A caller whose choice of checks depends on the answer must then decide without
 * the cache (eic-authorized-keys reads /etc/passwd itself: eic_cache_local_user_listed()). */
int eic_account_mapped(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len);
/* The same, and in *shadowed_uid the uid of a cached account of pw's name that pw is not (another
 * source answered the name first), else (uid_t)-1. */
int eic_account_mapped_as(const char *cache_dir, const struct passwd *pw, char *principal, size_t principal_len,
                          uid_t *shadowed_uid);

/* Does arn map, through the rules as they are now, to exactly user? For an IAM-mapped account this
 * is asked at every use (a rule changed to deny, or a principal now mapping to another name, ends
 * the account's access). When not, *why gets a short reason for a log line (the status name from
 * eic_map_status_name(), or "maps to another account") and *rule the deciding rule or NULL. */
bool eic_principal_maps_to(const struct eic_mapping *mapping, const char *arn, const char *user, const char **why,
                           const struct eic_rule **rule);

/* eic_principal_maps_to() for the cached principal of user, with the refusal logged (naming the
 * deciding rule and its line in config_path). When allowed, *map_rule (when not NULL) is the map
 * rule that gives the account. */
bool eic_account_still_allowed(const struct eic_config *cfg, const char *config_path, const char *user,
                               const char *principal, const struct eic_rule **map_rule);

#endif
