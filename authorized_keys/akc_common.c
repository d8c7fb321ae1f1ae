#include "akc_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_log.h"

static void usage(bool with_deadline)
{
    fprintf(stderr, "usage: %s [-c CONFIG]%s [--] USER [FINGERPRINT]\n",
            with_deadline ? "eic-authorized-keys-verify" : "eic-authorized-keys", with_deadline ? " [-d MS] [-s|-a]" : "");
}

int akc_parse_args(int argc, char **argv, bool with_deadline, struct akc_args *args)
{
    char *end;
    int opt;

    args->config_path = EIC_CONFIG_DEFAULT_PATH;
    args->user = NULL;
    args->fingerprint = NULL;
    args->deadline_left_ms = -1;
    args->session_form = false;
    args->account_step = false;
    while ((opt = getopt(argc, argv, with_deadline ? "c:d:sah" : "c:h")) != -1) {
        switch (opt) {
        case 'c':
            args->config_path = optarg;
            break;
        case 'd':
            errno = 0;
            args->deadline_left_ms = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || args->deadline_left_ms < 0) {
                usage(with_deadline);
                return AKC_EXIT_USAGE;
            }
            break;
        case 's':
            args->session_form = true;
            break;
        case 'a':
            args->account_step = true;
            break;
        case 'h':
            usage(with_deadline);
            return EXIT_SUCCESS;
        default:
            usage(with_deadline);
            return AKC_EXIT_USAGE;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        usage(with_deadline);
        return AKC_EXIT_USAGE;
    }
    args->user = argv[optind];
    if (argc - optind == 2 && argv[optind + 1][0] != '\0') {
        args->fingerprint = argv[optind + 1];
    }
    return -1;
}

int akc_load_config(const char *path, struct eic_config *cfg)
{
    char err[512];
    int ret;

    /* Until the configuration says where to log, errors go to syslog and to stderr (sshd discards
     * the latter; a person running the command by hand sees them). */
    eic_log_open("eic-authorized-keys", NULL, EIC_LOG_STDERR);
    ret = eic_config_load(path, 0, cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "%s", err[0] != '\0' ? err : strerror(ret));
        return ret;
    }
    eic_log_open("eic-authorized-keys", cfg->log_file, 0);
    eic_log_set_level(cfg->log_level);
    return 0;
}

static const char *named(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

int akc_print_key(const char *user, const char *key, const char *fingerprint, const char *caller,
                  const char *request_id)
{
    if (printf("%s\n", key) < 0 || fflush(stdout) != 0) {
        eic_log(LOG_ERR, "cannot write key for %s: %s", user, strerror(errno));
        return EIO;
    }
    caller = named(caller);
    request_id = named(request_id);
    /* AWS's wording, so existing log filters keep working. */
    eic_log(LOG_INFO, "Providing ssh key from EC2 Instance Connect with fingerprint: %s%s%s%s%s", fingerprint,
            request_id ? ", request-id: " : "", request_id ? request_id : "", caller ? ", for IAM principal: " : "",
            caller ? caller : "");
    return 0;
}
