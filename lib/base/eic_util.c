#include "eic_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

void eic_set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

bool eic_process_is_plain_root(void)
{
    return getuid() == 0 && geteuid() == 0 && getauxval(AT_SECURE) == 0;
}

ssize_t eic_read_retry(int fd, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

int eic_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int eic_read_file(const char *path, int extra_flags, size_t max, char **data, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t size = 0;
    size_t got = 0;
    int fd;
    int ret;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | extra_flags);
    if (fd < 0) {
        return errno;
    }
    if (fstat(fd, &st) != 0) {
        ret = errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = EINVAL;
        goto done;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
        ret = EFBIG;
        goto done;
    }
    size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (buf == NULL) {
        ret = ENOMEM;
        goto done;
    }
    while (got < size) {
        ssize_t n = eic_read_retry(fd, buf + got, size - got);

        if (n < 0) {
            ret = errno;
            goto done;
        }
        if (n == 0) {
            break; /* the file shrank: use what was there */
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
    ret = 0;
done:
    if (buf != NULL) {
        explicit_bzero(buf, size + 1);
        free(buf);
    }
    close(fd);
    return ret;
}

int eic_getpwnam(const char *name, struct passwd *pw, char **buf)
{
    struct passwd *res = NULL;
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t len = hint > 0 ? (size_t)hint : 4096;
    int ret;

    *buf = NULL;
    for (;;) {
        free(*buf);
        *buf = malloc(len);
        if (*buf == NULL) {
            return ENOMEM;
        }
        ret = getpwnam_r(name, pw, *buf, len, &res);
        if (ret != ERANGE || len >= (1u << 20)) {
            break;
        }
        len *= 2;
    }
    if (ret == 0 && res == NULL) {
        ret = ENOENT;
    }
    if (ret != 0) {
        free(*buf);
        *buf = NULL;
    }
    return ret;
}
