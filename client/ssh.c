/* eic ssh: log in to an instance with a key that lives for one login. DescribeInstances gives
 * the addresses and zone; an ephemeral ED25519 key (made by ssh-keygen in a private 0700
 * directory, removed afterwards whatever happens) or the user's own key is pushed with
 * SendSSHPublicKey; then OpenSSH runs (fork + exec, no shell) with IdentitiesOnly=yes and that key,
 * within the key's 60 seconds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addresses.h"
#include "api.h"
#include "args.h"
#include "credentials.h"
#include "ec2.h"
#include "eic_buf.h"
#include "eic.h"
#include "eic_json.h"
#include "eic_log.h"
#include "eic_util.h"
#include "endpoints.h"

#define CMD "ssh"
#define SSH_PROGRAM "/usr/bin/ssh"
#define SSH_KEYGEN_PROGRAM "/usr/bin/ssh-keygen"
#define PUSH_SERVICE "ec2-instance-connect"
#define PUSH_TARGET "AWSEC2InstanceConnectService.SendSSHPublicKey"
#define DEFAULT_OS_USER "ec2-user"
#define MAX_PUBLIC_KEY (16 * 1024)
#define MAX_SSH_ARGS 256
#define CONNECT_TIMEOUT_MS 10000
#define READ_TIMEOUT_MS 60000

/* Exit statuses of eic ssh besides those of eic.h; once OpenSSH has run, its own status. */
#define EIC_EXIT_NO_ADDRESS 250 /* the instance has no address the connection type may use */
#define EIC_EXIT_NO_ENDPOINT 252 /* no Instance Connect Endpoint (create-complete) in the instance's VPC */
#define EIC_EXIT_TUNNEL_REFUSED 249 /* the endpoint refused the tunnel (e.g. AccessDeniedException) */

static void help(FILE *out)
{
    fprintf(out,
            "usage: eic ssh --instance-id ID [--os-user USER] [--connection-type auto|direct|eice]\n"
            "               [--private-key-file PATH] [--region REGION] [--endpoint-url URL]\n"
            "               [--profile PROFILE] [--ca-bundle FILE] [--debug] [-- SSH ARGUMENTS...]\n"
            "\n"
            "Logs in to an EC2 instance with OpenSSH (" SSH_PROGRAM "): finds the instance's addresses\n"
            "and zone (EC2 DescribeInstances), pushes a public key for USER (EC2 Instance Connect\n"
            "SendSSHPublicKey; valid 60 seconds) and runs ssh with that key only (IdentitiesOnly=yes).\n"
            "Without --private-key-file the key is a new ED25519 key in a private temporary directory,\n"
            "removed when ssh ends (also when it fails).\n"
            "\n"
            "  --instance-id ID          the instance, e.g. i-0123456789abcdef0\n"
            "  --os-user USER            the account on the instance (default " DEFAULT_OS_USER ")\n"
            "  --connection-type TYPE    which address (a missing one: the next in the order):\n"
            "                              auto    public IPv4, else private IPv4 through an Instance\n"
            "                                      Connect Endpoint, else IPv6 (default)\n"
            "                              direct  public IPv4, else IPv6, else private IPv4, all direct\n"
            "                              eice    private IPv4 through an Instance Connect Endpoint\n"
            "                            (the tunnel: ssh's ProxyCommand runs `eic open-tunnel`)\n"
            "  --private-key-file PATH   use this private key (a path, not a file:// URI); its public\n"
            "                            half is derived with ssh-keygen -y\n"
            "  --region REGION           else AWS_REGION, AWS_DEFAULT_REGION, the profile's region\n"
            "  --endpoint-url URL        the Instance Connect API's URL (SendSSHPublicKey); EC2's is\n"
            "                            configured apart (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, the\n"
            "                            profile's services section or endpoint_url; eic(1))\n"
            "  --profile PROFILE         credentials and region from this profile\n"
            "  --ca-bundle FILE          CA certificates for https and the tunnel's wss (else\n"
            "                            AWS_CA_BUNDLE, else the profile's ca_bundle, else the system's)\n"
            "  --debug                   show each step on stderr\n"
            "  -- ARGS...                passed to ssh after USER@ADDRESS (options such as -p 2222,\n"
            "                            then a command)\n"
            "\n"
            "Exit status: ssh's own once it has run (ssh uses 255 for its errors); before that 2 on a\n"
            "usage error, 253 without credentials or region, 254 when a service refuses (AuthFailure,\n"
            "UnauthorizedOperation, AuthException, instance not found), %d when the instance has no\n"
            "address the connection type may use, %d when there is no Instance Connect Endpoint in\n"
            "the instance's VPC, %d when the endpoint refused the tunnel, 255 for anything else (a\n"
            "service unreachable, ssh-keygen or ssh not runnable).\n",
            EIC_EXIT_NO_ADDRESS, EIC_EXIT_NO_ENDPOINT, EIC_EXIT_TUNNEL_REFUSED);
}

/* Run argv[0] (an absolute path) with stdin from /dev/null; with out, its stdout (at most
 * max bytes, NUL-terminated) is returned there. Returns the exit status, or -1 (errno set)
 * when it could not run. */
static int run_capture(const char *const argv[], char **out, size_t max)
{
    int pipefd[2] = {-1, -1};
    struct eic_buf buf;
    pid_t pid;
    int status = -1;
    int saved;

    eic_buf_init(&buf, max);
    if (out != NULL) {
        *out = NULL;
        if (pipe2(pipefd, O_CLOEXEC) != 0) {
            return -1;
        }
    }
    pid = fork();
    if (pid < 0) {
        saved = errno;
        goto fail;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
            (out != NULL && dup2(pipefd[1], STDOUT_FILENO) < 0)) {
            _exit(127);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (out != NULL) {
        char chunk[4096];
        bool overflow = false;
        ssize_t n;

        close(pipefd[1]);
        pipefd[1] = -1;
        /* Read to the end even past the cap (discarding), so that the child never blocks on a
         * full pipe while we wait for it. */
        while ((n = eic_read_retry(pipefd[0], chunk, sizeof(chunk))) != 0) {
            if (n < 0) {
                overflow = true;
                break;
            }
            if (!overflow && eic_buf_append(&buf, chunk, (size_t)n) != 0) {
                overflow = true;
            }
        }
        if (overflow) {
            eic_buf_free(&buf);
            eic_buf_init(&buf, 0); /* the text is dropped; the status decides */
        }
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            saved = errno;
            goto fail;
        }
    }
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
    }
    if (out != NULL && eic_buf_append(&buf, "", 1) == 0) {
        *out = eic_buf_steal(&buf);
    }
    eic_buf_free(&buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
fail:
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
    }
    if (pipefd[1] >= 0) {
        close(pipefd[1]);
    }
    eic_buf_free(&buf);
    errno = saved;
    return -1;
}

/* The private directory: a fresh 0700 directory under $TMPDIR (or /tmp) holding the ephemeral
 * key (id_ed25519 and id_ed25519.pub) and, for a tunnel, the note `eic open-tunnel` leaves when
 * the endpoint refuses (tunnel-status). */
struct temp_key {
    char dir[PATH_MAX - 32]; /* room for "/id_ed25519.pub" in key and pub */
    char key[PATH_MAX];
    char pub[PATH_MAX];
    char status[PATH_MAX];
    bool made;
};

static void temp_key_remove(struct temp_key *k)
{
    if (!k->made) {
        return;
    }
    if (unlink(k->key) != 0 && errno != ENOENT) {
        fprintf(stderr, "eic: cannot remove %s: %s\n", k->key, strerror(errno));
    }
    if (unlink(k->pub) != 0 && errno != ENOENT) {
        fprintf(stderr, "eic: cannot remove %s: %s\n", k->pub, strerror(errno));
    }
    if (unlink(k->status) != 0 && errno != ENOENT) {
        fprintf(stderr, "eic: cannot remove %s: %s\n", k->status, strerror(errno));
    }
    if (rmdir(k->dir) != 0) {
        fprintf(stderr, "eic: cannot remove %s: %s\n", k->dir, strerror(errno));
    } else {
        eic_log(LOG_DEBUG, "removed the ephemeral key directory %s", k->dir);
    }
    k->made = false;
}

static int temp_dir_make(struct temp_key *k)
{
    const char *tmp = getenv("TMPDIR");
    int ret;

    if (tmp == NULL || tmp[0] != '/') {
        tmp = "/tmp";
    }
    if ((size_t)snprintf(k->dir, sizeof(k->dir), "%s/eic-ssh.XXXXXX", tmp) >= sizeof(k->dir)) {
        fprintf(stderr, "eic: TMPDIR %s is too long\n", tmp);
        return ENAMETOOLONG;
    }
    if (mkdtemp(k->dir) == NULL) {
        ret = errno;
        fprintf(stderr, "eic: cannot make a temporary directory under %s: %s\n", tmp, strerror(ret));
        return ret;
    }
    k->made = true;
    /* mkdtemp makes it 0700; a umask cannot widen that. */
    snprintf(k->key, sizeof(k->key), "%s/id_ed25519", k->dir);
    snprintf(k->pub, sizeof(k->pub), "%s/id_ed25519.pub", k->dir);
    snprintf(k->status, sizeof(k->status), "%s/tunnel-status", k->dir);
    return 0;
}

static int temp_key_make(struct temp_key *k, char **public_key)
{
    size_t len = 0;
    int ret = k->made ? 0 : temp_dir_make(k);

    if (ret != 0) {
        return ret;
    }
    {
        const char *const argv[] = {SSH_KEYGEN_PROGRAM, "-q", "-t", "ed25519", "-N", "", "-C", "eic-ephemeral",
                                    "-f", k->key, NULL};
        int status = run_capture(argv, NULL, 0);

        if (status != 0) {
            fprintf(stderr, "eic: %s could not make a key (%s)\n", SSH_KEYGEN_PROGRAM,
                    status < 0 ? strerror(errno) : "it failed");
            return EIO;
        }
    }
    ret = eic_read_file(k->pub, 0, MAX_PUBLIC_KEY, public_key, &len);
    if (ret != 0) {
        fprintf(stderr, "eic: cannot read %s: %s\n", k->pub, strerror(ret));
    }
    eic_log(LOG_DEBUG, "ephemeral ED25519 key in %s", k->dir);
    return ret;
}

/* The public half of the user's private key, from ssh-keygen -y (no passphrase prompt: -P ""). */
static int public_key_of(const char *path, char **public_key)
{
    const char *const argv[] = {SSH_KEYGEN_PROGRAM, "-y", "-P", "", "-f", path, NULL};
    struct stat st;
    int status;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "eic: --private-key-file %s: %s\n", path, strerror(errno));
        return ENOENT;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "eic: --private-key-file %s: not a regular file\n", path);
        return ENOENT;
    }
    status = run_capture(argv, public_key, MAX_PUBLIC_KEY);
    if (status != 0 || *public_key == NULL || strncmp(*public_key, "ssh-", 4) != 0) {
        fprintf(stderr, "eic: cannot derive the public key of %s with ssh-keygen -y (is it a private key without a "
                        "passphrase?)\n", path);
        free(*public_key);
        *public_key = NULL;
        return EINVAL;
    }
    (*public_key)[strcspn(*public_key, "\n")] = '\0';
    return 0;
}

/* SIGTERM/SIGHUP are forwarded to ssh while it runs (kill(2) is async-signal-safe), so that eic
 * stays to remove the key directory. */
static volatile sig_atomic_t ssh_pid;

static void on_signal(int sig)
{
    if (ssh_pid > 0) {
        kill((pid_t)ssh_pid, sig);
    }
}

/* fork + exec ssh and wait for it; SIGINT/SIGQUIT are ssh's business (eic ignores them, as
 * system(3) does); SIGTERM/SIGHUP are passed on to it. Returns ssh's exit status (128 + signal
 * when it was killed), or EIC_EXIT_OTHER when it could not run. */
static int run_ssh(char *const argv[])
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = on_signal};
    struct sigaction old_int, old_quit, old_term, old_hup;
    sigset_t forwarded, old_mask;
    int exec_pipe[2];
    int exec_errno = 0;
    pid_t pid;
    int status = 0;
    int ret;

    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    sigaction(SIGTERM, &fwd, &old_term);
    sigaction(SIGHUP, &fwd, &old_hup);
    fflush(NULL);
    /* exec failure is told through a close-on-exec pipe: ssh's own 127 (a remote command not
     * found) must not be mistaken for it. */
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "eic: cannot start %s: %s\n", argv[0], strerror(errno));
        ret = EIC_EXIT_OTHER;
        goto done;
    }
    /* Held back until ssh_pid is known, so that none is lost between fork and then. */
    sigemptyset(&forwarded);
    sigaddset(&forwarded, SIGTERM);
    sigaddset(&forwarded, SIGHUP);
    sigprocmask(SIG_BLOCK, &forwarded, &old_mask);
    pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        execv(argv[0], argv);
        exec_errno = errno;
        if (write(exec_pipe[1], &exec_errno, sizeof(exec_errno)) < 0) {
            _exit(127);
        }
        _exit(127);
    }
    close(exec_pipe[1]);
    if (pid < 0) {
        fprintf(stderr, "eic: cannot start %s: %s\n", argv[0], strerror(errno));
        close(exec_pipe[0]);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        ret = EIC_EXIT_OTHER;
        goto done;
    }
    ssh_pid = pid;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    while (read(exec_pipe[0], &exec_errno, sizeof(exec_errno)) < 0 && errno == EINTR) {
    }
    close(exec_pipe[0]);
    while (waitpid(pid, &status, 0) != pid) {
        if (errno != EINTR) {
            fprintf(stderr, "eic: waiting for %s: %s\n", argv[0], strerror(errno));
            status = 255 << 8;
            break;
        }
    }
    sigprocmask(SIG_BLOCK, &forwarded, NULL);
    ssh_pid = 0;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    if (exec_errno != 0) {
        fprintf(stderr, "eic: cannot run %s: %s\n", argv[0], strerror(exec_errno));
        ret = EIC_EXIT_OTHER;
    } else if (WIFEXITED(status)) {
        ret = WEXITSTATUS(status);
    } else {
        ret = 128 + WTERMSIG(status);
    }
    eic_log(LOG_DEBUG, "%s ended with status %d", argv[0], ret);
done:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return ret;
}

/* "ProxyCommand=<this program> open-tunnel ..." for the endpoint: every value goes through
 * eic_proxy_word (ssh's %-expansion, then /bin/sh), the remote port is ssh's own %p. */
static int proxy_command(const char *instance_id, const struct eic_endpoint *eice, const char *dns_name,
                         const char *address, const char *region, const char *profile, const char *ca_bundle,
                         const char *status_file, bool debug, char **out)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct eic_buf cmd;
    int ret;

    *out = NULL;
    if (n <= 0 || (size_t)n >= sizeof(self) - 1) {
        return n < 0 ? errno : ENAMETOOLONG;
    }
    self[n] = '\0';
    eic_buf_init(&cmd, 64 * 1024);
    ret = eic_proxy_word(&cmd, self);
    {
        const char *const words[] = {
            "open-tunnel", "--instance-id", instance_id, "--instance-connect-endpoint-id", eice->id,
            "--instance-connect-endpoint-dns-name", dns_name, "--private-ip-address", address,
            "--region", region, "--status-file", status_file,
        };

        for (size_t i = 0; ret == 0 && i < sizeof(words) / sizeof(words[0]); i++) {
            ret = eic_proxy_word(&cmd, words[i]);
        }
    }
    if (ret == 0 && profile != NULL) {
        ret = eic_proxy_word(&cmd, "--profile");
        if (ret == 0) {
            ret = eic_proxy_word(&cmd, profile);
        }
    }
    /* The bundle as resolved here, so that the tunnel verifies against the same CAs. */
    if (ret == 0 && ca_bundle != NULL) {
        ret = eic_proxy_word(&cmd, "--ca-bundle");
        if (ret == 0) {
            ret = eic_proxy_word(&cmd, ca_bundle);
        }
    }
    if (ret == 0 && debug) {
        ret = eic_proxy_word(&cmd, "--debug");
    }
    if (ret == 0) {
        ret = eic_buf_append_str(&cmd, " --remote-port %p");
    }
    if (ret == 0 && asprintf(out, "ProxyCommand=%s", cmd.data) < 0) {
        *out = NULL;
        ret = ENOMEM;
    }
    eic_buf_free(&cmd);
    return ret;
}

int eic_cmd_ssh(int argc, char **argv)
{
    const char *instance_id = NULL, *os_user = NULL, *conn_arg = NULL, *key_file = NULL, *region_arg = NULL;
    const char *endpoint = NULL, *profile = NULL, *ca_bundle = NULL;
    bool want_help = false, debug = false;
    const struct eic_opt opts[] = {
        {"instance-id", &instance_id, NULL},
        {"os-user", &os_user, NULL},
        {"connection-type", &conn_arg, NULL},
        {"private-key-file", &key_file, NULL},
        {"region", &region_arg, NULL},
        {"endpoint-url", &endpoint, NULL},
        {"profile", &profile, NULL},
        {"ca-bundle", &ca_bundle, NULL},
        {"debug", NULL, &debug},
        {"help", NULL, &want_help},
    };
    enum eic_conn_type conn = EIC_CONN_AUTO;
    struct eic_credentials creds = {0};
    struct eic_instance_info info = {0};
    struct eic_api_result result = {0};
    struct eic_api_call call = {0};
    struct temp_key tkey = {0};
    struct eic_addresses addrs;
    struct eic_route route;
    struct eic_endpoint_list endpoints = {0};
    const struct eic_endpoint *eice = NULL;
    char *proxy = NULL;
    const char *ssh_argv[MAX_SSH_ARGS + 10]; /* ssh, 2 -o pairs, -i KEY, destination, NULL */
    char *region = NULL, *public_key = NULL, *body = NULL, *destination = NULL, *ec2_url = NULL, *push_url = NULL;
    char *bundle = NULL;
    const char *dns_name = NULL;
    const char *key_path;
    int n_opts_argc = argc, extra = 0;
    int status;
    int ret;

    /* Everything after "--" is ssh's. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            n_opts_argc = i;
            extra = argc - i - 1;
            break;
        }
    }
    status = eic_args_parse(CMD, n_opts_argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (status != 0) {
        return status;
    }
    if (want_help) {
        help(stdout);
        return EIC_EXIT_OK;
    }
    if (eic_ca_bundle_option(ca_bundle) != 0) {
        fprintf(stderr, "eic: out of memory\n");
        return EIC_EXIT_OTHER;
    }
    if (instance_id == NULL) {
        return eic_usage_error(CMD, "the following arguments are required: --instance-id");
    }
    if (os_user == NULL) {
        os_user = DEFAULT_OS_USER;
    }
    if (os_user[0] == '\0' || os_user[0] == '-') {
        return eic_usage_error(CMD, "argument --os-user: '%s' is not an account name", os_user);
    }
    if (conn_arg != NULL && eic_conn_type_parse(conn_arg, &conn) != 0) {
        return eic_usage_error(CMD, "argument --connection-type: Invalid choice: '%s' (choose from 'auto', "
                                    "'direct', 'eice')", conn_arg);
    }
    if (key_file != NULL && (strncmp(key_file, "file://", 7) == 0 || strncmp(key_file, "fileb://", 8) == 0)) {
        return eic_usage_error(CMD, "argument --private-key-file: takes a path, not a URI: use '%s' instead of "
                                    "'%s'", strchr(key_file, '/') + 2, key_file);
    }
    if (extra > MAX_SSH_ARGS) {
        return eic_usage_error(CMD, "more than %d arguments for ssh", MAX_SSH_ARGS);
    }
    if (debug) {
        eic_log_set_level(LOG_DEBUG);
    }
    status = eic_region_and_credentials_resolve(region_arg, profile, NULL, &region, &creds);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    if (eic_ca_bundle_resolve(ca_bundle, profile, &bundle) != 0) {
        fprintf(stderr, "eic: out of memory\n");
        status = EIC_EXIT_OTHER;
        goto done;
    }
    call.service = EIC_SERVICE_EC2;
    call.region = region;
    call.credentials = &creds;
    call.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    call.read_timeout_ms = READ_TIMEOUT_MS;
    call.ca_bundle = bundle;
    status = eic_endpoint_for_call(&call, profile, NULL, &ec2_url);
    if (status != EIC_EXIT_OK) {
        goto done;
    }

    /* 1. Where the instance is. */
    eic_log(LOG_DEBUG, "step 1: DescribeInstances %s", instance_id);
    eic_ec2_describe_instance(&call, instance_id, &info, &result);
    status = eic_api_report(CMD, "DescribeInstances", &result);
    eic_api_result_free(&result);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    eic_log(LOG_DEBUG, "instance %s: zone %s, public IPv4 %s, private IPv4 %s, IPv6 %s", instance_id,
            info.zone ? info.zone : "-", info.public_ipv4 ? info.public_ipv4 : "-",
            info.private_ipv4 ? info.private_ipv4 : "-", info.ipv6 ? info.ipv6 : "-");
    addrs.public_ipv4 = info.public_ipv4;
    addrs.private_ipv4 = info.private_ipv4;
    addrs.ipv6 = info.ipv6;
    if (eic_route_choose(conn, &addrs, &route) != 0) {
        fprintf(stderr, "eic: instance %s has no address for --connection-type %s (public IPv4: %s, private IPv4: "
                        "%s, IPv6: %s)\n", instance_id, eic_conn_type_name(conn), info.public_ipv4 ? "yes" : "no",
                info.private_ipv4 ? "yes" : "no", info.ipv6 ? "yes" : "no");
        status = EIC_EXIT_NO_ADDRESS;
        goto done;
    }
    eic_log(LOG_DEBUG, "step 2: connection type %s chooses the %s %s%s", eic_conn_type_name(conn),
            eic_addr_kind_name(route.kind), route.address, route.via_eice ? " through an Instance Connect Endpoint"
                                                                           : " (direct)");
    if (route.via_eice) {
        /* 2b. The endpoint, chosen as `eic open-tunnel` would; found here so that "none" is a
         * clear error before a key is pushed, and handed to it so it needs no API call. */
        status = eic_credentials_refresh(profile, &creds);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        eic_ec2_describe_endpoints(&call, NULL, info.vpc_id, &endpoints, &result);
        status = eic_api_report(CMD, "DescribeInstanceConnectEndpoints", &result);
        eic_api_result_free(&result);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        eice = info.vpc_id ? eic_endpoint_choose(&endpoints, info.vpc_id, info.subnet_id) : NULL;
        if (eice == NULL) {
            fprintf(stderr, "eic: there is no Instance Connect Endpoint in the VPC of instance %s (%s) in state "
                            "create-complete: create one, or use --connection-type direct if %s is reachable from "
                            "here\n", instance_id, info.vpc_id ? info.vpc_id : "VPC unknown", route.address);
            status = EIC_EXIT_NO_ENDPOINT;
            goto done;
        }
        /* The tunnel goes to the endpoint's own name: its FIPS one when FIPS is asked for. */
        dns_name = eic_endpoint_use_fips(profile) ? eice->fips_dns_name : eice->dns_name;
        if (dns_name == NULL) {
            fprintf(stderr, "eic: the Instance Connect Endpoint %s has no %sDNS name\n", eice->id,
                    eice->dns_name ? "FIPS " : "");
            status = EIC_EXIT_OTHER;
            goto done;
        }
        eic_log(LOG_DEBUG, "step 2b: Instance Connect Endpoint %s (%s, %s)", eice->id,
                eice->subnet_id ? eice->subnet_id : "-", dns_name);
        /* Its directory receives the refusal note of `eic open-tunnel`. */
        if (temp_dir_make(&tkey) != 0) {
            status = EIC_EXIT_OTHER;
            goto done;
        }
        ret = proxy_command(instance_id, eice, dns_name, route.address, region, profile, bundle, tkey.status, debug,
                            &proxy);
        if (ret != 0) {
            fprintf(stderr, "eic: cannot build the ProxyCommand: %s\n", strerror(ret));
            status = EIC_EXIT_OTHER;
            goto done;
        }
    }

    /* 3. The key. */
    if (key_file != NULL) {
        eic_log(LOG_DEBUG, "step 3: public key of %s", key_file);
        ret = public_key_of(key_file, &public_key);
        key_path = key_file;
    } else {
        eic_log(LOG_DEBUG, "step 3: ephemeral key");
        ret = temp_key_make(&tkey, &public_key);
        key_path = tkey.key;
    }
    if (ret != 0) {
        status = ret == ENOENT || ret == EINVAL ? EIC_EXIT_USAGE : EIC_EXIT_OTHER;
        goto done;
    }

    /* 4. Push it. */
    body = eic_send_key_request_body(instance_id, os_user, public_key, info.zone);
    if (body == NULL) {
        fprintf(stderr, "out of memory\n");
        status = EIC_EXIT_OTHER;
        goto done;
    }
    eic_log(LOG_DEBUG, "step 4: SendSSHPublicKey for %s", os_user);
    status = eic_credentials_refresh(profile, &creds); /* ssh-keygen, or a slow answer, may have taken long */
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    call.service = PUSH_SERVICE;
    call.target = PUSH_TARGET;
    call.body = body;
    status = eic_endpoint_for_call(&call, profile, endpoint, &push_url);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    eic_api_invoke(&call, &result);
    status = eic_api_report(CMD, "SendSSHPublicKey", &result);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    {
        const char *request_id = result.answer ? eic_json_get_string(result.answer, "RequestId") : NULL;

        eic_log(LOG_DEBUG, "pushed, request id %s; the key is valid for 60 seconds", request_id ? request_id : "?");
    }

    /* 5. OpenSSH. */
    if (asprintf(&destination, "%s@%s", os_user, route.address) < 0) {
        destination = NULL;
        fprintf(stderr, "out of memory\n");
        status = EIC_EXIT_OTHER;
        goto done;
    }
    {
        size_t n = 0;

        ssh_argv[n++] = SSH_PROGRAM;
        ssh_argv[n++] = "-o";
        ssh_argv[n++] = "IdentitiesOnly=yes";
        if (proxy != NULL) {
            ssh_argv[n++] = "-o";
            ssh_argv[n++] = proxy;
        }
        ssh_argv[n++] = "-i";
        ssh_argv[n++] = key_path;
        ssh_argv[n++] = destination;
        for (int i = 0; i < extra; i++) {
            ssh_argv[n++] = argv[n_opts_argc + 1 + i];
        }
        ssh_argv[n] = NULL;
        if (debug) {
            struct eic_buf line;

            eic_buf_init(&line, 64 * 1024);
            for (size_t i = 0; i < n && eic_buf_printf(&line, "%s%s", i ? " " : "", ssh_argv[i]) == 0; i++) {
            }
            eic_log(LOG_DEBUG, "step 5: %s", line.data ? line.data : SSH_PROGRAM);
            eic_buf_free(&line);
        }
    }
    status = run_ssh((char *const *)ssh_argv);
    if (proxy != NULL && status == 255 && access(tkey.status, F_OK) == 0) {
        /* ssh only says that its ProxyCommand failed; eic open-tunnel printed the service's error. */
        fprintf(stderr, "eic: the Instance Connect Endpoint %s refused the tunnel (see the error above)\n", eice->id);
        status = EIC_EXIT_TUNNEL_REFUSED;
    }
done:
    temp_key_remove(&tkey);
    eic_api_result_free(&result);
    eic_instance_info_free(&info);
    eic_credentials_free(&creds);
    free(region);
    free(ec2_url);
    free(push_url);
    free(bundle);
    free(public_key);
    free(body);
    free(destination);
    free(proxy);
    eic_endpoint_list_free(&endpoints);
    return status;
}
