/* pam_eic.so: the PAM side of eic (docs/PAM.md). Entry points only; the work is in pam_args.c
 * (module arguments), pam_audit.c (audit records), pam_home.c (home directories) and
 * pam_watchdog.c (max_session).
 *
 *   account  IAM-mapped accounts: the mapping rules as they are now must still give this account
 *            to its principal (revocation), and its cached groups and shell are brought in line
 *            with the rule that does; local accounts: PAM_IGNORE.
 *   session  audit record, environment, home directory, eic_only, max_session; close: audit
 *            record with the duration, watchdog stopped.
 *
 * Every path that is not a decided success returns a failure code; PAM_IGNORE is returned only
 * for what eic does not manage. Internals use errno values; PAM codes are made here. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "eic_accounts.h"
#include "eic_config.h"
#include "eic_log.h"
#include "eic_metadata.h"
#include "eic_proto.h"
#include "eic_time.h"
#include "eic_util.h"
#include "pam_args.h"
#include "pam_audit.h"
#include "pam_home.h"
#include "pam_keyfile.h"
#include "pam_verify.h"
#include "pam_watchdog.h"

#define PAM_EIC_EXPORT __attribute__((visibility("default")))
#define SESSION_DATA "pam_eic_session"
#define MAX_AUTH_KEYS 8
#define SERVICE_GRACE_MS 250 /* for eicd to answer, on top of its own IMDS budget */

/* What every hook starts from. */
struct ctx {
    struct pam_eic_args args;
    struct eic_config cfg;
    bool cfg_ok;          /* the configuration was read (or is absent: defaults) and is trusted */
    const char *user;
    struct passwd pw;
    char *pw_buf;
};

/* Copy src into dst[len], cut at len - 1 bytes (every caller's value is bounded already). */
static void set_str(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Arguments, configuration, logging. Returns PAM_SUCCESS or the code to return at once. */
static int begin(struct ctx *c, int argc, const char **argv)
{
    char err[512];
    char cfg_err[512];
    int args_ret;
    int ret;

    memset(c, 0, sizeof(*c));
    args_ret = pam_eic_args_parse(argc, argv, &c->args, err, sizeof(err));
    /* Read even when the arguments are bad, to know where the complaint should be logged. */
    ret = eic_config_load(c->args.config, 0, &c->cfg, cfg_err, sizeof(cfg_err));
    c->cfg_ok = ret == 0 || ret == ENOENT;
    eic_log_open("pam_eic", c->cfg_ok ? c->cfg.log_file : NULL, EIC_LOG_IN_HOST);
    eic_log_set_level(c->args.debug ? LOG_DEBUG : (c->cfg_ok ? c->cfg.log_level : LOG_INFO));
    if (!c->cfg_ok) {
        if (cfg_err[0] != '\0') {
            eic_log(LOG_ERR, "%s", cfg_err);
        } else {
            eic_log(LOG_ERR, "cannot use %s: %s", c->args.config, strerror(ret));
        }
    }
    if (args_ret != 0) {
        eic_log(LOG_ERR, "%s; refusing", err);
        return PAM_SERVICE_ERR;
    }
    return PAM_SUCCESS;
}

static void end(struct ctx *c)
{
    free(c->pw_buf);
    eic_config_free(&c->cfg);
    eic_log_close();
}

/* The user and their passwd entry (getpwnam_r: PAM hosts may be threaded). Returns PAM_SUCCESS,
 * PAM_USER_UNKNOWN or another failure. */
static int get_user(pam_handle_t *pamh, struct ctx *c)
{
    int ret;

    if (pam_get_user(pamh, &c->user, NULL) != PAM_SUCCESS || c->user == NULL || c->user[0] == '\0') {
        eic_log(LOG_ERR, "cannot get the user name");
        return PAM_USER_UNKNOWN;
    }
    ret = eic_getpwnam(c->user, &c->pw, &c->pw_buf);
    if (ret == ENOMEM) {
        return PAM_BUF_ERR;
    }
    if (ret != 0) {
        eic_log(LOG_NOTICE, "no account %s (%s)", c->user, ret != ENOENT ? strerror(ret) : "not found");
        return PAM_USER_UNKNOWN;
    }
    return PAM_SUCCESS;
}

/* The account step is eicd's (EIC_REQ_ACCOUNT): it alone writes the account cache, and it does so
 * in its own clean process, not in sudo's or su's. Without the service the account is checked by
 * eic-authorized-keys-verify -a (the cache writer's code, which this module does not link) and
 * allowed only as it is: an entry that a changed rule would rewrite is refused until eicd runs
 * again. Returns PAM_SUCCESS or PAM_PERM_DENIED (logged). */
static int account_step(const struct ctx *c)
{
    const char *fields[1] = {c->user};
    struct eic_proto_msg answer = {0};
    int ret;

    ret = eic_proto_call(c->cfg.service_socket, EIC_REQ_ACCOUNT, fields, 1,
                         eic_monotonic_ms() + (uint64_t)c->cfg.deadline_ms, &answer);
    /* A hung service too: the check without it is local and quick. */
    if (eic_proto_no_service(ret) || ret == ETIMEDOUT) {
        eic_log(LOG_NOTICE, "eicd does not answer on %s (%s); account %s checked by %s", c->cfg.service_socket,
                strerror(ret), c->user, c->args.verify);
        ret = pam_eic_verify_account(c->args.verify, c->args.config, c->user,
                                     eic_monotonic_ms() + (uint64_t)c->cfg.deadline_ms);
        if (ret != 0 && ret != ECHILD) {
            eic_log(LOG_ERR, "IAM-mapped account %s refused: %s: %s", c->user, c->args.verify, strerror(ret));
        }
        goto done;
    }
    if (ret == 0 && answer.code != 0) {
        ret = answer.code;
        eic_log(LOG_WARNING, "IAM-mapped account %s refused by eicd: %s", c->user,
                answer.n_fields > 0 ? answer.fields[0] : strerror(ret));
    } else if (ret != 0) {
        eic_log(LOG_ERR, "IAM-mapped account %s refused: eicd on %s: %s", c->user, c->cfg.service_socket,
                strerror(ret));
    }
done:
    eic_proto_msg_free(&answer);
    return ret == 0 ? PAM_SUCCESS : PAM_PERM_DENIED;
}

PAM_EIC_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    char principal[EIC_ARN_MAX + 1];
    struct ctx c;
    int ret;

    (void)flags;
    ret = begin(&c, argc, argv);
    if (ret != PAM_SUCCESS) {
        goto done;
    }
    ret = get_user(pamh, &c);
    if (ret != PAM_SUCCESS) {
        goto done;
    }
    /* With an unusable configuration the cache directory is the default one: an account found
     * there is still known to be IAM-mapped, and is refused (fail closed). */
    if (eic_account_mapped(c.cfg.cache_dir, &c.pw, principal, sizeof(principal)) != 0) {
        eic_log(LOG_DEBUG, "%s is not an IAM-mapped account; ignored", c.user);
        ret = PAM_IGNORE;
        goto done;
    }
    if (!c.cfg_ok) {
        eic_log(LOG_ERR, "IAM-mapped account %s refused: the configuration %s cannot be used", c.user,
                c.args.config);
        ret = PAM_PERM_DENIED;
        goto done;
    }
    /* Checked here first with the module's own configuration: a revoked account needs no service. */
    if (!eic_account_still_allowed(&c.cfg, c.args.config, c.user, principal, NULL)) {
        ret = PAM_PERM_DENIED;
        goto done;
    }
    /* Groups and shell take effect here, before the caller (sshd, su, cron) calls initgroups(). */
    ret = account_step(&c);
    if (ret == PAM_SUCCESS) {
        eic_log(LOG_DEBUG, "IAM-mapped account %s allowed for %s", c.user, principal);
    }
done:
    end(&c);
    return ret;
}

/* Is the key of an SSH_AUTH_INFO_0 "publickey TYPE BASE64" line (TYPE at key, len bytes to the end
 * of the line) an OpenSSH certificate (TrustedUserCAKeys)? Pushed keys never are: Instance Connect
 * takes plain public keys only. */
static bool is_certificate(const char *key, size_t len)
{
    static const char suffix[] = "-cert-v01@openssh.com";
    size_t type_len = strcspn(key, " \n");

    if (type_len > len) {
        type_len = len;
    }
    return type_len > sizeof(suffix) - 1 &&
           memcmp(key + type_len - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0;
}

/* SSH_AUTH_INFO_0 (set by sshd from session open on): one line per completed authentication
 * method, "publickey TYPE BASE64" for keys. Fills fps with the SHA256 fingerprints of the keys
 * (at most MAX_AUTH_KEYS) and *n_certs with how many of them are certificates. Lines of other
 * methods are skipped; a key line that does not parse is logged and counts as an unknown key
 * (""), so eic_only can refuse it. */
static size_t auth_info_keys(pam_handle_t *pamh, char fps[][64], size_t max, size_t *n_certs)
{
    const char *info = pam_getenv(pamh, "SSH_AUTH_INFO_0");
    size_t n = 0;

    *n_certs = 0;
    if (info == NULL) {
        return 0;
    }
    while (*info != '\0' && n < max) {
        size_t len = strcspn(info, "\n");

        if (len > 10 && strncmp(info, "publickey ", 10) == 0) {
            if (is_certificate(info + 10, len - 10)) {
                (*n_certs)++;
            }
            if (pam_eic_key_fingerprint(info + 10, len - 10, fps[n]) != 0) {
                eic_log(LOG_NOTICE, "SSH_AUTH_INFO_0 holds a public key eic cannot read");
                fps[n][0] = '\0';
            }
            n++;
        }
        info += len;
        if (*info == '\n') {
            info++;
        }
    }
    return n;
}

/* The first key eic let in is the session's: its fingerprint, #Caller and #Request. */
static void note_eic_key(struct pam_eic_session *s, const char *fingerprint, const char *caller,
                         const char *request_id)
{
    if (s->eic_key) {
        return;
    }
    s->eic_key = true;
    set_str(s->fingerprint, sizeof(s->fingerprint), fingerprint);
    set_str(s->principal, sizeof(s->principal), caller);
    set_str(s->request_id, sizeof(s->request_id), request_id);
}

/* No eicd: the AuthorizedKeysCommand's own fallback program answers, run as a child. */
static int match_without_service(const struct ctx *c, const char *fingerprint, bool *accepted,
                                 struct pam_eic_session *s)
{
    struct pam_eic_verified_key key;
    int ret;

    eic_log(LOG_NOTICE, "eicd does not answer on %s; key %s of %s checked by %s", c->cfg.service_socket,
            fingerprint, c->user, c->args.verify);
    ret = pam_eic_verify_key(c->args.verify, c->args.config, c->user, fingerprint,
                             eic_monotonic_ms() + (uint64_t)c->cfg.deadline_ms, accepted, &key);
    if (ret != 0) {
        eic_log(LOG_WARNING, "pushed keys of %s not checked: %s: %s", c->user, c->args.verify,
                ret == ECHILD ? "it failed (see its log lines)" : strerror(ret));
        return ret;
    }
    if (*accepted) {
        note_eic_key(s, key.fingerprint, key.caller, key.request_id);
    }
    return 0;
}

/* Which of the keys the user logged in with did eic let in? eicd answers (EIC_REQ_SESSION) with the
 * key its AuthorizedKeysCommand let in during this login — even when the record has expired since —
 * or else with the one login policy (eic_login_keys: the records verified, and for an IAM-mapped
 * account a #Caller that maps to exactly this account and is its identity). accepted[i] is set for
 * fps[i]; the first accepted key's fingerprint, #Caller and #Request go into s. Returns 0, or why
 * the keys could not be checked (logged). */
static int match_pushed_keys(const struct ctx *c, char fps[][64], size_t n_fps, bool *accepted,
                             struct pam_eic_session *s)
{
    struct eic_proto_msg answer = {0};
    int ret = 0;

    /* In a setuid host (sudo, su run by a user) SSH_AUTH_INFO_0 did not come from sshd: no key of
     * such a session counts as pushed. */
    if (!eic_process_is_plain_root()) {
        eic_log(LOG_NOTICE, "pushed keys of %s not checked: not asked from a setuid or non-root process", c->user);
        return EPERM;
    }
    for (size_t i = 0; i < n_fps && ret == 0; i++) {
        const char *fields[2] = {c->user, fps[i]};

        if (fps[i][0] == '\0') {
            continue; /* a key eic cannot read is no key it let in */
        }
        /* The budget of the in-module fetch this replaced (imds_timeout_ms), and time for the
         * service to answer: a hung eicd delays an EIC session no more than a hung IMDS did. */
        ret = eic_proto_call(c->cfg.service_socket, EIC_REQ_SESSION, fields, 2,
                             eic_monotonic_ms() + (uint64_t)c->cfg.imds_timeout_ms + SERVICE_GRACE_MS, &answer);
        if (eic_proto_no_service(ret)) {
            ret = match_without_service(c, fps[i], &accepted[i], s);
            continue;
        }
        if (ret != 0) {
            eic_log(LOG_WARNING, "pushed keys of %s not checked: eicd on %s: %s", c->user, c->cfg.service_socket,
                    strerror(ret));
            break;
        }
        if (answer.code != 0 || answer.n_fields % EIC_KEY_FIELDS != 0) {
            ret = answer.code != 0 ? answer.code : EBADMSG;
            eic_log(LOG_WARNING, "pushed keys of %s not checked: eicd: %s", c->user,
                    answer.code != 0 && answer.n_fields > 0 ? answer.fields[0] : strerror(ret));
            break;
        }
        for (size_t k = 0; k < answer.n_fields && !accepted[i]; k += EIC_KEY_FIELDS) {
            char **key = answer.fields + k;

            if (strcmp(key[EIC_KEY_FINGERPRINT], fps[i]) != 0) {
                continue;
            }
            accepted[i] = true;
            note_eic_key(s, fps[i], key[EIC_KEY_CALLER], key[EIC_KEY_REQUEST_ID]);
        }
        eic_proto_msg_free(&answer);
    }
    eic_proto_msg_free(&answer);
    return ret;
}

static void free_session(pam_handle_t *pamh, void *data, int error_status)
{
    (void)pamh;
    (void)error_status;
    free(data); /* never stops the watchdog: pam_end runs in processes that do not own the session */
}

static int put_env(pam_handle_t *pamh, const char *name, const char *value)
{
    char *kv = NULL;
    int ret;

    if (asprintf(&kv, "%s=%s", name, value) < 0) {
        return PAM_BUF_ERR;
    }
    ret = pam_putenv(pamh, kv);
    free(kv);
    return ret;
}

static void copy_item(pam_handle_t *pamh, int item, char *out, size_t len)
{
    const void *v = NULL;

    out[0] = '\0';
    if (pam_get_item(pamh, item, &v) == PAM_SUCCESS && v != NULL) {
        snprintf(out, len, "%s", (const char *)v);
    }
}

/* sshd does not end a login whose pam_open_session failed: OpenSSH's do_pam_session() logs the
 * error, restricts forwarding and goes on to run the user's shell or command. A refused session
 * must not open anyway (an eic_only user with a stale authorized_keys key, a revoked account, no
 * audit trail), so when the caller is sshd — it alone sets SSH_AUTH_INFO_0 — the module ends the
 * calling process itself. sshd calls pam_open_session in the per-connection process right after
 * authentication and before it forks anything for the user, so nothing of the user's has run yet;
 * its death closes the connection. Other callers (su, login) honour the failure themselves. */
static void end_refused_sshd_session(pam_handle_t *pamh, const char *user)
{
    if (pam_getenv(pamh, "SSH_AUTH_INFO_0") == NULL) {
        return;
    }
    eic_log(LOG_WARNING, "session of %s refused; sshd would go on with it, so its process %ld is ended", user,
            (long)getpid());
    eic_log_close();
    kill(getpid(), SIGTERM);
    /* Still here: the host handles SIGTERM. It must not carry on with the session either. */
    kill(getpid(), SIGKILL);
}

PAM_EIC_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    char fps[MAX_AUTH_KEYS][64];
    bool accepted[MAX_AUTH_KEYS] = {false};
    char cached_principal[EIC_ARN_MAX + 1] = "";
    struct pam_eic_session *s = NULL;
    size_t n_fps;
    size_t n_certs;
    const struct eic_rule *rule = NULL;
    bool mapped, eic_only, pushed_only, all_accepted;
    struct ctx c;
    int ret;

    (void)flags;
    ret = begin(&c, argc, argv);
    if (ret != PAM_SUCCESS) {
        goto done;
    }
    ret = get_user(pamh, &c);
    if (ret != PAM_SUCCESS) {
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ret = PAM_BUF_ERR;
        goto done;
    }
    set_str(s->user, sizeof(s->user), c.user);
    s->uid = c.pw.pw_uid;
    s->pid = getpid();
    s->opened = (long long)time(NULL);
    set_str(s->audit_log, sizeof(s->audit_log), c.args.audit_log);
    copy_item(pamh, PAM_RHOST, s->rhost, sizeof(s->rhost));
    copy_item(pamh, PAM_SERVICE, s->service, sizeof(s->service));

    mapped = eic_account_mapped(c.cfg.cache_dir, &c.pw, cached_principal, sizeof(cached_principal)) == 0;
    eic_only = pam_eic_args_is_eic_only(&c.args, c.user);
    if ((mapped || eic_only) && !c.cfg_ok) {
        eic_log(LOG_ERR, "session of %s refused: the configuration %s cannot be used", c.user, c.args.config);
        ret = PAM_PERM_DENIED;
        goto done;
    }
    /* The account step checks this too; a stack without it must not skip revocation. */
    if (mapped && !eic_account_still_allowed(&c.cfg, c.args.config, c.user, cached_principal, &rule)) {
        ret = PAM_PERM_DENIED;
        goto done;
    }
    /* Revocation: an IAM-mapped account logs in through sshd only with a key eic let in at this
     * login, unless its rule says "logins = any". A key the user planted in an authorized_keys file
     * (or a password) during an earlier session must not outlive their IAM right. Other ways into
     * the account (root's su, sudo as sudoers allows, its cron jobs, systemd --user) are not logins
     * of its owner: a [deny] rule ends those, at the account step. SSH_AUTH_INFO_0 in a setuid host
     * came from its invoker, not from sshd (match_pushed_keys). */
    pushed_only = eic_only || (mapped && !rule->any_login && pam_getenv(pamh, "SSH_AUTH_INFO_0") != NULL &&
                               eic_process_is_plain_root());

    n_fps = auth_info_keys(pamh, fps, MAX_AUTH_KEYS, &n_certs);
    if (n_fps > 0) {
        set_str(s->fingerprint, sizeof(s->fingerprint), fps[0]);
    }
    /* A local user's key from their own authorized_keys (sshd read it before the
     * AuthorizedKeysCommand) is not an EIC login: IMDS is not asked, so such logins do not wait on
     * it when it is slow or gone (pam_keyfile.h). Accounts eic manages are always checked. */
    if (n_fps > 0 && !mapped && !eic_only && pam_eic_keys_in_authorized_keys(&c.args, &c.pw, fps, n_fps)) {
        eic_log(LOG_DEBUG, "%s logged in with a key from authorized_keys; IMDS not asked", c.user);
    } else if (n_fps > 0 && n_certs == n_fps && !mapped && !eic_only) {
        /* Certificates are trusted through TrustedUserCAKeys, never pushed: nothing to ask. */
        eic_log(LOG_DEBUG, "%s logged in with an OpenSSH certificate; IMDS not asked", c.user);
    } else if (n_fps > 0 && c.cfg_ok && eic_valid_login_name(c.user)) {
        if (match_pushed_keys(&c, fps, n_fps, accepted, s) != 0 && pushed_only) {
            eic_log(LOG_WARNING, "session of %s refused: %s and its pushed keys cannot be checked", c.user,
                    eic_only ? "eic_only user" : "IAM-mapped account");
            ret = PAM_PERM_DENIED;
            goto done;
        }
    }
    /* Every key this login used must be a valid pushed key, so a stale authorized_keys line (or a
     * key left behind by an earlier push) opens nothing. */
    all_accepted = n_fps > 0;
    for (size_t i = 0; i < n_fps; i++) {
        all_accepted = all_accepted && accepted[i];
    }
    if (pushed_only && !all_accepted) {
        if (eic_only) {
            eic_log(LOG_WARNING, "session of %s refused: eic_only user and the login key %s is not a valid pushed key",
                    c.user, n_fps > 0 ? fps[0] : "(none: no public key authentication)");
        } else {
            eic_log(LOG_WARNING, "session of %s refused: IAM-mapped account and the login key %s is not a key eic let "
                    "in at this login (logins = pushed-keys, the map rule at %s:%u)", c.user,
                    n_fps > 0 ? fps[0] : "(none: no public key authentication)", c.args.config, rule->line);
        }
        ret = PAM_PERM_DENIED;
        goto done;
    }
    if (mapped && !s->eic_key) {
        set_str(s->principal, sizeof(s->principal), cached_principal);
        snprintf(s->request_id, sizeof(s->request_id), "-");
    }
    s->managed = mapped || eic_only || s->eic_key;

    if (mapped) {
        ret = pam_eic_home_ensure(c.pw.pw_dir, c.args.skel, c.pw.pw_uid, c.pw.pw_gid, c.args.home_mode);
        if (ret != 0) {
            ret = PAM_SESSION_ERR;
            goto done;
        }
    }
    if (pam_eic_audit_write(s, "session_open", -1) != 0 && s->managed) {
        /* No audit trail, no EIC session. A local login is not held hostage to the audit disk. */
        ret = PAM_SESSION_ERR;
        goto done;
    }
    if (s->principal[0] != '\0' && (ret = put_env(pamh, "EIC_PRINCIPAL", s->principal)) != PAM_SUCCESS) {
        goto done;
    }
    if (s->request_id[0] != '\0' && strcmp(s->request_id, "-") != 0 &&
        (ret = put_env(pamh, "EIC_REQUEST_ID", s->request_id)) != PAM_SUCCESS) {
        goto done;
    }
    if (c.args.max_session > 0 && s->managed) {
        if (pam_eic_watchdog_start(s, c.args.max_session, c.cfg.log_file) != 0) {
            ret = PAM_SESSION_ERR;
            goto done;
        }
    }
    ret = pam_set_data(pamh, SESSION_DATA, s, free_session);
    if (ret != PAM_SUCCESS) {
        pam_eic_watchdog_stop(s);
        goto done;
    }
    ret = s->managed ? PAM_SUCCESS : PAM_IGNORE;
    s = NULL; /* owned by the handle now */
done:
    free(s);
    if (ret != PAM_SUCCESS && ret != PAM_IGNORE) {
        end_refused_sshd_session(pamh, c.user != NULL ? c.user : "(unknown)");
    }
    end(&c);
    return ret;
}

PAM_EIC_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const void *data = NULL;
    const struct pam_eic_session *s;
    struct ctx c;
    int ret;

    (void)flags;
    ret = begin(&c, argc, argv);
    if (ret != PAM_SUCCESS) {
        goto done;
    }
    if (pam_get_data(pamh, SESSION_DATA, &data) != PAM_SUCCESS || data == NULL) {
        eic_log(LOG_DEBUG, "no session opened by pam_eic in this process; nothing to close");
        ret = PAM_IGNORE;
        goto done;
    }
    s = data;
    pam_eic_watchdog_stop(s);
    if (pam_eic_audit_write(s, "session_close", (long long)time(NULL) - s->opened) != 0 && s->managed) {
        ret = PAM_SESSION_ERR;
        goto done;
    }
    ret = s->managed ? PAM_SUCCESS : PAM_IGNORE;
done:
    end(&c);
    return ret;
}
