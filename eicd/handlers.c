/* eicd: one request, from its bytes to its answer. Who may ask what is decided here, from the
 * peer's credentials (SO_PEERCRED), before any work:
 *
 *   EIC_REQ_KEYS     root and the AuthorizedKeysCommandUser (authorized_keys_user): sshd runs the
 *                    AKC as that user. Anyone else would learn which keys may log in as whom.
 *   EIC_REQ_RESOLVE  root only: it is the one request that can create an account or make the host
 *                    ask IMDS for a name; nss_eic sends it only from a plain root process.
 *   EIC_REQ_ACCOUNT  root only: it may write the account cache (pam_eic's account step, which runs
 *                    as root in sshd, and in sudo or su, setuid root).
 *   EIC_REQ_SESSION  root only: pam_eic's session step in sshd, the key the AKC let in.
 *
 * The configuration is read for every request (as each AKC run did), so an edit of eic.conf — a
 * new deny rule — counts from the next request on. */
#include "eicd.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "eic_account_keep.h"
#include "eic_accounts.h"
#include "eic_config.h"
#include "eic_keyrecords.h"
#include "eic_log.h"
#include "eic_login.h"
#include "eic_metadata.h"
#include "eic_resolve.h"
#include "eic_time.h"
#include "eic_util.h"

uid_t eicd_akc_uid(const struct eic_config *cfg)
{
    struct passwd pw;
    char *buf = NULL;
    uid_t uid = eic_getpwnam(cfg->authorized_keys_user, &pw, &buf) == 0 ? pw.pw_uid : (uid_t)-1;

    free(buf);
    return uid;
}

/* An answer with no field but a reason for the caller's log. */
static int answer_error(int err, const char *reason, uint8_t **resp, size_t *resp_len)
{
    const char *fields[1] = {reason};

    return eic_proto_encode((uint16_t)err, fields, 1, EIC_PROTO_RESPONSE_MAX, resp, resp_len);
}

/* The keys that may log in as user now. With admit (the AKC's question: a fingerprint was given),
 * the keys given are remembered for the session of the same login (admissions.c). */
static int answer_keys(const struct eic_config *cfg, const char *user, const char *fingerprint, bool admit,
                       uint8_t **resp, size_t *resp_len)
{
    struct eic_record_verdict *v = NULL;
    size_t n_v = 0;
    size_t n_ok = 0;
    const char **fields = NULL;
    uint64_t deadline;
    int ret;

    /* The AKC waits deadline_ms in all; the answer must be back before that. */
    deadline = eic_monotonic_ms() + (uint64_t)cfg->deadline_ms * 9 / 10;
    ret = eic_login_keys(cfg, user, fingerprint[0] != '\0' ? fingerprint : NULL, deadline, &v, &n_v, &n_ok);
    if (ret != 0) {
        ret = answer_error(ret, strerror(ret), resp, resp_len);
        goto done;
    }
    fields = calloc(n_ok * EIC_KEY_FIELDS + 1, sizeof(*fields));
    if (fields == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_ok; i++) {
        fields[i * EIC_KEY_FIELDS + EIC_KEY_LINE] = v[i].key;
        fields[i * EIC_KEY_FIELDS + EIC_KEY_FINGERPRINT] = v[i].fingerprint;
        fields[i * EIC_KEY_FIELDS + EIC_KEY_CALLER] = v[i].caller != NULL ? v[i].caller : "";
        fields[i * EIC_KEY_FIELDS + EIC_KEY_REQUEST_ID] = v[i].request_id != NULL ? v[i].request_id : "";
        if (admit && strcmp(v[i].fingerprint, fingerprint) == 0) {
            eicd_admission_note(user, v[i].fingerprint, v[i].key, fields[i * EIC_KEY_FIELDS + EIC_KEY_CALLER],
                                fields[i * EIC_KEY_FIELDS + EIC_KEY_REQUEST_ID]);
        }
    }
    ret = eic_proto_encode(0, fields, n_ok * EIC_KEY_FIELDS, EIC_PROTO_RESPONSE_MAX, resp, resp_len);
    if (ret == EMSGSIZE) {
        eic_log(LOG_ERR, "the keys for %s do not fit in one answer; none given", user);
        ret = answer_error(EMSGSIZE, "too many keys", resp, resp_len);
    }
done:
    free(fields);
    eic_keyrecords_free(v, n_v);
    return ret;
}

/* pam_eic's session: the key the AKC let in for this login, even when its record has expired since
 * (admissions.c); otherwise the keys that may log in now. */
static int answer_session(const struct eic_config *cfg, const char *user, const char *fingerprint, uint8_t **resp,
                          size_t *resp_len)
{
    char *key = NULL, *caller = NULL, *request_id = NULL;
    int ret;

    ret = eicd_admission_find(user, fingerprint, &key, &caller, &request_id);
    if (ret != 0) {
        return answer_keys(cfg, user, fingerprint, false, resp, resp_len);
    }
    eic_log(LOG_DEBUG, "session of %s: key %s was let in by the AuthorizedKeysCommand of this login", user,
            fingerprint);
    {
        const char *fields[EIC_KEY_FIELDS] = {[EIC_KEY_LINE] = key,
                                              [EIC_KEY_FINGERPRINT] = fingerprint,
                                              [EIC_KEY_CALLER] = caller,
                                              [EIC_KEY_REQUEST_ID] = request_id};

        ret = eic_proto_encode(0, fields, EIC_KEY_FIELDS, EIC_PROTO_RESPONSE_MAX, resp, resp_len);
    }
    free(key);
    free(caller);
    free(request_id);
    return ret;
}

/* IMDS seen unreachable: for this long every name lookup is answered so at once, so that during an
 * outage each root process's miss (sshd, for any name a client offers) does not wait for
 * imds_timeout_ms; short, so that logins work again soon after IMDS is back. */
#define IMDS_DOWN_MEMORY_MS 5000

static pthread_mutex_t imds_down_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t imds_down_until_ms;
static int imds_down_err;

static bool unreachable(int err)
{
    return err == ETIMEDOUT || err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH;
}

static int answer_resolve(const struct eic_config *cfg, const char *name, uint8_t **resp, size_t *resp_len)
{
    char err[512] = "";
    int ret;

    pthread_mutex_lock(&imds_down_lock);
    ret = eic_monotonic_ms() < imds_down_until_ms ? imds_down_err : 0;
    pthread_mutex_unlock(&imds_down_lock);
    if (ret != 0) {
        eic_log(LOG_DEBUG, "lookup of %s not tried: IMDS was unreachable moments ago", name);
        return answer_error(ret, "IMDS was unreachable moments ago", resp, resp_len);
    }
    ret = eic_resolve_account(cfg, name, err, sizeof(err));
    /* EAGAIN: an NSS source was unavailable, logged by eic_nss_may_create. */
    if (ret != 0 && ret != ENOENT && ret != EEXIST && ret != EAGAIN) {
        eic_log(LOG_WARNING, "lookup of %s in IMDS failed: %s", name, err[0] != '\0' ? err : strerror(ret));
    }
    if (unreachable(ret)) {
        pthread_mutex_lock(&imds_down_lock);
        imds_down_until_ms = eic_monotonic_ms() + IMDS_DOWN_MEMORY_MS;
        imds_down_err = ret;
        pthread_mutex_unlock(&imds_down_lock);
    }
    return answer_error(ret, err[0] != '\0' ? err : strerror(ret), resp, resp_len);
}

static int answer_account(const struct eic_config *cfg, const char *config_path, const char *user, uint8_t **resp,
                          size_t *resp_len)
{
    struct passwd pw;
    char *login_principal = NULL;
    char *buf = NULL;
    int ret;

    if (!eic_valid_login_name(user)) {
        eic_log(LOG_WARNING, "account step refused for an invalid user name");
        return answer_error(EINVAL, "invalid user name", resp, resp_len);
    }
    ret = eic_getpwnam(user, &pw, &buf);
    if (ret != 0) {
        return answer_error(ret, "no such account", resp, resp_len);
    }
    /* The principal of the login being set up, when the AKC let its key in a moment ago: an IAM
     * Identity Center user's account takes the groups of the permission set they signed in with. */
    if (eicd_admission_latest_caller(user, &login_principal) == ENOMEM) {
        ret = ENOMEM;
        goto done;
    }
    ret = eic_account_keep(cfg, config_path, &pw, login_principal, false);
    free(login_principal);
    ret = answer_error(ret, ret == 0 ? "allowed" : ret == ENOENT ? "not an IAM-mapped account"
                                               : ret == EPERM ? "refused by the mapping rules" : strerror(ret),
                       resp, resp_len);
done:
    free(buf);
    return ret;
}

int eicd_handle(const char *config_path, uid_t peer_uid, pid_t peer_pid, const uint8_t *req, size_t req_len,
                uint8_t **resp, size_t *resp_len)
{
    struct eic_proto_msg msg;
    struct eic_config cfg;
    char err[512];
    int ret;

    *resp = NULL;
    *resp_len = 0;
    ret = eic_proto_decode(req, req_len, 2, &msg);
    if (ret != 0) {
        return ret;
    }
    /* Fills cfg whatever it returns (the defaults for a missing file). */
    ret = eic_config_load(config_path, 0, &cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "%s; every request refused until it is fixed", err[0] != '\0' ? err : strerror(ret));
        ret = answer_error(EINVAL, "the configuration cannot be used", resp, resp_len);
        goto done;
    }
    switch (msg.code) {
    case EIC_REQ_KEYS:
        if (msg.n_fields != 2) {
            ret = EBADMSG;
        } else if (peer_uid != 0 && peer_uid != eicd_akc_uid(&cfg)) {
            eic_log(LOG_WARNING, "keys for %s refused to uid %lu (pid %ld): only root and %s may ask", msg.fields[0],
                    (unsigned long)peer_uid, (long)peer_pid, cfg.authorized_keys_user);
            ret = answer_error(EPERM, "not allowed", resp, resp_len);
        } else {
            ret = answer_keys(&cfg, msg.fields[0], msg.fields[1], msg.fields[1][0] != '\0', resp, resp_len);
        }
        break;
    case EIC_REQ_RESOLVE:
        if (msg.n_fields != 1) {
            ret = EBADMSG;
        } else if (peer_uid != 0) {
            eic_log(LOG_WARNING, "lookup of %s refused to uid %lu (pid %ld): only root may ask", msg.fields[0],
                    (unsigned long)peer_uid, (long)peer_pid);
            ret = answer_error(EPERM, "not allowed", resp, resp_len);
        } else {
            ret = answer_resolve(&cfg, msg.fields[0], resp, resp_len);
        }
        break;
    case EIC_REQ_SESSION:
        if (msg.n_fields != 2 || msg.fields[1][0] == '\0') {
            ret = EBADMSG;
        } else if (peer_uid != 0) {
            eic_log(LOG_WARNING, "session key of %s refused to uid %lu (pid %ld): only root may ask", msg.fields[0],
                    (unsigned long)peer_uid, (long)peer_pid);
            ret = answer_error(EPERM, "not allowed", resp, resp_len);
        } else {
            ret = answer_session(&cfg, msg.fields[0], msg.fields[1], resp, resp_len);
        }
        break;
    case EIC_REQ_ACCOUNT:
        if (msg.n_fields != 1) {
            ret = EBADMSG;
        } else if (peer_uid != 0) {
            eic_log(LOG_WARNING, "account step of %s refused to uid %lu (pid %ld): only root may ask", msg.fields[0],
                    (unsigned long)peer_uid, (long)peer_pid);
            ret = answer_error(EPERM, "not allowed", resp, resp_len);
        } else {
            ret = answer_account(&cfg, config_path, msg.fields[0], resp, resp_len);
        }
        break;
    default:
        /* A newer client: it is told so and can fall back, rather than being dropped. */
        ret = answer_error(EOPNOTSUPP, "unknown request", resp, resp_len);
        break;
    }
done:
    eic_config_free(&cfg);
    eic_proto_msg_free(&msg);
    return ret;
}
