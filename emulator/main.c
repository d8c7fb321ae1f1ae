/* eic-emulator: the AWS side of EC2 Instance Connect on one machine (docs/EMULATOR.md).
 * Start-up: options, world, PKI, record store, listeners, ready file; then it waits for
 * SIGINT or SIGTERM and stops cleanly. Exit status: 0 after a clean stop, 2 for a bad command
 * line or world file, 1 when it could not start. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "eic_log.h"
#include "emu_fault.h"
#include "emu_http.h"
#include "emu_imds.h"
#include "emu_pki.h"
#include "emu_push.h"
#include "emu_records.h"
#include "emu_server.h"
#include "emu_sessions.h"
#include "emu_world.h"

#define EXIT_USAGE 2
#define MAX_FAULTS 64
#define MAX_TLS_NAMES 32
#define DEFAULT_LISTEN "127.0.0.1:8169"

struct options {
    struct emu_listen listens[EMU_MAX_LISTENERS];
    size_t n_listens;
    const char *ready_file;
    const char *state_dir;
    const char *config;
    const char *log_file;
    long key_lifetime;          /* 0: the world's */
    bool imdsv1;
    long max_skew;
    struct emu_pki_options pki;
    bool tamper_records;
    struct emu_fault faults[MAX_FAULTS];
    size_t n_faults;
    size_t n_tls_listens;
    const char *tls_names[MAX_TLS_NAMES];
    size_t n_tls_names;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: eic-emulator [--listen ADDR:PORT]... [--tls-listen ADDR:PORT]... [--tls-name NAME]...\n"
            "                    [--ready-file FILE] [--state-dir DIR]\n"
            "                    [--config WORLD.json] [--key-lifetime SECONDS] [--log-file FILE]\n"
            "                    [--imdsv1] [--max-skew SECONDS]\n"
            "                    [--ocsp-fault revoked|missing|bad-signature]\n"
            "                    [--ocsp-fault-target signer|intermediate] [--wrong-signer-cn]\n"
            "                    [--tamper-records] [--fault 'PATH=KIND[:ARG]']...\n"
            "  --listen       repeatable; default " DEFAULT_LISTEN "; port 0 picks a free port\n"
            "  --tls-listen   repeatable; HTTPS and wss (not IMDS), the certificate issued by\n"
            "                 STATE-DIR/tls-ca.pem\n"
            "  --tls-name     repeatable; the names of that certificate (default: the world's\n"
            "                 endpoint names and the --tls-listen addresses)\n"
            "  --ready-file   written (atomically) once listening: one \"ADDR:PORT\" line per listener\n"
            "                 (\"https://ADDR:PORT\" for a --tls-listen one)\n"
            "  --state-dir    PKI state (default /var/lib/eic-emulator as root, else $HOME/.eic-emulator)\n"
            "  --imdsv1       GETs without a token are allowed (default: IMDSv2 required)\n"
            "  --fault        PATH is exact, or a prefix when it ends in '*'; KIND is delay:MS |\n"
            "                 status:CODE | hang | truncate | oversize[:BYTES] | oversize-chunked[:BYTES] |\n"
            "                 garbage\n"
            "See docs/EMULATOR.md.\n");
}

static int parse_number(const char *opt, const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "eic-emulator: %s '%s': expected a number %ld..%ld\n", opt, text, min, max);
        return EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_LISTEN = 256, OPT_READY, OPT_STATE, OPT_CONFIG, OPT_LIFETIME, OPT_LOG, OPT_IMDSV1, OPT_SKEW,
        OPT_OCSP_FAULT, OPT_OCSP_TARGET, OPT_WRONG_CN, OPT_TAMPER, OPT_FAULT, OPT_HELP, OPT_TLS_LISTEN,
        OPT_TLS_NAME,
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
        {"tls-name", required_argument, NULL, OPT_TLS_NAME},
        {"ready-file", required_argument, NULL, OPT_READY},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"key-lifetime", required_argument, NULL, OPT_LIFETIME},
        {"log-file", required_argument, NULL, OPT_LOG},
        {"imdsv1", no_argument, NULL, OPT_IMDSV1},
        {"max-skew", required_argument, NULL, OPT_SKEW},
        {"ocsp-fault", required_argument, NULL, OPT_OCSP_FAULT},
        {"ocsp-fault-target", required_argument, NULL, OPT_OCSP_TARGET},
        {"wrong-signer-cn", no_argument, NULL, OPT_WRONG_CN},
        {"tamper-records", no_argument, NULL, OPT_TAMPER},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    char err[512];
    int c;

    o->max_skew = 300;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
        case OPT_TLS_LISTEN:
            if (o->n_listens == EMU_MAX_LISTENERS) {
                fprintf(stderr, "eic-emulator: at most %d --listen and --tls-listen addresses\n",
                        EMU_MAX_LISTENERS);
                return EINVAL;
            }
            if (emu_listen_parse(optarg, &o->listens[o->n_listens], err, sizeof(err)) != 0) {
                fprintf(stderr, "eic-emulator: %s\n", err);
                return EINVAL;
            }
            o->listens[o->n_listens].tls = c == OPT_TLS_LISTEN;
            o->n_tls_listens += c == OPT_TLS_LISTEN;
            o->n_listens++;
            break;
        case OPT_TLS_NAME:
            if (o->n_tls_names == MAX_TLS_NAMES) {
                fprintf(stderr, "eic-emulator: at most %d --tls-name options\n", MAX_TLS_NAMES);
                return EINVAL;
            }
            o->tls_names[o->n_tls_names++] = optarg;
            break;
        case OPT_READY:
            o->ready_file = optarg;
            break;
        case OPT_STATE:
            o->state_dir = optarg;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        case OPT_LIFETIME:
            if (parse_number("--key-lifetime", optarg, EMU_KEY_LIFETIME_MIN, EMU_KEY_LIFETIME_MAX,
                             &o->key_lifetime) != 0) {
                return EINVAL;
            }
            break;
        case OPT_LOG:
            o->log_file = optarg;
            break;
        case OPT_IMDSV1:
            o->imdsv1 = true;
            break;
        case OPT_SKEW:
            if (parse_number("--max-skew", optarg, 0, 7 * 24 * 3600, &o->max_skew) != 0) {
                return EINVAL;
            }
            break;
        case OPT_OCSP_FAULT:
            if (strcmp(optarg, "revoked") == 0) {
                o->pki.ocsp_fault = EMU_OCSP_REVOKED;
            } else if (strcmp(optarg, "missing") == 0) {
                o->pki.ocsp_fault = EMU_OCSP_MISSING;
            } else if (strcmp(optarg, "bad-signature") == 0) {
                o->pki.ocsp_fault = EMU_OCSP_BAD_SIGNATURE;
            } else {
                fprintf(stderr, "eic-emulator: --ocsp-fault '%s': expected revoked, missing or bad-signature\n",
                        optarg);
                return EINVAL;
            }
            break;
        case OPT_OCSP_TARGET:
            if (strcmp(optarg, "signer") == 0) {
                o->pki.ocsp_fault_target = EMU_OCSP_TARGET_SIGNER;
            } else if (strcmp(optarg, "intermediate") == 0) {
                o->pki.ocsp_fault_target = EMU_OCSP_TARGET_INTERMEDIATE;
            } else {
                fprintf(stderr, "eic-emulator: --ocsp-fault-target '%s': expected signer or intermediate\n",
                        optarg);
                return EINVAL;
            }
            break;
        case OPT_WRONG_CN:
            o->pki.wrong_signer_cn = 1;
            break;
        case OPT_TAMPER:
            o->tamper_records = true;
            break;
        case OPT_FAULT:
            if (o->n_faults == MAX_FAULTS) {
                fprintf(stderr, "eic-emulator: at most %d --fault options\n", MAX_FAULTS);
                return EINVAL;
            }
            if (emu_fault_parse(optarg, &o->faults[o->n_faults], err, sizeof(err)) != 0) {
                fprintf(stderr, "eic-emulator: %s\n", err);
                return EINVAL;
            }
            o->n_faults++;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eic-emulator: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EINVAL;
    }
    if (o->n_tls_names > 0 && o->n_tls_listens == 0) {
        fprintf(stderr, "eic-emulator: --tls-name without --tls-listen\n");
        return EINVAL;
    }
    if (o->n_listens == 0) {
        (void)emu_listen_parse(DEFAULT_LISTEN, &o->listens[0], err, sizeof(err));
        o->n_listens = 1;
    }
    return 0;
}

/* The default state directory; *buf is malloc'd when it had to be built. */
static const char *default_state_dir(char **buf)
{
    const char *home = getenv("HOME");

    *buf = NULL;
    if (geteuid() == 0 || home == NULL || home[0] != '/') {
        return "/var/lib/eic-emulator";
    }
    if (asprintf(buf, "%s/.eic-emulator", home) < 0) {
        *buf = NULL;
        return NULL;
    }
    return *buf;
}

/* names[*n] = the formatted name and one more in names, when names (EMU_TLS_MAX_NAMES) has room. */
static int __attribute__((format(printf, 3, 4))) add_tls_name(char **names, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int len;

    if (*n >= EMU_TLS_MAX_NAMES) {
        eic_log(LOG_ERR, "TLS: more than %d names for the certificate", EMU_TLS_MAX_NAMES);
        return ENOSPC;
    }
    va_start(ap, fmt);
    len = vasprintf(&names[*n], fmt, ap);
    va_end(ap);
    if (len < 0) {
        names[*n] = NULL;
        return ENOMEM;
    }
    (*n)++;
    return 0;
}

/* The TLS certificate's names without --tls-name: the host names of the services the emulator
 * serves (EC2, Instance Connect, STS regional and global) and of the world's Instance Connect
 * Endpoints, and the --tls-listen addresses but a wildcard one. names[0..*n) are malloc'd, also
 * when it fails (ENOMEM, or ENOSPC past EMU_TLS_MAX_NAMES). */
static int default_tls_names(const struct emu_world *w, const struct options *o, char **names, size_t *n)
{
    static const char *const services[] = {"ec2", "ec2-instance-connect", "sts"};
    int ret = 0;

    *n = 0;
    for (size_t i = 0; ret == 0 && i < sizeof(services) / sizeof(services[0]); i++) {
        ret = add_tls_name(names, n, "%s.%s.%s", services[i], w->region, w->domain);
    }
    ret = ret ? ret : add_tls_name(names, n, "sts.%s", w->domain);
    for (size_t i = 0; ret == 0 && i < w->n_endpoints; i++) {
        ret = add_tls_name(names, n, "%s", w->endpoints[i].dns_name);
        ret = ret ? ret : add_tls_name(names, n, "%s", w->endpoints[i].fips_dns_name);
    }
    for (size_t i = 0; ret == 0 && i < o->n_listens; i++) {
        const char *host = o->listens[i].host;

        if (!o->listens[i].tls || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0) {
            continue;
        }
        /* "[::1]" is written "::1" in a certificate. */
        ret = add_tls_name(names, n, "%.*s", (int)strlen(host) - (host[0] == '[' ? 2 : 0), host + (host[0] == '['));
    }
    return ret;
}

/* Write the listeners to FILE.tmp.PID, then rename: a reader sees the whole file or none. */
static int write_ready_file(const char *path, const struct emu_listen *listens, size_t n)
{
    char *tmp = NULL;
    FILE *f = NULL;
    int fd = -1;
    int ret = 0;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        return ENOMEM;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        ret = errno;
        goto done;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        ret = errno;
        close(fd);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s:%u\n", listens[i].tls ? "https://" : "", listens[i].host, listens[i].port);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        ret = errno;
    }
    if (fclose(f) != 0 && ret == 0) {
        ret = errno;
    }
    if (ret == 0 && rename(tmp, path) != 0) {
        ret = errno;
    }
done:
    if (ret != 0) {
        unlink(tmp);
    }
    free(tmp);
    return ret;
}

int main(int argc, char **argv)
{
    static struct options opts;   /* large (listen addresses, faults): not on the stack */
    struct emu_server srv;
    struct emu_world *world = NULL;
    struct emu_pki *pki = NULL;
    struct emu_record_store *store = NULL;
    struct emu_tokens *tokens = NULL;
    struct emu_sessions *sessions = NULL;
    struct emu_http *http = NULL;
    struct emu_tls_creds *tls = NULL;
    char *tls_names[EMU_TLS_MAX_NAMES] = {NULL};
    size_t n_tls_names = 0;
    bool srv_ready = false;
    char *state_buf = NULL;
    char err[1024];
    sigset_t stop_signals;
    int signo = 0;
    int status = 1;
    int ret;

    if (parse_options(argc, argv, &opts) != 0) {
        status = EXIT_USAGE;
        goto done;
    }
    /* With a log file the file gets everything; otherwise stderr (no syslog daemon is
     * needed to see what the emulator did). */
    ret = eic_log_open("eic-emulator", opts.log_file, opts.log_file == NULL ? EIC_LOG_STDERR : 0);
    if (ret != 0) {
        fprintf(stderr, "eic-emulator: --log-file %s: %s\n", opts.log_file, strerror(ret));
        status = EXIT_USAGE;
        goto done;
    }

    if (opts.config != NULL) {
        ret = emu_world_load(opts.config, &world, err, sizeof(err));
    } else {
        ret = emu_world_default(&world);
        snprintf(err, sizeof(err), "the embedded default world: %s", strerror(ret));
    }
    if (ret != 0) {
        fprintf(stderr, "eic-emulator: %s\n", err);
        eic_log(LOG_ERR, "%s", err);
        status = ret == ENOMEM ? 1 : EXIT_USAGE;
        goto done;
    }
    if (opts.key_lifetime != 0) {
        world->key_lifetime = opts.key_lifetime;
    }
    if (opts.imdsv1) {
        world->imdsv2_required = false;
    }

    opts.pki.state_dir = opts.state_dir ? opts.state_dir : default_state_dir(&state_buf);
    opts.pki.region = world->region;
    opts.pki.domain = world->domain;
    if (opts.pki.state_dir == NULL) {
        fprintf(stderr, "eic-emulator: out of memory\n");
        goto done;
    }
    ret = emu_pki_load(&opts.pki, &pki);
    if (ret != 0) {
        fprintf(stderr, "eic-emulator: cannot set up the PKI in %s: %s\n", opts.pki.state_dir, strerror(ret));
        goto done;
    }
    if (opts.n_tls_listens > 0) {
        if (opts.n_tls_names > 0) {
            ret = emu_pki_tls_load(opts.pki.state_dir, opts.tls_names, opts.n_tls_names, &tls);
        } else {
            ret = default_tls_names(world, &opts, tls_names, &n_tls_names);
            if (ret == 0) {
                ret = emu_pki_tls_load(opts.pki.state_dir, (const char *const *)tls_names, n_tls_names, &tls);
            }
        }
        if (ret != 0) {
            fprintf(stderr, "eic-emulator: cannot set up TLS (see the log): %s\n", strerror(ret));
            status = ret == EINVAL ? EXIT_USAGE : 1;
            goto done;
        }
    }
    ret = emu_record_store_new(&store);
    if (ret == 0) {
        ret = emu_tokens_new(&tokens);
    }
    if (ret == 0) {
        ret = emu_sessions_new(&sessions);
    }
    if (ret == 0) {
        ret = emu_push_init();
    }
    if (ret == 0) {
        ret = emu_server_init(&srv);
        srv_ready = ret == 0;
    }
    if (ret != 0) {
        fprintf(stderr, "eic-emulator: start-up failed: %s\n", strerror(ret));
        goto done;
    }
    srv.world = world;
    srv.pki = pki;
    srv.store = store;
    srv.tokens = tokens;
    srv.sessions = sessions;
    srv.max_skew = opts.max_skew;
    srv.tamper_records = opts.tamper_records;
    srv.faults = opts.faults;
    srv.n_faults = opts.n_faults;

    /* The stop signals are blocked before any thread exists, so every libmicrohttpd thread
     * inherits the mask and only sigwait() below receives them. SIGPIPE from a client that
     * went away must not kill the emulator. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    ret = emu_http_start(&srv, opts.listens, opts.n_listens, tls, &http);
    if (ret != 0) {
        fprintf(stderr, "eic-emulator: cannot listen (see the log): %s\n", strerror(ret));
        goto done;
    }

    emu_world_print(world, stdout);
    for (size_t i = 0; i < opts.n_listens; i++) {
        printf("listen:       %s%s:%u\n", opts.listens[i].tls ? "https://" : "", opts.listens[i].host,
               opts.listens[i].port);
    }
    printf("trust anchor: %s/ca.pem\n", opts.pki.state_dir);
    if (tls != NULL) {
        printf("TLS CA:       %s/tls-ca.pem (for --ca-bundle / AWS_CA_BUNDLE)\n", opts.pki.state_dir);
    }
    for (size_t i = 0; i < opts.n_faults; i++) {
        printf("fault:        %s%s %s", opts.faults[i].path, opts.faults[i].prefix ? "*" : "",
               emu_fault_kind_name(opts.faults[i].kind));
        if (opts.faults[i].kind == EMU_FAULT_DELAY || opts.faults[i].kind == EMU_FAULT_STATUS ||
            opts.faults[i].kind == EMU_FAULT_OVERSIZE || opts.faults[i].kind == EMU_FAULT_OVERSIZE_CHUNKED) {
            printf(":%ld", opts.faults[i].arg);
        }
        printf("\n");
    }
    fflush(stdout);

    if (opts.ready_file != NULL) {
        ret = write_ready_file(opts.ready_file, opts.listens, opts.n_listens);
        if (ret != 0) {
            fprintf(stderr, "eic-emulator: --ready-file %s: %s\n", opts.ready_file, strerror(ret));
            goto done;
        }
    }
    eic_log(LOG_INFO, "ready (world %s, instance %s)", world->source, world->instance_id);

    do {
        ret = sigwait(&stop_signals, &signo);
    } while (ret == EINTR);
    eic_log(LOG_INFO, "signal %d: stopping", signo);
    status = 0;
done:
    emu_http_stop(http);
    if (opts.ready_file != NULL && status == 0) {
        unlink(opts.ready_file);
    }
    if (srv_ready) {
        emu_server_destroy(&srv);
    }
    emu_push_cleanup();
    emu_tokens_free(tokens);
    emu_sessions_free(sessions);
    emu_record_store_free(store);
    emu_pki_free(pki);
    emu_pki_tls_free(tls);
    for (size_t i = 0; i < n_tls_names; i++) {
        free(tls_names[i]);
    }
    emu_world_free(world);
    for (size_t i = 0; i < opts.n_faults; i++) {
        emu_fault_clear(&opts.faults[i]);
    }
    free(state_buf);
    eic_log_close();
    return status;
}
