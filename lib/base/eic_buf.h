/* Bounded growable byte buffer: every append is checked against a hard cap, so
 * untrusted input (HTTP bodies, IMDS responses) can never grow memory without bound. */
#ifndef EIC_BUF_H
#define EIC_BUF_H

#include <stddef.h>

struct eic_buf {
    char *data;   /* always NUL-terminated when non-NULL (the NUL is not counted in len) */
    size_t len;
    size_t alloc;
    size_t max;   /* hard cap on len; 0 means the buffer was not initialised */
};

/* Prepare an empty buffer that may hold at most max bytes. */
void eic_buf_init(struct eic_buf *buf, size_t max);
/* Append len bytes. Returns 0, EMSGSIZE when the cap would be exceeded (buffer unchanged), ENOMEM. */
int eic_buf_append(struct eic_buf *buf, const void *data, size_t len);
/* Append a NUL-terminated string. */
int eic_buf_append_str(struct eic_buf *buf, const char *str);
/* printf-style append; same returns as eic_buf_append. */
int eic_buf_printf(struct eic_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the contents but keep the cap. */
void eic_buf_reset(struct eic_buf *buf);
/* Release memory (contents are wiped first: buffers may hold secrets). */
void eic_buf_free(struct eic_buf *buf);
/* Hand the data over to the caller (who frees it) and leave the buffer empty. */
char *eic_buf_steal(struct eic_buf *buf);

#endif
