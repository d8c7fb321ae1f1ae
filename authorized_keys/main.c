/* eic-authorized-keys [-c CONFIG] [--] USER [FINGERPRINT]
 *
 * sshd's AuthorizedKeysCommand (AuthorizedKeysCommand /usr/libexec/eic/eic-authorized-keys -- %u %f;
 * the "--" because sshd expands %u after splitting the command line, so a directory-service name
 * starting with '-' would otherwise be read as an option): prints the EC2 Instance Connect keys
 * pushed for USER that pass every check of docs/PROTOCOL.md, one per line, and logs one line per
 * key printed.
 *
 * A thin client of eicd, which does the checks (eic_login_keys()): this program loads libc only,
 * sends one request over the service's socket and prints the answer. When no service answers on
 * the socket (a host without systemd, a stopped or crashed service) it runs, in its place,
 * eic-authorized-keys-verify from its own directory, which makes the same checks in its own
 * process, with what is left of the deadline. The whole run is bounded by deadline_ms.
 *
 * Exit status: 0 when the run completed (whether or not a key was printed: no key is not an error
 * to sshd); 1 when it could not (bad configuration, IMDS unreachable, untrusted signer, the
 * service refused) — sshd then uses nothing from it; 2 for a usage error. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akc_common.h"
#include "eic_config.h"
#include "eic_log.h"
#include "eic_metadata.h"
#include "eic_proto.h"
#include "eic_time.h"

#define VERIFY_PROGRAM "eic-authorized-keys-verify"

/* Run eic-authorized-keys-verify (beside this program: sshd has checked that its directory is
 * root's) with the same arguments and the time left. Returns only when it cannot be run. */
static void run_verify(const char *config_path, const char *user, const char *fingerprint, uint64_t deadline)
{
    char self[PATH_MAX];
    char path[PATH_MAX + sizeof(VERIFY_PROGRAM)];
    char left[32];
    const char *args[9];
    char *slash;
    ssize_t n;
    size_t i = 0;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || (size_t)n >= sizeof(self) - 1) {
        eic_log(LOG_ERR, "cannot find %s: /proc/self/exe: %s", VERIFY_PROGRAM, n < 0 ? strerror(errno) : "too long");
        return;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL) {
        return;
    }
    *slash = '\0';
    snprintf(path, sizeof(path), "%s/%s", self, VERIFY_PROGRAM);
    snprintf(left, sizeof(left), "%llu", (unsigned long long)eic_ms_left(deadline));
    args[i++] = path;
    args[i++] = "-c";
    args[i++] = config_path;
    args[i++] = "-d";
    args[i++] = left;
    args[i++] = "--";
    args[i++] = user;
    if (fingerprint != NULL) {
        args[i++] = fingerprint;
    }
    args[i] = NULL;
    eic_log_close();
    execv(path, (char *const *)args);
    eic_log_open("eic-authorized-keys", NULL, 0);
    eic_log(LOG_ERR, "cannot run %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    struct akc_args args;
    struct eic_config cfg;
    struct eic_proto_msg answer = {0};
    uint64_t deadline;
    int ret;
    int status;

    /* Zeroed, not defaulted: eic_config_load() fills in the defaults, and eic_config_free() must be
     * safe on every path. */
    memset(&cfg, 0, sizeof(cfg));
    status = akc_parse_args(argc, argv, false, &args);
    if (status >= 0) {
        goto done;
    }
    status = EXIT_FAILURE;
    if (akc_load_config(args.config_path, &cfg) != 0) {
        goto done;
    }
    deadline = eic_monotonic_ms() + (uint64_t)cfg.deadline_ms;
    /* Checked before any I/O: the name goes into a request and into log lines. */
    if (!eic_valid_login_name(args.user)) {
        eic_log(LOG_WARNING, "refusing lookup for an invalid user name");
        goto done;
    }

    {
        const char *fields[2] = {args.user, args.fingerprint != NULL ? args.fingerprint : ""};

        ret = eic_proto_call(cfg.service_socket, EIC_REQ_KEYS, fields, 2, deadline, &answer);
    }
    if (eic_proto_no_service(ret)) {
        eic_log(LOG_INFO, "eicd does not answer on %s (%s); checking without it", cfg.service_socket, strerror(ret));
        run_verify(args.config_path, args.user, args.fingerprint, deadline);
        goto done;
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "eicd on %s: %s; no EC2 Instance Connect key offered", cfg.service_socket, strerror(ret));
        goto done;
    }
    if (answer.code != 0) {
        /* The service logged why; its reason goes into this log too, for whoever reads sshd's. */
        eic_log(answer.code == EPERM ? LOG_ERR : LOG_INFO, "eicd: %s%s; no EC2 Instance Connect key offered",
                answer.n_fields > 0 ? answer.fields[0] : strerror(answer.code),
                answer.code == EPERM ? " (is this sshd's AuthorizedKeysCommandUser authorized_keys_user in eic.conf?)"
                                     : "");
        goto done;
    }
    if (answer.n_fields % EIC_KEY_FIELDS != 0) {
        eic_log(LOG_ERR, "eicd answered %zu fields, not keys; no EC2 Instance Connect key offered", answer.n_fields);
        goto done;
    }
    for (size_t i = 0; i < answer.n_fields; i += EIC_KEY_FIELDS) {
        char **k = answer.fields + i;

        if (akc_print_key(args.user, k[EIC_KEY_LINE], k[EIC_KEY_FINGERPRINT], k[EIC_KEY_CALLER],
                          k[EIC_KEY_REQUEST_ID]) != 0) {
            goto done;
        }
    }
    status = EXIT_SUCCESS;
done:
    eic_proto_msg_free(&answer);
    eic_config_free(&cfg);
    eic_log_close();
    return status;
}
