/* nss_eic: who gets what. Which cached entries may be served at all, and which process may make a
 * by-name miss reach eicd (and so IMDS). The reasons are in docs/NSS.md ("The miss path", "What is
 * never served") and docs/SECURITY.md. */
#include "nss_common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_util.h"

bool nss_user_servable(const struct nss_view *view, const struct eic_cached_user *u)
{
    return u->name != NULL && strcmp(u->name, "root") != 0 && u->uid != 0 && u->gid != 0 &&
           u->uid >= view->set.uid_min && u->uid <= view->set.uid_max && u->gid >= view->set.uid_min &&
           eic_valid_login_name(u->name);
}

bool nss_group_servable(const struct nss_view *view, const struct eic_cached_group *g)
{
    return g->name != NULL && strcmp(g->name, "root") != 0 && g->gid != 0 && g->gid >= view->set.uid_min &&
           g->gid <= view->set.uid_max;
}

/* A name no rule can give (all digits, as chown asks for "1000" first; a Samba "HOST$") is in no
 * cache and not worth an IMDS request: not found at once. */
bool nss_name_may_be_iam(const char *name)
{
    return name != NULL && eic_mappable_name(name) && strcmp(name, "root") != 0;
}

/* eicd sets _EIC_LOOPS=NO (as SSSD's services set _SSS_LOOPS): its own lookups must never come
 * back to it. Any process may set it; it can only keep itself from seeing new IAM accounts. */
static bool service_may_be_asked(void)
{
    const char *loops = getenv("_EIC_LOOPS");

    return loops == NULL || strcmp(loops, "NO") != 0;
}

/* Only a plain root process asks the service (sshd's monitor resolves the user before
 * authentication); any other process cannot make the host fetch for arbitrary names (nor fill the
 * cache). That includes setuid-root programs (su, sudo -u, passwd NAME), whose invoker chose their
 * environment (eic_util.h); the service checks the peer's uid again. Without a [map] rule no name
 * can be an IAM account (the package enables the module before anyone writes rules): the service
 * is not asked either. */
bool nss_may_ask_service(const struct nss_view *view, const char *name)
{
    if (!view->set.maps_accounts || !service_may_be_asked()) {
        return false;
    }
    if (!eic_process_is_plain_root()) {
        if (geteuid() == 0) {
            eic_log(LOG_DEBUG, "nss_eic: %s is not cached; eicd is not asked from a setuid or non-root process",
                    name);
        }
        return false;
    }
    return true;
}
