/* eic open-tunnel: a tunnel to a port of an instance's private address through an EC2 Instance
 * Connect Endpoint, as `aws ec2-instance-connect open-tunnel` (stdin/stdout mode, for OpenSSH's
 * ProxyCommand).
 *
 *   1. What is missing is looked up: the instance's private address, VPC and subnet
 *      (DescribeInstances), the endpoint (DescribeInstanceConnectEndpoints: create-complete, in
 *      the instance's VPC, its subnet preferred) and the endpoint's DNS name: its FipsDnsName
 *      when FIPS endpoints are asked for (endpoints.h). EC2's URL is endpoints.h's; --endpoint-url
 *      names the Instance Connect API, which this command does not call.
 *   2. The URL wss://DNSNAME/openTunnel?instanceConnectEndpointId=..&remotePort=..
 *      &privateIpAddress=..[&maxTunnelDuration=..] is presigned with SigV4 in the query
 *      (lib/aws/eic_sigv4.h; service ec2-instance-connect, 60 s). The tunnel always goes to the
 *      endpoint's own name on port 443, never to a configured API URL, and always over TLS: no
 *      setting makes it plaintext (the tests give the name the emulator's address in a namespace's
 *      /etc/hosts, and trust the emulator's CA as any CA bundle).
 *   3. TCP and TLS (the CA bundle as for https, the host name verified, SNI), the
 *      WebSocket handshake (RFC 6455 section 4; client/ws_client.c), then lib/aws/eic_tunnel.h
 *      relays stdin/stdout (or, with --local-port, each accepted connection).
 * An answer other than 101 is the service refusing: its JSON error is printed the AWS CLI's way. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "api.h"
#include "args.h"
#include "credentials.h"
#include "ec2.h"
#include "eic.h"
#include "eic_log.h"
#include "eic_sigv4.h"
#include "eic_tunnel.h"
#include "eic_ws.h"
#include "endpoints.h"
#include "ws_client.h"

#define CMD "open-tunnel"
#define TUNNEL_SERVICE "ec2-instance-connect"
#define PRESIGN_EXPIRES 60          /* as the AWS CLI presigns */
#define CONNECT_TIMEOUT_MS 10000
#define MAX_DURATION 3600
#define MAX_LOCAL_TUNNELS 64        /* --local-port: tunnels open at once */

static void help(FILE *out)
{
    fprintf(out,
            "usage: eic open-tunnel --instance-id ID [--instance-connect-endpoint-id EID]\n"
            "               [--instance-connect-endpoint-dns-name DNS] [--private-ip-address IP]\n"
            "               [--remote-port PORT] [--max-tunnel-duration SECONDS] [--region REGION]\n"
            "               [--local-port PORT] [--endpoint-url URL] [--profile PROFILE]\n"
            "               [--ca-bundle FILE] [--debug]\n"
            "\n"
            "Opens a tunnel to PORT (default 22) of the instance's private address through an EC2\n"
            "Instance Connect Endpoint and relays it to stdin/stdout, e.g. for OpenSSH:\n"
            "  ssh -o ProxyCommand='eic open-tunnel --instance-id i-0123456789abcdef0' ec2-user@i-0123...\n"
            "What is not given is looked up (DescribeInstances, DescribeInstanceConnectEndpoints: an\n"
            "endpoint in create-complete state in the instance's VPC, its subnet preferred).\n"
            "\n"
            "  --endpoint-url URL        the Instance Connect API's URL: unused here (EC2's is configured\n"
            "                            apart: AWS_ENDPOINT_URL_EC2, ...; eic(1)); the tunnel always goes\n"
            "                            to wss://DNS/openTunnel, DNS the endpoint's (FIPS) DNS name\n"
            "  --ca-bundle FILE          CA certificates for https and wss (else AWS_CA_BUNDLE, else\n"
            "                            the profile's ca_bundle, else the system's)\n"
            "  --max-tunnel-duration N   close the tunnel after N seconds (1..%d)\n"
            "  --local-port PORT         listen on 127.0.0.1:PORT instead, one tunnel per connection,\n"
            "                            until interrupted\n"
            "\n"
            "Exit status: 0 after the tunnel closed normally, 2 on a usage error, 253 without\n"
            "credentials or region, 254 when a service refuses (e.g. AccessDeniedException for the\n"
            "tunnel, no Instance Connect Endpoint in the instance's VPC), 255 for anything else.\n",
            MAX_DURATION);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static bool signalled(void *ctx)
{
    (void)ctx;
    return stop_signal != 0;
}

/* ---- the command ---- */

/* For eic ssh, which runs this as ssh's ProxyCommand and only sees ssh's status: "refused
 * HTTP-STATUS" in a file of its private directory (never following a link there). */
static void note_refusal(const char *path, int http_status)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    char line[32];
    int n;

    if (fd < 0) {
        return;
    }
    n = snprintf(line, sizeof(line), "refused %d\n", http_status);
    if (write(fd, line, (size_t)n) != n) {
        eic_log(LOG_DEBUG, "cannot write %s", path);
    }
    close(fd);
}

static bool valid_endpoint_id(const char *s)
{
    return strncmp(s, "eice-", 5) == 0 && strlen(s) >= 13 && strlen(s) <= 37 &&
           strspn(s + 5, "0123456789abcdef") == strlen(s + 5);
}

static bool valid_dns(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
}

static bool parse_long(const char *text, long min, long max, long *out)
{
    char *end;

    if (text[0] < '0' || text[0] > '9') {
        return false;
    }
    errno = 0;
    *out = strtol(text, &end, 10);
    return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

/* Everything a tunnel needs once the endpoint is known; each tunnel is presigned anew. */
struct tunnel_target {
    const char *host;          /* the endpoint's DNS name: wss://host/ (port 443), the Host header */
    const char *params;        /* the OpenTunnel parameters, encoded */
    const char *region;
    const char *profile;       /* --profile: creds are refreshed as they were resolved */
    struct eic_credentials *creds;
    const char *ca_bundle;
    const char *endpoint_id;
    const char *status_file;   /* NULL, or where a refusal is noted (eic ssh) */
};

/* One tunnel between the byte stream in/out (stdin/stdout, or an accepted socket twice) and the
 * endpoint. Returns the command's exit status. */
static int run_tunnel(const struct tunnel_target *t, int in, int out)
{
    char amz_date[EIC_SIGV4_AMZ_DATE_LEN + 1];
    struct eic_sigv4_scope scope = {amz_date, t->region, TUNNEL_SERVICE};
    struct eic_sigv4_presign presign = {
        .method = "GET", .host = t->host, .path = "/openTunnel", .query = t->params,
        .expires = PRESIGN_EXPIRES, .access_key_id = t->creds->access_key_id,
        .secret_access_key = t->creds->secret_access_key, .session_token = t->creds->session_token,
    };
    struct eic_ws_handshake hs = {0};
    struct eic_ws_client c = {.fd = -1};
    char *query = NULL, *path_query = NULL;
    char err[512] = "";
    int status = EIC_EXIT_OTHER;
    int ret;

    eic_sigv4_format_amz_date((long long)time(NULL), amz_date);
    ret = eic_sigv4_presign_query(&presign, &scope, &query);
    if (ret != 0 || asprintf(&path_query, "/openTunnel?%s", query) < 0) {
        path_query = NULL;
        fprintf(stderr, "eic: cannot presign the tunnel request: %s\n", strerror(ret ? ret : ENOMEM));
        goto done;
    }
    ret = eic_ws_client_connect(&c, t->host, t->ca_bundle, CONNECT_TIMEOUT_MS, err, sizeof(err));
    if (ret == 0) {
        ret = eic_ws_client_handshake(&c, t->host, path_query, &hs, err, sizeof(err));
    }
    if (ret != 0) {
        fprintf(stderr, "eic: Instance Connect Endpoint %s: %s\n", t->endpoint_id, err);
        goto done;
    }
    if (hs.status != 101) {
        fprintf(stderr, "\nAn error occurred (%s) when calling the OpenTunnel operation: %s\n",
                hs.error_type ? hs.error_type : "Unknown", hs.error_message ? hs.error_message : "(no message)");
        status = hs.status >= 400 && hs.status < 500 ? EIC_EXIT_SERVICE : EIC_EXIT_OTHER;
        if (t->status_file != NULL) {
            note_refusal(t->status_file, hs.status);
        }
        goto done;
    }
    eic_log(LOG_DEBUG, "tunnel open");
    {
        struct eic_tunnel_params tp = {
            .role = EIC_WS_CLIENT,
            .stream_in = in,
            .stream_out = out,
            .ws_early = hs.early,
            .ws_early_len = hs.early_len,
            .should_stop = signalled,
        };
        struct eic_tunnel_result tr;

        eic_ws_client_tunnel_conn(&c, &tp.ws);
        ret = eic_tunnel_run(&tp, &tr);
        eic_log(LOG_DEBUG, "tunnel closed: %llu bytes sent, %llu received: %s", (unsigned long long)tr.bytes_sent,
                (unsigned long long)tr.bytes_received, tr.reason);
        status = ret == 0 || ret == ECANCELED || ret == ETIMEDOUT ? EIC_EXIT_OK : EIC_EXIT_OTHER;
        if (status != EIC_EXIT_OK) {
            fprintf(stderr, "eic: the tunnel ended: %s\n", tr.reason);
        }
    }
done:
    eic_ws_client_close(&c);
    eic_ws_handshake_free(&hs);
    /* The presigned URL is a credential for 60 seconds. */
    if (query != NULL) {
        OPENSSL_cleanse(query, strlen(query));
    }
    if (path_query != NULL) {
        OPENSSL_cleanse(path_query, strlen(path_query));
    }
    free(query);
    free(path_query);
    return status;
}

/* --local-port: listen on 127.0.0.1:port and open one tunnel per accepted connection, each in a
 * child process, until SIGINT/SIGTERM/SIGHUP; then the children are told to close (SIGTERM) and
 * waited for. Returns the exit status. */
static int serve_local_port(const struct tunnel_target *t, unsigned int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pid_t kids[MAX_LOCAL_TUNNELS];
    size_t n_kids = 0;
    int one = 1;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "eic: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return EIC_EXIT_OTHER;
    }
    fprintf(stderr, "Listening for connections on port %u.\n", port);
    while (stop_signal == 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int conn;
        pid_t pid;

        /* Forget the children that ended. */
        for (size_t i = 0; i < n_kids;) {
            if (waitpid(kids[i], NULL, WNOHANG) == kids[i]) {
                kids[i] = kids[--n_kids];
            } else {
                i++;
            }
        }
        /* At the limit, connections wait in the backlog until a tunnel ends. */
        if (n_kids == MAX_LOCAL_TUNNELS || poll(&p, 1, 250) <= 0) {
            if (n_kids == MAX_LOCAL_TUNNELS) {
                poll(NULL, 0, 250);
            }
            continue;
        }
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            continue;
        }
        /* Refreshed here, not in the child, so that the next tunnels get them too. */
        if (eic_credentials_refresh(t->profile, t->creds) != EIC_EXIT_OK) {
            close(conn);
            continue;
        }
        pid = fork();
        if (pid == 0) {
            close(fd);
            _exit(run_tunnel(t, conn, conn));
        }
        if (pid > 0) {
            kids[n_kids++] = pid;
            eic_log(LOG_DEBUG, "connection to port %u: tunnel in process %ld", port, (long)pid);
        } else {
            fprintf(stderr, "eic: cannot start a tunnel: %s\n", strerror(errno));
        }
        close(conn);
    }
    close(fd);
    /* Each open tunnel is closed with a close frame (SIGTERM: should_stop), then waited for. */
    for (size_t i = 0; i < n_kids; i++) {
        kill(kids[i], SIGTERM);
    }
    for (size_t i = 0; i < n_kids; i++) {
        while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return EIC_EXIT_OK;
}

int eic_cmd_open_tunnel(int argc, char **argv)
{
    const char *instance_id = NULL, *endpoint_id = NULL, *dns_name = NULL, *private_ip = NULL, *port_arg = NULL;
    const char *duration_arg = NULL, *local_port = NULL, *region_arg = NULL, *endpoint = NULL, *profile = NULL;
    const char *status_file = NULL, *ca_bundle = NULL;
    bool want_help = false, debug = false;
    const struct eic_opt opts[] = {
        {"instance-id", &instance_id, NULL},
        {"instance-connect-endpoint-id", &endpoint_id, NULL},
        {"instance-connect-endpoint-dns-name", &dns_name, NULL},
        {"private-ip-address", &private_ip, NULL},
        {"remote-port", &port_arg, NULL},
        {"max-tunnel-duration", &duration_arg, NULL},
        {"local-port", &local_port, NULL},
        {"region", &region_arg, NULL},
        {"endpoint-url", &endpoint, NULL},
        {"profile", &profile, NULL},
        {"ca-bundle", &ca_bundle, NULL},
        {"debug", NULL, &debug},
        {"help", NULL, &want_help},
        {"status-file", &status_file, NULL}, /* eic ssh's: where a refusal is noted */
    };
    struct eic_credentials creds = {0};
    struct eic_instance_info info = {0};
    struct eic_endpoint_list endpoints = {0};
    struct eic_api_result result = {0};
    struct eic_api_call call = {0};
    struct tunnel_target target;
    struct sigaction stop = {.sa_handler = on_stop_signal}, ign = {.sa_handler = SIG_IGN};
    char *region = NULL, *params = NULL, *ec2_url = NULL;
    char *esc_ip = NULL, *bundle = NULL;
    long port = 22, duration = 0, listen_port = 0;
    unsigned char addr[sizeof(struct in6_addr)];
    int status;

    status = eic_args_parse(CMD, argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
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
    if (local_port != NULL && !parse_long(local_port, 1, 65535, &listen_port)) {
        return eic_usage_error(CMD, "argument --local-port: '%s' is not a port number (1..65535)", local_port);
    }
    if (port_arg != NULL && !parse_long(port_arg, 1, 65535, &port)) {
        return eic_usage_error(CMD, "argument --remote-port: '%s' is not a port number (1..65535)", port_arg);
    }
    if (duration_arg != NULL && !parse_long(duration_arg, 1, MAX_DURATION, &duration)) {
        return eic_usage_error(CMD, "argument --max-tunnel-duration: '%s' is not 1..%d seconds", duration_arg,
                               MAX_DURATION);
    }
    if (endpoint_id != NULL && !valid_endpoint_id(endpoint_id)) {
        return eic_usage_error(CMD, "argument --instance-connect-endpoint-id: '%s' is not an endpoint id (eice-...)",
                               endpoint_id);
    }
    if (dns_name != NULL && !valid_dns(dns_name)) {
        return eic_usage_error(CMD, "argument --instance-connect-endpoint-dns-name: '%s' is not a DNS name", dns_name);
    }
    if (private_ip != NULL && inet_pton(AF_INET, private_ip, addr) != 1 && inet_pton(AF_INET6, private_ip, addr) != 1) {
        return eic_usage_error(CMD, "argument --private-ip-address: '%s' is not an IP address", private_ip);
    }
    if (debug) {
        eic_log_set_level(LOG_DEBUG);
    }
    sigemptyset(&stop.sa_mask);
    sigemptyset(&ign.sa_mask);
    /* ssh ends its ProxyCommand with SIGHUP/SIGTERM: close the tunnel properly then. A reader
     * that went away is seen as EPIPE, not as a fatal signal. */
    sigaction(SIGHUP, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGPIPE, &ign, NULL);

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
    call.read_timeout_ms = 60000;
    call.ca_bundle = bundle;
    if (endpoint != NULL) {
        eic_log(LOG_DEBUG, "--endpoint-url %s: the Instance Connect API is not called by open-tunnel", endpoint);
    }
    status = eic_endpoint_for_call(&call, profile, NULL, &ec2_url);
    if (status != EIC_EXIT_OK) {
        goto done;
    }

    /* 1. What is missing. */
    if (private_ip == NULL || endpoint_id == NULL) {
        eic_ec2_describe_instance(&call, instance_id, &info, &result);
        status = eic_api_report(CMD, "DescribeInstances", &result);
        eic_api_result_free(&result);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        if (private_ip == NULL) {
            private_ip = info.private_ipv4;
        }
        if (private_ip == NULL) {
            fprintf(stderr, "eic: instance %s has no private IPv4 address\n", instance_id);
            status = EIC_EXIT_OTHER;
            goto done;
        }
    }
    if (endpoint_id == NULL || dns_name == NULL) {
        const struct eic_endpoint *chosen;

        status = eic_credentials_refresh(profile, &creds);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        eic_ec2_describe_endpoints(&call, endpoint_id, endpoint_id ? NULL : info.vpc_id, &endpoints, &result);
        status = eic_api_report(CMD, "DescribeInstanceConnectEndpoints", &result);
        eic_api_result_free(&result);
        if (status != EIC_EXIT_OK) {
            goto done;
        }
        chosen = endpoint_id != NULL ? (endpoints.n > 0 ? &endpoints.items[0] : NULL)
                                     : eic_endpoint_choose(&endpoints, info.vpc_id, info.subnet_id);
        if (chosen == NULL || chosen->dns_name == NULL) {
            fprintf(stderr, endpoint_id ? "eic: there is no available Instance Connect Endpoint %s\n"
                                        : "eic: there is no Instance Connect Endpoint in the VPC of %s (%s) in state "
                                          "create-complete\n",
                    endpoint_id ? endpoint_id : instance_id, info.vpc_id ? info.vpc_id : "VPC unknown");
            status = EIC_EXIT_SERVICE;
            goto done;
        }
        endpoint_id = chosen->id;
        if (dns_name == NULL) {
            dns_name = eic_endpoint_use_fips(profile) ? chosen->fips_dns_name : chosen->dns_name;
        }
        if (dns_name == NULL) {
            fprintf(stderr, "eic: the Instance Connect Endpoint %s has no %sDNS name\n", endpoint_id,
                    chosen->dns_name ? "FIPS " : "");
            status = EIC_EXIT_OTHER;
            goto done;
        }
    }
    eic_log(LOG_DEBUG, "tunnel to %s port %ld of %s through %s (%s)", private_ip, port, instance_id, endpoint_id,
            dns_name ? dns_name : "-");

    /* 2. The presigned URL. */
    esc_ip = curl_easy_escape(NULL, private_ip, 0);
    /* The parameters in the AWS CLI's order; maxTunnelDuration only when given. */
    if (esc_ip == NULL ||
        (duration > 0 ? asprintf(&params, "instanceConnectEndpointId=%s&remotePort=%ld&privateIpAddress=%s"
                                          "&maxTunnelDuration=%ld", endpoint_id, port, esc_ip, duration)
                      : asprintf(&params, "instanceConnectEndpointId=%s&remotePort=%ld&privateIpAddress=%s",
                                 endpoint_id, port, esc_ip)) < 0) {
        params = NULL;
        status = EIC_EXIT_OTHER;
        goto done;
    }
    eic_log(LOG_DEBUG, "wss://%s/openTunnel?%s", dns_name, params);
    target = (struct tunnel_target){
        .host = dns_name, .params = params, .region = region, .profile = profile, .creds = &creds,
        .ca_bundle = call.ca_bundle, .endpoint_id = endpoint_id, .status_file = status_file,
    };

    /* 3. Connect, upgrade, relay: stdin/stdout, or each connection to the local port. */
    if (local_port == NULL) {
        status = eic_credentials_refresh(profile, &creds);
        if (status == EIC_EXIT_OK) {
            status = run_tunnel(&target, STDIN_FILENO, STDOUT_FILENO);
        }
    } else {
        status = serve_local_port(&target, (unsigned int)listen_port);
    }
done:
    eic_endpoint_list_free(&endpoints);
    eic_instance_info_free(&info);
    eic_api_result_free(&result);
    eic_credentials_free(&creds);
    curl_free(esc_ip);
    free(params);
    free(ec2_url);
    free(region);
    free(bundle);
    return status;
}
