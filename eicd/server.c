/* eicd: the listening socket and the clients.
 *
 * The socket is systemd's (socket activation: LISTEN_PID/LISTEN_FDS, fd 3, eic.socket) or, with
 * --foreground, one this process makes: a UNIX stream socket, mode 0666 in a root-owned 0755
 * directory. Everyone may connect; what a caller may ask is decided from its credentials
 * (handlers.c), as SSSD's nss pipe does.
 *
 * One detached thread per client, which reads one request within EICD_IO_TIMEOUT_MS, answers and
 * closes: a slow or stuck client holds only its own thread, never the accept loop or another
 * client. Limits: EICD_MAX_CLIENTS threads in all and EICD_MAX_CLIENTS_PER_USER for any one uid
 * other than root's and the AKC user's, so no local user can take every thread and slow a root
 * login; a client over a limit is closed at once, with a log line. */
#include "eicd.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "eic_config.h"
#include "eic_log.h"
#include "eic_time.h"

#define SD_LISTEN_FDS_START 3

struct client {
    int fd;
    struct ucred cred;
    bool privileged;
    const char *config_path;
};

static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clients_done = PTHREAD_COND_INITIALIZER;
static size_t n_clients;
static uint64_t last_client_ms;
/* Threads per unprivileged uid: at most EICD_MAX_CLIENTS uids have any, so a scan is cheap. */
static struct {
    uid_t uid;
    size_t n;
} per_uid[EICD_MAX_CLIENTS];
/* Root and the AuthorizedKeysCommandUser (its uid as the configuration named it at start or at the
 * last SIGHUP) are limited by the total only. What a caller may ask is decided per request. */
static uid_t admitted_akc_uid = 0;

/* The count of uid's threads (a free entry when it has none). */
static size_t *uid_count(uid_t uid)
{
    size_t *free_entry = NULL;

    for (size_t i = 0; i < EICD_MAX_CLIENTS; i++) {
        if (per_uid[i].n > 0 && per_uid[i].uid == uid) {
            return &per_uid[i].n;
        }
        if (per_uid[i].n == 0 && free_entry == NULL) {
            per_uid[i].uid = uid;
            free_entry = &per_uid[i].n;
        }
    }
    return free_entry; /* never NULL: fewer than EICD_MAX_CLIENTS clients hold an entry */
}

static bool privileged_uid(uid_t uid)
{
    return uid == 0 || uid == admitted_akc_uid;
}

/* Take a place for a client of uid (privileged: root or the AKC user). False when over a limit. */
static bool client_admit(uid_t uid, bool privileged)
{
    bool ok = false;

    pthread_mutex_lock(&clients_lock);
    if (n_clients < EICD_MAX_CLIENTS) {
        size_t *n = privileged ? NULL : uid_count(uid);

        if (n == NULL || *n < EICD_MAX_CLIENTS_PER_USER) {
            if (n != NULL) {
                (*n)++;
            }
            n_clients++;
            ok = true;
        }
    }
    last_client_ms = eic_monotonic_ms();
    pthread_mutex_unlock(&clients_lock);
    return ok;
}

static void client_leave(uid_t uid, bool privileged)
{
    pthread_mutex_lock(&clients_lock);
    if (!privileged) {
        (*uid_count(uid))--;
    }
    n_clients--;
    last_client_ms = eic_monotonic_ms();
    pthread_cond_broadcast(&clients_done);
    pthread_mutex_unlock(&clients_lock);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    uint8_t *req = NULL;
    uint8_t *resp = NULL;
    size_t req_len = 0;
    size_t resp_len = 0;
    int ret;

    ret = eic_proto_recv(c->fd, EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + EICD_IO_TIMEOUT_MS, &req, &req_len);
    if (ret != 0) {
        eic_log(ret == ECONNRESET ? LOG_DEBUG : LOG_NOTICE, "client pid %ld uid %lu dropped: %s",
                (long)c->cred.pid, (unsigned long)c->cred.uid,
                ret == ETIMEDOUT ? "no whole request in time" : ret == EMSGSIZE ? "request too large"
                : ret == EBADMSG ? "malformed request" : strerror(ret));
        goto done;
    }
    ret = eicd_handle(c->config_path, c->cred.uid, c->cred.pid, req, req_len, &resp, &resp_len);
    if (ret != 0) {
        eic_log(LOG_NOTICE, "client pid %ld uid %lu dropped: %s", (long)c->cred.pid, (unsigned long)c->cred.uid,
                ret == EBADMSG ? "malformed request" : strerror(ret));
        goto done;
    }
    ret = eic_proto_send(c->fd, resp, resp_len, eic_monotonic_ms() + EICD_IO_TIMEOUT_MS);
    if (ret != 0) {
        eic_log(LOG_NOTICE, "client pid %ld uid %lu did not take its answer: %s", (long)c->cred.pid,
                (unsigned long)c->cred.uid, strerror(ret));
    }
done:
    close(c->fd);
    client_leave(c->cred.uid, c->privileged);
    free(req);
    free(resp);
    free(c);
    return NULL;
}

static void accept_client(int listen_fd, const char *config_path)
{
    struct client *c = NULL;
    socklen_t len = sizeof(struct ucred);
    pthread_attr_t attr;
    pthread_t tid;
    int fd;

    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            eic_log(LOG_ERR, "accept: %s", strerror(errno));
            (void)poll(NULL, 0, 100); /* EMFILE and the like: do not spin */
        }
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) != 0) {
        eic_log(LOG_ERR, "client without credentials: %s", strerror(c == NULL ? ENOMEM : errno));
        goto fail;
    }
    c->fd = fd;
    c->config_path = config_path;
    c->privileged = privileged_uid(c->cred.uid);
    if (!client_admit(c->cred.uid, c->privileged)) {
        eic_log(LOG_WARNING, "client pid %ld uid %lu refused: too many clients%s", (long)c->cred.pid,
                (unsigned long)c->cred.uid, c->privileged ? "" : " of that user");
        goto fail;
    }
    if (pthread_attr_init(&attr) != 0) {
        client_leave(c->cred.uid, c->privileged);
        goto fail;
    }
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    (void)pthread_attr_setstacksize(&attr, 1024 * 1024); /* OpenSSL and libcurl, with room to spare */
    if (pthread_create(&tid, &attr, client_main, c) != 0) {
        pthread_attr_destroy(&attr);
        eic_log(LOG_ERR, "cannot start a thread for client pid %ld", (long)c->cred.pid);
        client_leave(c->cred.uid, c->privileged);
        goto fail;
    }
    pthread_attr_destroy(&attr);
    return;
fail:
    close(fd);
    free(c);
}

/* SIGHUP: the AuthorizedKeysCommandUser may have changed (every request reads the configuration
 * anyway; only the limits above need its uid ahead of time). */
static void reload_akc_uid(const char *config_path)
{
    struct eic_config cfg;
    char err[512];
    int ret;

    ret = eic_config_load(config_path, 0, &cfg, err, sizeof(err));
    if (ret == 0 || ret == ENOENT) {
        admitted_akc_uid = eicd_akc_uid(&cfg);
        eic_log(LOG_INFO, "configuration read again: authorized_keys_user %s", cfg.authorized_keys_user);
    } else {
        eic_log(LOG_ERR, "%s", err[0] != '\0' ? err : strerror(ret));
    }
    eic_config_free(&cfg);
}

/* systemd's socket (sd_listen_fds(3), without libsystemd): LISTEN_PID must be ours and
 * LISTEN_FDS 1. Returns the fd, or -1 when not socket-activated. */
static int activated_socket(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    struct stat st;
    char *end;
    long v;

    if (pid == NULL || fds == NULL) {
        return -1;
    }
    errno = 0;
    v = strtol(pid, &end, 10);
    if (errno != 0 || *end != '\0' || v != (long)getpid() || strcmp(fds, "1") != 0) {
        return -1;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (fstat(SD_LISTEN_FDS_START, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return -1;
    }
    return SD_LISTEN_FDS_START;
}

/* Our own socket at path: its directory is made root-owned 0755 if missing (and must be root's
 * and not group/world-writable, or someone could swap the socket); a stale socket is replaced. */
static int own_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char dir[sizeof(sa.sun_path)];
    struct stat st;
    char *slash;
    int fd;

    if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
        eic_log(LOG_ERR, "socket path %s: not absolute or too long", path);
        return -1;
    }
    memcpy(dir, path, strlen(path) + 1);
    slash = strrchr(dir, '/');
    *(slash == dir ? slash + 1 : slash) = '\0';
    (void)mkdir(dir, 0755);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
        eic_log(LOG_ERR, "socket directory %s must be a directory of root's, not group/world-writable", dir);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        eic_log(LOG_ERR, "socket: %s", strerror(errno));
        return -1;
    }
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        /* A socket someone still listens on is another eicd's: never take it from under it. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
            eic_log(LOG_ERR, "another eicd listens on %s already", path);
            close(fd);
            return -1;
        }
        close(fd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            eic_log(LOG_ERR, "socket: %s", strerror(errno));
            return -1;
        }
        (void)unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0666) != 0 || listen(fd, 128) != 0) {
        eic_log(LOG_ERR, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int eicd_serve(const struct eicd_options *opt)
{
    struct eic_config cfg;
    sigset_t mask;
    struct pollfd p[2];
    char err[512];
    int listen_fd = -1;
    int sig_fd = -1;
    int status = EXIT_FAILURE;
    int ret;

    ret = eic_config_load(opt->config_path, 0, &cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "%s", err[0] != '\0' ? err : strerror(ret));
        goto done;
    }
    /* Signals are taken through a descriptor in the loop; every thread inherits the mask. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 || (sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
        eic_log(LOG_ERR, "signalfd: %s", strerror(errno));
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    listen_fd = opt->foreground ? -1 : activated_socket();
    if (listen_fd < 0) {
        if (!opt->foreground) {
            eic_log(LOG_ERR, "not started by systemd's eic.socket; use --foreground to make the socket");
            goto done;
        }
        listen_fd = own_socket(opt->socket_path != NULL ? opt->socket_path : cfg.service_socket);
        if (listen_fd < 0) {
            goto done;
        }
    }
    admitted_akc_uid = eicd_akc_uid(&cfg);
    eic_log(LOG_INFO, "serving on %s", opt->socket_path != NULL ? opt->socket_path : cfg.service_socket);
    last_client_ms = eic_monotonic_ms();
    p[0] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
    for (;;) {
        int n = poll(p, 2, 1000);

        if (n < 0 && errno != EINTR) {
            eic_log(LOG_ERR, "poll: %s", strerror(errno));
            goto done;
        }
        if (n > 0 && (p[1].revents & POLLIN) != 0) {
            struct signalfd_siginfo si;

            if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo != SIGHUP) {
                    eic_log(LOG_INFO, "signal %u: stopping", si.ssi_signo);
                    break;
                }
                reload_akc_uid(opt->config_path);
            }
        }
        if (n > 0 && (p[0].revents & POLLIN) != 0) {
            accept_client(listen_fd, opt->config_path);
        }
        if (opt->idle_exit_s > 0) {
            bool idle;

            pthread_mutex_lock(&clients_lock);
            idle = n_clients == 0 && eic_monotonic_ms() - last_client_ms >= (uint64_t)opt->idle_exit_s * 1000;
            pthread_mutex_unlock(&clients_lock);
            if (idle) {
                eic_log(LOG_DEBUG, "idle for %ld s: exiting (the socket stays with systemd)", opt->idle_exit_s);
                break;
            }
        }
    }
    /* Let the clients being served have their answers (each is bounded in time). */
    pthread_mutex_lock(&clients_lock);
    while (n_clients > 0) {
        pthread_cond_wait(&clients_done, &clients_lock);
    }
    pthread_mutex_unlock(&clients_lock);
    status = EXIT_SUCCESS;
done:
    if (sig_fd >= 0) {
        close(sig_fd);
    }
    if (listen_fd >= 0) {
        close(listen_fd);
    }
    eic_config_free(&cfg);
    return status;
}
