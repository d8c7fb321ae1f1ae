/* nss_eic: a by-name miss. The module never talks to IMDS itself (no network, no libcurl in the
 * caller): it asks eicd over its socket (EIC_REQ_RESOLVE), which fetches and verifies the keys
 * pushed for the name and adds the account to the cache when a rule maps one to it (docs/NSS.md,
 * "The miss path"). See nss_common.h. */
#include "nss_common.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "eic_log.h"
#include "eic_proto.h"
#include "eic_time.h"

/* What the service may take beyond imds_timeout_ms (its own deadline for a lookup) before the
 * answer is here: starting it (socket activation) and the round trip. */
#define SERVICE_GRACE_MS 250

/* Ask eicd whether name is an IAM-mapped account (it then adds it to the cache). Returns 0 (the
 * account is in the cache now), ENOENT, or an errno saying the service or IMDS could not answer. */
static int ask_service(const struct nss_view *view, const char *name)
{
    const char *fields[1] = {name};
    struct eic_proto_msg answer;
    uint64_t deadline = eic_monotonic_ms() + (uint64_t)view->set.imds_timeout_ms + SERVICE_GRACE_MS;
    int ret;

    ret = eic_proto_call(view->set.service_socket, EIC_REQ_RESOLVE, fields, 1, deadline, &answer);
    if (ret != 0) {
        eic_log(LOG_WARNING, "nss_eic: eicd does not answer on %s (%s); %s not looked up", view->set.service_socket,
                strerror(ret), name);
        return ret == ETIMEDOUT ? ETIMEDOUT : EHOSTUNREACH;
    }
    ret = answer.code;
    if (ret == EEXIST) {
        ret = ENOENT; /* a local account: files answers for it, eic never does */
    }
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_WARNING, "nss_eic: lookup of %s in IMDS failed: %s", name,
                answer.n_fields > 0 ? answer.fields[0] : strerror(ret));
        /* Whatever the service said, to glibc it is "unavailable", never TRYAGAIN/ERANGE. */
        if (ret == ERANGE || ret == ENOMEM) {
            ret = EHOSTUNREACH;
        }
    }
    eic_proto_msg_free(&answer);
    return ret;
}

int nss_miss_resolve(const struct nss_view *view, const char *name)
{
    int ret;

    if (!nss_may_ask_service(view, name)) {
        ret = ENOENT;
        goto done;
    }
    ret = nss_neg_lookup(view, name);
    if (ret != 0) {
        goto done;
    }
    ret = ask_service(view, name);
    if (ret != 0) {
        nss_neg_record(view, name, ret);
        goto done;
    }
    nss_neg_forget(name);
done:
    return ret;
}
