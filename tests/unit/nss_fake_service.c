/* See nss_fake_service.h. */
#include "nss_fake_service.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "eic_cache_writer.h"
#include "eic_config.h"
#include "eic_proto.h"
#include "eic_time.h"

static unsigned int calls;
static int listen_fd = -1;
static struct sockaddr_un listen_addr = {.sun_family = AF_UNIX};
static int stopping;
static pthread_t server;

static int resolve(const char *name)
{
    static const char *const groups[] = {"eic-admins", "sudo"};
    struct eic_config cfg;
    struct eic_cache_new_user nu = {0};
    struct eic_cache_range range = {0};
    char msg[256];
    uid_t uid;
    int ret;

    if (strncmp(name, "down", 4) == 0) {
        return ETIMEDOUT;
    }
    if (strncmp(name, "local", 5) == 0) {
        return EEXIST;
    }
    if (strncmp(name, "new", 3) != 0) {
        return ENOENT;
    }
    ret = eic_config_load(getenv("EIC_CONFIG"), geteuid(), &cfg, msg, sizeof(msg));
    if (ret != 0) {
        goto done;
    }
    nu.name = name;
    nu.principal = "arn:aws:iam::111122223333:user/fake";
    nu.group_names = groups;
    nu.n_group_names = 2;
    nu.home_base = cfg.home_base;
    nu.shell = cfg.shell;
    range.min = cfg.uid_min;
    range.max = cfg.uid_max;
    range.passwd_file = getenv("FAKE_PASSWD");
    range.group_file = getenv("FAKE_GROUP");
    ret = eic_cache_add_user(cfg.cache_dir, &range, &nu, &uid);
done:
    eic_config_free(&cfg);
    return ret;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        struct eic_proto_msg req;
        uint8_t *in = NULL;
        uint8_t *out = NULL;
        size_t in_len = 0;
        size_t out_len = 0;
        const char *reason[1] = {"fake"};
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (__atomic_load_n(&stopping, __ATOMIC_SEQ_CST)) {
            if (fd >= 0) {
                close(fd);
            }
            return NULL;
        }
        if (fd < 0) {
            continue;
        }
        if (eic_proto_recv(fd, EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 5000, &in, &in_len) == 0 &&
            eic_proto_decode(in, in_len, 1, &req) == 0) {
            if (req.code == EIC_REQ_RESOLVE && req.n_fields == 1) {
                __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
                if (eic_proto_encode((uint16_t)resolve(req.fields[0]), reason, 1, EIC_PROTO_RESPONSE_MAX, &out,
                                     &out_len) == 0) {
                    (void)eic_proto_send(fd, out, out_len, eic_monotonic_ms() + 5000);
                }
            }
            eic_proto_msg_free(&req);
        }
        free(in);
        free(out);
        close(fd);
    }
    return NULL;
}

int fake_service_start(const char *socket_path)
{
    struct sockaddr_un *sa = &listen_addr;

    if (strlen(socket_path) >= sizeof(sa->sun_path)) {
        return ENAMETOOLONG;
    }
    memcpy(sa->sun_path, socket_path, strlen(socket_path) + 1);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(listen_fd, 16) != 0) {
        return errno;
    }
    return pthread_create(&server, NULL, serve, NULL);
}

void fake_service_stop(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    __atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
    /* A connection wakes the thread in accept(); it sees the flag and ends. */
    if (fd >= 0) {
        (void)connect(fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr));
        close(fd);
    }
    pthread_join(server, NULL);
    close(listen_fd);
}

unsigned int fake_service_calls(void)
{
    return __atomic_load_n(&calls, __ATOMIC_SEQ_CST);
}
