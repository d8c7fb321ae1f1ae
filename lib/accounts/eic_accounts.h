/* Which accounts eic manages. Shared by eic-authorized-keys and pam_eic so that both decide
 * "IAM-mapped or local" the same way, in one place. */
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

/* The account step of an IAM-mapped account (pam_eic's, carried out by eicd): the rules as they
 * are now must still give pw's account to its cached principal (revocation), and its cache entry
 * is brought in line with the rule that does: the rule's groups and the configured shell. The
 * cache is written only at an account's first lookup, so without this an account would keep the
 * groups of the rule it was created by for ever. With change_nothing (pam_eic when eicd cannot be
 * reached: only the service writes the cache) an entry that would change is refused instead.
 * login_principal (may be NULL): the principal whose key was let in for this login; when it is the
 * account's identity under another ARN (IAM Identity Center, another permission set), the account
 * follows it (its rule, groups and cached principal).
 * Returns 0 (allowed), ENOENT (pw is not IAM-mapped), EPERM (refused by the rules), EAGAIN (would
 * change, change_nothing), or the cache's error; every refusal is logged. */
int eic_account_keep(const struct eic_config *cfg, const char *config_path, const struct passwd *pw,
                     const char *login_principal, bool change_nothing);

/* An administrator's hand-over (eicd --hand-over): the IAM-mapped account name, which belongs to
 * one identity, now belongs to arn's, keeping its UID and home. The rules as they are must map arn
 * to name. Logged (the writer names both ARNs). Returns 0, EPERM (the rules do not give name to
 * arn), ENOENT (no such account in the cache), or the cache's error. */
int eic_account_hand_over(const struct eic_config *cfg, const char *config_path, const char *name, const char *arn);
#endif
