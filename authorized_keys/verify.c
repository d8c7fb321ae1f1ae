/* eic-authorized-keys-verify [-c CONFIG] [-d MS] [--] USER [FINGERPRINT]
 *
 * eic-authorized-keys' fallback, run (exec'd) by it only when the service eicd cannot be reached:
 * a host without systemd, a stopped or broken service still lets EIC keys in. It does in its own
 * process the whole check eicd does (eic_login_keys(): IMDS, signer chain, OCSP, signatures, the
 * mapping), so it loads libcurl and OpenSSL — which is why it is a program of its own and
 * eic-authorized-keys itself never does. Its output, log lines and exit status are those of
 * eic-authorized-keys (eic-authorized-keys(8)); -d bounds the whole run to what is left of the
 * caller's deadline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akc_output.h"
#include "eic_config.h"
#include "eic_keyrecords.h"
#include "eic_log.h"
#include "eic_login.h"
#include "eic_time.h"

#define EXIT_USAGE 2

static void usage(void)
{
    fprintf(stderr, "usage: eic-authorized-keys-verify [-c CONFIG] [-d MS] [--] USER [FINGERPRINT]\n");
}

int main(int argc, char **argv)
{
    const char *config_path = EIC_CONFIG_DEFAULT_PATH;
    struct eic_config cfg;
    struct eic_record_verdict *verdicts = NULL;
    size_t n_verdicts = 0;
    size_t n_allowed = 0;
    uint64_t start = eic_monotonic_ms();
    long deadline_left = -1;
    char err[512];
    char *end;
    const char *user;
    const char *fingerprint = NULL;
    int opt;
    int ret;
    int status = EXIT_FAILURE;

    /* Zeroed, not defaulted: eic_config_load() fills in the defaults, and eic_config_free() must be
     * safe on every path. Until the configuration says where to log, errors go to syslog and to
     * stderr (sshd discards the latter; a person running the command by hand sees them). */
    memset(&cfg, 0, sizeof(cfg));
    eic_log_open("eic-authorized-keys", NULL, EIC_LOG_STDERR);
    while ((opt = getopt(argc, argv, "c:d:h")) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            errno = 0;
            deadline_left = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || deadline_left < 0) {
                usage();
                status = EXIT_USAGE;
                goto done;
            }
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
    if (deadline_left < 0 || deadline_left > cfg.deadline_ms) {
        deadline_left = cfg.deadline_ms;
    }
    ret = eic_login_keys(&cfg, user, fingerprint, start + (uint64_t)deadline_left, &verdicts, &n_verdicts,
                         &n_allowed);
    if (ret != 0) {
        goto done;
    }
    for (size_t i = 0; i < n_allowed; i++) {
        if (akc_print_key(user, verdicts[i].key, verdicts[i].fingerprint, verdicts[i].caller,
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
