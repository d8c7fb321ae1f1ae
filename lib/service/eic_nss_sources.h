/* Does any other NSS source know a name? Asked by eicd before it creates an account, so that eic
 * never lends a name (and with it the account's private group and rule groups) that a directory
 * (SSSD, LDAP, winbind, systemd-homed...) also knows or cannot say it does not know right now.
 *
 * glibc's getpwnam_r does not say which source answered, nor that one was unavailable (it goes on
 * to the next, and finally to eic). So each source of the passwd (and group) line of
 * nsswitch.conf other than files (the cache writer reads /etc/passwd and /etc/group itself) and eic
 * is loaded as glibc loads it (dlopen of libnss_SOURCE.so.2, the same library search) and asked
 * directly through _nss_SOURCE_getpwnam_r / _nss_SOURCE_getgrnam_r, for its own nss_status.
 *
 * Only in eicd, a root service with a fixed environment: this loads libraries and may wait on a
 * directory server, which the NSS module (loaded into every process) must never do. */
#ifndef EIC_NSS_SOURCES_H
#define EIC_NSS_SOURCES_H

#include <stddef.h>
#include <stdint.h>

/* The file glibc reads; eicd uses no other (tests bind-mount theirs over it in a private mount
 * namespace, so no configuration key or environment variable can point eicd elsewhere). */
#define EIC_NSSWITCH_PATH "/etc/nsswitch.conf"

/* Longest source name we load (glibc's are short: sss, ldap, winbind, systemd, compat). */
#define EIC_NSS_SOURCE_MAX 32

enum eic_nss_db {
    EIC_NSS_PASSWD,
    EIC_NSS_GROUP,
};

/* The sources nsswitch_path lists for db ("passwd" or "group"), in order, without files and eic,
 * each once; actions ("[NOTFOUND=return]") are skipped. A database the file does not name, or no
 * file at all, is glibc's default, files: none. Returns 0 with *n set (at most max; more: E2BIG),
 * EINVAL for a source name that is not [A-Za-z0-9_-]{1,31} (it would not be a library name we
 * load), or the error reading the file (ENOENT excepted). */
int eic_nss_sources_list(const char *nsswitch_path, enum eic_nss_db db, char (*sources)[EIC_NSS_SOURCE_MAX],
                         size_t max, size_t *n);

/* Ask one source about name in db, waiting until deadline_ms (CLOCK_MONOTONIC) at most.
 * Returns 0 (NOTFOUND: the source does not know it, or cannot be loaded or does not serve db,
 * which is what glibc concludes too), EEXIST (SUCCESS, or an entry too large for 1 MiB), EAGAIN
 * (UNAVAIL or TRYAGAIN: the directory is down or busy), ETIMEDOUT (no answer by deadline_ms; the
 * question goes on in a thread of its own, abandoned; at most 8 such at once, then ETIMEDOUT at
 * once), ENOMEM. *status_name gets the nss_status's name for the log. */
int eic_nss_source_ask(const char *source, enum eic_nss_db db, const char *name, uint64_t deadline_ms,
                       const char **status_name);

/* May eicd create the account name now? Every other passwd source is asked about name, every
 * other group source about the private group's name (name too). Returns 0 (no source knows either),
 * EEXIST (one does), EAGAIN (one is unavailable or did not answer by deadline_ms; a later lookup
 * may succeed), EIO (nsswitch_path cannot be read or parsed), ENOMEM. Every refusal is logged in
 * one line naming the source, e.g. "alice not created: the NSS source sss knows it". */
int eic_nss_may_create(const char *nsswitch_path, const char *name, uint64_t deadline_ms);

#endif
