#include "eic_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eic_buf_init(struct eic_buf *buf, size_t max)
{
    buf->data = NULL;
    buf->len = 0;
    buf->alloc = 0;
    buf->max = max;
}

static int eic_buf_reserve(struct eic_buf *buf, size_t extra)
{
    size_t need;
    size_t newalloc;
    char *p;

    if (extra > buf->max || buf->len > buf->max - extra) {
        return EMSGSIZE;
    }
    need = buf->len + extra + 1; /* +1 keeps room for the terminating NUL */
    if (need <= buf->alloc) {
        return 0;
    }
    newalloc = buf->alloc ? buf->alloc : 256;
    while (newalloc < need) {
        newalloc *= 2;
    }
    p = realloc(buf->data, newalloc);
    if (p == NULL) {
        return ENOMEM;
    }
    buf->data = p;
    buf->alloc = newalloc;
    return 0;
}

int eic_buf_append(struct eic_buf *buf, const void *data, size_t len)
{
    int ret = eic_buf_reserve(buf, len);

    if (ret != 0) {
        return ret;
    }
    if (len > 0) {
        memcpy(buf->data + buf->len, data, len);
    }
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int eic_buf_append_str(struct eic_buf *buf, const char *str)
{
    return eic_buf_append(buf, str, strlen(str));
}

int eic_buf_printf(struct eic_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int n;
    int ret;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return EINVAL;
    }
    ret = eic_buf_reserve(buf, (size_t)n);
    if (ret != 0) {
        return ret;
    }
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return 0;
}

void eic_buf_reset(struct eic_buf *buf)
{
    if (buf->data != NULL) {
        explicit_bzero(buf->data, buf->alloc);
        buf->data[0] = '\0';
    }
    buf->len = 0;
}

void eic_buf_free(struct eic_buf *buf)
{
    if (buf->data != NULL) {
        explicit_bzero(buf->data, buf->alloc);
        free(buf->data);
    }
    buf->data = NULL;
    buf->len = 0;
    buf->alloc = 0;
}

char *eic_buf_steal(struct eic_buf *buf)
{
    char *p = buf->data;

    if (p == NULL) {
        p = strdup("");
    }
    buf->data = NULL;
    buf->len = 0;
    buf->alloc = 0;
    return p;
}
