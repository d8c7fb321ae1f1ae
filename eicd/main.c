/* eicd [-c CONFIG] [--foreground [--socket PATH]] [--idle-exit SECONDS]
 * eicd [-c CONFIG] --hand-over NAME --to ARN
 *
 * The root service that owns eic's trust work: IMDS, the signer chain and the records, the login
 * policy, the mapping and the account cache writer. eic-authorized-keys, nss_eic and pam_eic ask
 * it over a UNIX socket (eic_proto.h) and load nothing but libc themselves (docs/SERVICE.md).
 *
 * Started by systemd's eic.socket on the first connection (it exits again after --idle-exit
 * seconds without a client; eic.service passes 60), or with --foreground on hosts and in containers
 * without systemd, where it makes the socket itself and runs until SIGTERM. --hand-over gives an
 * IAM-mapped account to another identity (docs/SECURITY.md, "One identity per account"), once, and
 * exits.
 *
 * Exit status: 0 after SIGTERM/SIGINT or when idle; 1 when it cannot serve (bad configuration, no
 * socket); 2 for a usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_account_keep.h"
#include "eic_accounts.h"
#include "eic_config.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eicd.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(f, "usage: eicd [-c CONFIG] [--foreground [--socket PATH]] [--idle-exit SECONDS]\n"
               "       eicd [-c CONFIG] --hand-over NAME --to ARN\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"socket", required_argument, NULL, 's'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"hand-over", required_argument, NULL, 'o'},
        {"to", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct eicd_options opt = {.config_path = EIC_CONFIG_DEFAULT_PATH};
    struct eic_config cfg;
    const char *hand_over = NULL;
    const char *to = NULL;
    char err[512];
    char *end;
    int c;
    int ret;
    int status;

    eic_log_open("eicd", NULL, EIC_LOG_STDERR);
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt.config_path = optarg;
            break;
        case 'f':
            opt.foreground = true;
            break;
        case 's':
            opt.socket_path = optarg;
            break;
        case 'i':
            errno = 0;
            opt.idle_exit_s = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || opt.idle_exit_s < 0 || opt.idle_exit_s > 86400) {
                fprintf(stderr, "eicd: --idle-exit '%s': expected seconds, 0..86400\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            hand_over = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc || (opt.socket_path != NULL && !opt.foreground) || (hand_over == NULL) != (to == NULL) ||
        (hand_over != NULL && (opt.foreground || opt.idle_exit_s != 0))) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "eicd: must run as root (it writes the account cache and reads root-only files)\n");
        return EXIT_FAILURE;
    }
    /* nss_eic sends a root process's misses to this service: its own lookups (getpwnam of the
     * user a key is asked for) must stay in the cache and the local files, never come back here
     * (SSSD's _SSS_LOOPS). */
    if (setenv("_EIC_LOOPS", "NO", 1) != 0) {
        return EXIT_FAILURE;
    }
    /* What makes a service worth having: the IMDS token and the verified signer are kept between
     * requests (eic_keys.h). */
    eic_keys_keep_state();
    ret = eic_config_load(opt.config_path, 0, &cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "%s", err[0] != '\0' ? err : strerror(ret));
        eic_config_free(&cfg);
        return EXIT_FAILURE;
    }
    eic_log_open("eicd", cfg.log_file, EIC_LOG_STDERR);
    eic_log_set_level(cfg.log_level);
    if (hand_over != NULL) {
        ret = eic_account_hand_over(&cfg, opt.config_path, hand_over, to);
        eic_config_free(&cfg);
        eic_log_close();
        return ret == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    eic_config_free(&cfg);

    status = eicd_serve(&opt);
    eicd_admissions_free();
    eic_log_close();
    return status;
}
