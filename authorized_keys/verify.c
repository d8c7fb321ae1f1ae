/* eic-authorized-keys-verify [-c CONFIG] [-d MS] [-s|-a] [--] USER [FINGERPRINT]
 *
 * eic-authorized-keys' fallback, run (exec'd) by it only when the service eicd cannot be reached:
 * a host without systemd, a stopped or broken service still lets EIC keys in. It does in its own
 * process the whole check eicd does (eic_login_keys(): IMDS, signer chain, OCSP, signatures, the
 * mapping), so it loads libcurl and OpenSSL — which is why it is a program of its own and
 * eic-authorized-keys itself never does. Its output, log lines and exit status are those of
 * eic-authorized-keys (eic-authorized-keys(8)); -d bounds the whole run to what is left of the
 * caller's deadline. pam_eic runs it too when eicd cannot be reached (-s): the keys are then
 * printed as "FINGERPRINT CALLER REQUEST_ID" lines ("-" for none), for the session's audit record.
 * And for its account step (-a): exit 0 when USER is an IAM-mapped account the rules still give to
 * its principal with the cache entry as the rule would write it (eic_account_keep() with
 * change_nothing: the writer's code, which the module does not link, run as a probe). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akc_common.h"
#include "eic_account_keep.h"
#include "eic_config.h"
#include "eic_keyrecords.h"
#include "eic_log.h"
#include "eic_login.h"
#include "eic_time.h"
#include "eic_util.h"

/* A field of a -s line: "-" for none, and for anything that is not one printable word. */
static const char *one_word(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return "-";
    }
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            return "-";
        }
    }
    return s;
}

/* -a: is user's account allowed as it is? */
static int account_unchanged(const struct eic_config *cfg, const char *config_path, const char *user)
{
    struct passwd pw;
    char *buf = NULL;
    int ret = eic_getpwnam(user, &pw, &buf);

    if (ret == 0) {
        ret = eic_account_keep(cfg, config_path, &pw, NULL, true);
    }
    free(buf);
    return ret == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    struct akc_args args;
    struct eic_config cfg;
    struct eic_record_verdict *verdicts = NULL;
    size_t n_verdicts = 0;
    size_t n_allowed = 0;
    uint64_t start = eic_monotonic_ms();
    long deadline_left;
    int status;

    /* Zeroed, not defaulted: eic_config_load() fills in the defaults, and eic_config_free() must be
     * safe on every path. */
    memset(&cfg, 0, sizeof(cfg));
    status = akc_parse_args(argc, argv, true, &args);
    if (status >= 0) {
        goto done;
    }
    status = EXIT_FAILURE;
    if (akc_load_config(args.config_path, &cfg) != 0) {
        goto done;
    }
    if (args.account_step) {
        status = account_unchanged(&cfg, args.config_path, args.user);
        goto done;
    }
    deadline_left = args.deadline_left_ms < 0 || args.deadline_left_ms > cfg.deadline_ms ? cfg.deadline_ms
                                                                                          : args.deadline_left_ms;
    if (eic_login_keys(&cfg, args.user, args.fingerprint, start + (uint64_t)deadline_left, &verdicts, &n_verdicts,
                       &n_allowed) != 0) {
        goto done;
    }
    for (size_t i = 0; i < n_allowed && args.session_form; i++) {
        if (printf("%s %s %s\n", verdicts[i].fingerprint, one_word(verdicts[i].caller),
                   one_word(verdicts[i].request_id)) < 0) {
            goto done;
        }
    }
    for (size_t i = 0; i < n_allowed && !args.session_form; i++) {
        if (akc_print_key(args.user, verdicts[i].key, verdicts[i].fingerprint, verdicts[i].caller,
                          verdicts[i].request_id) != 0) {
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
