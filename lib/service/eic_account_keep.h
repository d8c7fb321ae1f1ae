/* What eicd changes in an account: the account step of each login (revocation, and the cache
 * entry brought in line with its rule) and an administrator's hand-over. Reading is
 * lib/accounts/eic_accounts.h, shared with the clients. */
#ifndef EIC_ACCOUNT_KEEP_H
#define EIC_ACCOUNT_KEEP_H

#include <pwd.h>
#include <stdbool.h>

#include "eic_cache_writer.h"
#include "eic_config.h"

/* What the account cache is given for the account name, mapped from principal by rule (a map
 * rule): the rule's groups, and this configuration's home base, shell and id range. Creating an
 * account (eic_resolve_account) and bringing it in line with the rules at each login
 * (eic_account_keep) both take it from here, so that an account is always written the same way.
 * user and range borrow from cfg, rule, name and principal. */
void eic_account_request(const struct eic_config *cfg, const struct eic_rule *rule, const char *name,
                         const char *principal, struct eic_cache_new_user *user, struct eic_cache_range *range);

/* The account step of an IAM-mapped account (pam_eic's, carried out by eicd): the rules as they
 * are now must still give pw's account to its cached principal (revocation), and its cache entry
 * is brought in line with the rule that does: the rule's groups and the configured shell. The
 * cache is written only at an account's first lookup, so without this an account would keep the
 * groups of the rule it was created by for ever. With change_nothing (pam_eic when eicd cannot be
 * reached, through eic-authorized-keys-verify -a: only the service writes the cache) an entry that
 * would change is refused instead.
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
