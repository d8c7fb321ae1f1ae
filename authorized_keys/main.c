/* eic-authorized-keys [-c CONFIG] [--] USER [FINGERPRINT]
 *
 * sshd's AuthorizedKeysCommand (AuthorizedKeysCommand /usr/libexec/eic/eic-authorized-keys -- %u %f;
 * the "--" because sshd expands %u after splitting the command line, so a directory-service name
 * starting with '-' would otherwise be read as an option):
 * prints the EC2 Instance Connect keys pushed for USER that pass every check of DESIGN.md
 * section 2, one per line, and logs one line per key printed. One process, no subprocesses,
 * the whole run bounded by the configured deadline.
 *
 * Exit status: 0 when the run completed (whether or not a key was printed: no key is not an error
 * to sshd); 1 when it could not (bad configuration, IMDS unreachable, untrusted signer) — sshd
 * then uses nothing from it; 2 for a usage error. */
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_accounts.h"
#include "eic_cache.h"
#include "eic_config.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_time.h"

#define EXIT_USAGE 2

static void usage(void)
{
    fprintf(stderr, "usage: eic-authorized-keys [-c CONFIG] [--] USER [FINGERPRINT]\n");
}

/* For an IAM-mapped account: the record's principal must map, through the rules as they are now,
 * to exactly this account — bob's push for os-user alice never logs in as alice. */
static bool caller_maps_to(const struct eic_config *cfg, const char *user, const struct eic_record_verdict *v)
{
    const struct eic_rule *rule = NULL;
    const char *why = NULL;

    if (v->caller == NULL) {
        eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: the record names no #Caller", v->fingerprint,
                user);
        return false;
    }
    if (!eic_principal_maps_to(&cfg->mapping, v->caller, user, &why, &rule)) {
        if (rule != NULL) {
            eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: principal %s %s (rule at line %u)",
                    v->fingerprint, user, v->caller, why, rule->line);
        } else {
            eic_log(LOG_WARNING, "key %s for IAM-mapped account %s refused: principal %s %s", v->fingerprint, user,
                    v->caller, why);
        }
        return false;
    }
    return true;
}

static int print_key(const char *user, const struct eic_record_verdict *v)
{
    if (printf("%s\n", v->key) < 0 || fflush(stdout) != 0) {
        eic_log(LOG_ERR, "cannot write key for %s: %s", user, strerror(errno));
        return EIO;
    }
    /* AWS's wording, so existing log filters keep working. */
    eic_log(LOG_INFO, "Providing ssh key from EC2 Instance Connect with fingerprint: %s%s%s%s%s", v->fingerprint,
            v->request_id ? ", request-id: " : "", v->request_id ? v->request_id : "",
            v->caller ? ", for IAM principal: " : "", v->caller ? v->caller : "");
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = EIC_CONFIG_DEFAULT_PATH;
    struct eic_config cfg;
    struct eic_record_verdict *verdicts = NULL;
    size_t n_verdicts = 0;
    char err[512];
    const char *user;
    const char *fingerprint = NULL;
    struct passwd *pw;
    bool mapped;
    int opt;
    int ret;
    int status = EXIT_FAILURE;

    /* Zeroed, not defaulted: eic_config_load() fills in the defaults, and eic_config_free() must be
     * safe on every path. Until the configuration says where to log, errors go to syslog and to
     * stderr (sshd discards the latter; a person running the command by hand sees them). */
    memset(&cfg, 0, sizeof(cfg));
    eic_log_open("eic-authorized-keys", NULL, EIC_LOG_STDERR);
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage();
            status = EXIT_SUCCESS;
            goto done;
        default:
            usage();
            status = EXIT_USAGE;
            goto done;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        usage();
        status = EXIT_USAGE;
        goto done;
    }
    user = argv[optind];
    if (argc - optind == 2 && argv[optind + 1][0] != '\0') {
        fingerprint = argv[optind + 1];
    }

    ret = eic_config_load(config_path, 0, &cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "%s", err[0] != '\0' ? err : strerror(ret));
        goto done;
    }
    eic_log_open("eic-authorized-keys", cfg.log_file, 0);
    eic_log_set_level(cfg.log_level);

    /* Checked before any I/O: the name goes into an IMDS path and into log lines. */
    if (!eic_valid_login_name(user)) {
        eic_log(LOG_WARNING, "refusing lookup for an invalid user name");
        goto done;
    }
    if (fingerprint != NULL && strncmp(fingerprint, "SHA256:", 7) != 0) {
        eic_log(LOG_WARNING, "fingerprint argument is not a SHA256 fingerprint; no key can match");
    }
    /* The OS user must exist: a local account (classic EC2 Instance Connect) or an IAM-mapped one
     * that nss_eic serves from its cache (sshd resolved it, as root, before calling us). */
    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        eic_log(LOG_INFO, "no local account %s; no EC2 Instance Connect key offered", user);
        status = EXIT_SUCCESS;
        goto done;
    }
    ret = eic_account_mapped(cfg.cache_dir, pw, NULL, 0);
    mapped = ret == 0;
    if (ret != 0 && ret != ENOENT) {
        /* The cache exists but cannot be read (locked-down directory, corrupt or wrongly owned
         * file). USER may still be an IAM-mapped account: nscd reads the cache as root and answered
         * getpwnam for us. Treating it as local would skip the #Caller check below, so it is local
         * only if /etc/passwd itself lists it; anything else gets no key (fail closed). */
        if (eic_cache_local_user_listed(NULL, user, pw->pw_uid) != 0) {
            eic_log(LOG_ERR,
                    "account cache %s/" EIC_CACHE_FILE " cannot be read (%s) and %s is not a local account in "
                    "/etc/passwd; no EC2 Instance Connect key offered",
                    cfg.cache_dir, strerror(ret), user);
            goto done;
        }
        eic_log(LOG_WARNING,
                "account cache %s/" EIC_CACHE_FILE " cannot be read (%s); %s is a local account in /etc/passwd",
                cfg.cache_dir, strerror(ret), user);
    }

    ret = eic_keys_for_user(&cfg, user, fingerprint, eic_monotonic_ms() + (uint64_t)cfg.deadline_ms, &verdicts,
                            &n_verdicts);
    if (ret != 0) {
        goto done;
    }
    for (size_t i = 0; i < n_verdicts; i++) {
        if (verdicts[i].status != EIC_RECORD_ACCEPTED || (mapped && !caller_maps_to(&cfg, user, &verdicts[i]))) {
            continue;
        }
        if (print_key(user, &verdicts[i]) != 0) {
            goto done;
        }
    }
    status = EXIT_SUCCESS;
done:
    eic_keyrecords_free(verdicts, n_verdicts);
    eic_config_free(&cfg);
    eic_log_close();
    return status;
}
