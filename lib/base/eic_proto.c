/* The eicd socket protocol; the wire format is described in eic_proto.h. */
#include "eic_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "eic_time.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int eic_proto_encode(uint16_t code, const char *const *fields, size_t n_fields, size_t max, uint8_t **out,
                     size_t *out_len)
{
    size_t len = EIC_PROTO_HEADER_LEN;
    uint8_t *buf;
    uint8_t *pos;

    *out = NULL;
    *out_len = 0;
    if (max > UINT32_MAX) {
        max = UINT32_MAX;
    }
    for (size_t i = 0; i < n_fields; i++) {
        size_t n = strlen(fields[i]);

        if (n > UINT16_MAX) {
            return EMSGSIZE;
        }
        if (len > max || max - len < 2 + n) {
            return EMSGSIZE;
        }
        len += 2 + n;
    }
    buf = malloc(len);
    if (buf == NULL) {
        return ENOMEM;
    }
    put_u32(buf, (uint32_t)len);
    put_u16(buf + 4, EIC_PROTO_VERSION);
    put_u16(buf + 6, code);
    pos = buf + EIC_PROTO_HEADER_LEN;
    for (size_t i = 0; i < n_fields; i++) {
        size_t n = strlen(fields[i]);

        put_u16(pos, (uint16_t)n);
        memcpy(pos + 2, fields[i], n);
        pos += 2 + n;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int eic_proto_check_header(const uint8_t *hdr, size_t max, size_t *total_len)
{
    uint32_t len = get_u32(hdr);

    *total_len = 0;
    if (get_u16(hdr + 4) != EIC_PROTO_VERSION || len < EIC_PROTO_HEADER_LEN) {
        return EBADMSG;
    }
    if (len > max) {
        return EMSGSIZE;
    }
    *total_len = len;
    return 0;
}

void eic_proto_msg_free(struct eic_proto_msg *msg)
{
    if (msg == NULL) {
        return;
    }
    for (size_t i = 0; i < msg->n_fields; i++) {
        free(msg->fields[i]);
    }
    free(msg->fields);
    memset(msg, 0, sizeof(*msg));
}

int eic_proto_decode(const uint8_t *buf, size_t len, size_t max_fields, struct eic_proto_msg *msg)
{
    size_t total;
    size_t pos;
    size_t n = 0;
    int ret;

    memset(msg, 0, sizeof(*msg));
    if (len < EIC_PROTO_HEADER_LEN) {
        return EBADMSG;
    }
    ret = eic_proto_check_header(buf, len, &total);
    if (ret != 0 || total != len) {
        return EBADMSG;
    }
    /* First pass: count and check every field, so that nothing is allocated for a bad message. */
    for (pos = EIC_PROTO_HEADER_LEN; pos < len; n++) {
        size_t flen;

        if (len - pos < 2 || n >= max_fields) {
            return EBADMSG;
        }
        flen = get_u16(buf + pos);
        if (len - pos - 2 < flen || memchr(buf + pos + 2, '\0', flen) != NULL) {
            return EBADMSG;
        }
        pos += 2 + flen;
    }
    msg->code = get_u16(buf + 6);
    if (n == 0) {
        return 0;
    }
    msg->fields = calloc(n, sizeof(*msg->fields));
    if (msg->fields == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (pos = EIC_PROTO_HEADER_LEN; msg->n_fields < n; msg->n_fields++) {
        size_t flen = get_u16(buf + pos);
        char *f = malloc(flen + 1);

        if (f == NULL) {
            ret = ENOMEM;
            goto done;
        }
        memcpy(f, buf + pos + 2, flen);
        f[flen] = '\0';
        msg->fields[msg->n_fields] = f;
        pos += 2 + flen;
    }
    ret = 0;
done:
    if (ret != 0) {
        eic_proto_msg_free(msg);
    }
    return ret;
}

/* Wait until fd is ready for events or deadline_ms passes: 0, ETIMEDOUT, or poll's errno. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    uint64_t left;
    int n;

    for (;;) {
        left = eic_ms_left(deadline_ms);
        if (left == 0) {
            return ETIMEDOUT;
        }
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0) {
            return 0; /* readable, writable, or an error/hang-up the next call reports */
        }
        if (n < 0 && errno != EINTR) {
            return errno;
        }
    }
}

int eic_proto_send(int fd, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
    size_t done = 0;
    ssize_t n;
    int ret;

    while (done < len) {
        n = send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return errno;
        }
        ret = wait_fd(fd, POLLOUT, deadline_ms);
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

/* Read exactly len bytes into buf before deadline_ms. */
static int recv_exact(int fd, uint8_t *buf, size_t len, uint64_t deadline_ms)
{
    size_t done = 0;
    ssize_t n;
    int ret;

    while (done < len) {
        n = recv(fd, buf + done, len - done, MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) {
            return ECONNRESET;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return errno;
        }
        ret = wait_fd(fd, POLLIN, deadline_ms);
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

int eic_proto_recv(int fd, size_t max, uint64_t deadline_ms, uint8_t **buf, size_t *len)
{
    uint8_t hdr[EIC_PROTO_HEADER_LEN];
    uint8_t *msg = NULL;
    size_t total;
    int ret;

    *buf = NULL;
    *len = 0;
    ret = recv_exact(fd, hdr, sizeof(hdr), deadline_ms);
    if (ret != 0) {
        goto done;
    }
    ret = eic_proto_check_header(hdr, max, &total);
    if (ret != 0) {
        goto done;
    }
    msg = malloc(total);
    if (msg == NULL) {
        ret = ENOMEM;
        goto done;
    }
    memcpy(msg, hdr, sizeof(hdr));
    ret = recv_exact(fd, msg + sizeof(hdr), total - sizeof(hdr), deadline_ms);
    if (ret != 0) {
        goto done;
    }
    *buf = msg;
    *len = total;
    msg = NULL;
done:
    free(msg);
    return ret;
}

/* Connect a close-on-exec, non-blocking stream socket to path before deadline_ms. */
static int connect_service(const char *path, uint64_t deadline_ms, int *out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;
    int ret;

    *out = -1;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return errno;
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            *out = fd;
            return 0;
        }
        ret = errno;
        if (ret == EINTR) {
            continue;
        }
        if (ret != EAGAIN) {
            break;
        }
        /* A UNIX socket says EAGAIN when the listen backlog is full: the service is busy. Try
         * again shortly, within the deadline. */
        if (eic_ms_left(deadline_ms) == 0) {
            ret = ETIMEDOUT;
            break;
        }
        (void)poll(NULL, 0, 5);
    }
    close(fd);
    return ret;
}

int eic_proto_call(const char *socket_path, uint16_t code, const char *const *fields, size_t n_fields,
                   uint64_t deadline_ms, struct eic_proto_msg *answer)
{
    uint8_t *req = NULL;
    uint8_t *resp = NULL;
    size_t req_len = 0;
    size_t resp_len = 0;
    int fd = -1;
    int ret;

    memset(answer, 0, sizeof(*answer));
    ret = eic_proto_encode(code, fields, n_fields, EIC_PROTO_REQUEST_MAX, &req, &req_len);
    if (ret != 0) {
        goto done;
    }
    ret = connect_service(socket_path, deadline_ms, &fd);
    if (ret != 0) {
        goto done;
    }
    ret = eic_proto_send(fd, req, req_len, deadline_ms);
    if (ret != 0) {
        goto done;
    }
    ret = eic_proto_recv(fd, EIC_PROTO_RESPONSE_MAX, deadline_ms, &resp, &resp_len);
    if (ret != 0) {
        goto done;
    }
    ret = eic_proto_decode(resp, resp_len, EIC_PROTO_FIELDS_MAX, answer);
done:
    if (fd >= 0) {
        close(fd);
    }
    free(req);
    free(resp);
    return ret;
}

bool eic_proto_no_service(int err)
{
    return err != 0 && err != ETIMEDOUT && err != ENOMEM && err != ENAMETOOLONG;
}
