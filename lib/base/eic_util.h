/* Small helpers every part needs once: error text for callers, reading a whole small file, and
 * read/write without the EINTR and short-write cases at each caller. libc only (linked into
 * nss_eic's light part too). */
#ifndef EIC_UTIL_H
#define EIC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* printf into err[0..err_len) (nothing when err is NULL or err_len is 0). */
void eic_set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read the whole regular file at path (opened O_RDONLY|O_CLOEXEC|O_NOCTTY|extra_flags, e.g.
 * O_NOFOLLOW) into a malloc'd, NUL-terminated buffer. A file that shrinks while being read gives
 * what was there. Returns 0; EINVAL when it is not a regular file; EFBIG when it is larger than
 * max bytes; ENOMEM; or open/fstat/read's errno. On error *data is NULL and nothing leaks (the
 * buffer is wiped: it may hold keys). */
int eic_read_file(const char *path, int extra_flags, size_t max, char **data, size_t *len);

/* read(2), started again when a signal interrupts it: > 0 bytes read, 0 at the end, -1 with errno. */
ssize_t eic_read_retry(int fd, void *buf, size_t len);

/* Write all len bytes of buf to fd (short writes continued, EINTR retried). Returns 0 or
 * write's errno. */
int eic_write_all(int fd, const void *buf, size_t len);

/* Is this process root through and through: real and effective uid 0, and not started with the
 * kernel's AT_SECURE (a setuid/setgid or file-capability program)? Only such a process may do
 * eic's trust work in-process (IMDS, libcurl, OpenSSL). A setuid-root program (su, sudo, passwd,
 * pkexec) runs with euid 0 but with its invoker's environment, umask and limits, which libcurl
 * and OpenSSL read as their own (SSLKEYLOGFILE made libcurl create a root-owned, world-writable
 * file anywhere the invoker named: local root). */
bool eic_process_is_plain_root(void);

struct passwd;
/* getpwnam_r into *pw and a malloc'd *buf (grown on ERANGE up to 1 MiB: an entry with many long
 * fields is not an error; callers may run in threaded hosts, so never getpwnam). The caller frees
 * *buf, which is NULL on error. Returns 0, ENOENT (no such account), ENOMEM, or getpwnam_r's error. */
int eic_getpwnam(const char *name, struct passwd *pw, char **buf);

#endif
