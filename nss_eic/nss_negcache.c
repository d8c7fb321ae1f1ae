/* nss_eic: the negative cache. Misses that went to eicd are remembered for negative_cache_ttl
 * seconds, so that scanners, shell completion and repeated probes do not make the host ask IMDS
 * again and again (docs/NSS.md, "Negative cache"). See nss_common.h. */
#include "nss_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eic_metadata.h"
#include "eic_time.h"

#define NSS_EIC_MISS_DIR "/run/eic/miss"
#define NEG_SLOTS 64
/* An "IMDS unreachable" answer is remembered for at most this long: long enough that a scanner
 * cannot make every lookup wait for the timeout during an outage, short enough that logins work
 * again soon after IMDS is back. */
#define NEG_UNAVAIL_MAX_TTL 5

/* In-process: a small table, oldest entry replaced. On disk, for sshd (a new process per
 * connection): slot files in a root-only directory (below), mtime = when, content = the errno.
 * Only root processes reach IMDS, so only they read or write either. */
struct neg_entry {
    char name[EIC_LOGIN_NAME_MAX + 1];
    uint64_t at_ms;
    int err;
};

static pthread_mutex_t neg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct neg_entry neg_table[NEG_SLOTS];

static long neg_ttl_for(const struct nss_view *view, int err)
{
    long ttl = view->set.negative_cache_ttl;

    return err != ENOENT && ttl > NEG_UNAVAIL_MAX_TTL ? NEG_UNAVAIL_MAX_TTL : ttl;
}

/* EIC_MISS_DIR: another directory for the on-disk entries, for tests (ignored when setuid). */
static const char *miss_dir(void)
{
    const char *p = secure_getenv("EIC_MISS_DIR");

    return p != NULL && p[0] == '/' ? p : NSS_EIC_MISS_DIR;
}

/* Open the miss directory, creating it (and its parent) if needed; it must be ours and private. */
static int miss_dir_open(bool create)
{
    const char *dir = miss_dir();
    char parent[4096];
    struct stat st;
    char *slash;
    int fd;

    if (create) {
        if (snprintf(parent, sizeof(parent), "%s", dir) < (int)sizeof(parent) &&
            (slash = strrchr(parent, '/')) != NULL && slash != parent) {
            *slash = '\0';
            (void)mkdir(parent, 0755);
        }
        (void)mkdir(dir, 0700);
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The on-disk entries are a fixed number of slot files, "slot-HH" by a hash of the name, each
 * holding "ERRNO NAME\n": sshd looks up whatever name a client offers, before authentication, so
 * a file per name would let anyone on the network fill /run. A collision evicts an entry. */
#define NEG_DISK_SLOTS 256

static void neg_disk_slot(const char *name, char out[16])
{
    snprintf(out, 16, "slot-%02x", (unsigned)(eic_name_hash(name) % NEG_DISK_SLOTS));
}

/* The errno the slot of name remembers for name (0: none, or the slot holds another name), with
 * the slot's mtime in *when. */
static int neg_disk_read(int dfd, const char *name, time_t *when)
{
    char slot[16];
    char text[64];
    struct stat st;
    ssize_t n;
    int fd;
    int err = 0;
    char *end;
    long v;

    neg_disk_slot(name, slot);
    fd = openat(dfd, slot, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        goto done;
    }
    n = read(fd, text, sizeof(text) - 1);
    if (n <= 0) {
        goto done;
    }
    text[n] = '\0';
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || v <= 0 || v > 4095 || *end != ' ' ||
        strncmp(end + 1, name, strlen(name)) != 0 || strcmp(end + 1 + strlen(name), "\n") != 0) {
        goto done;
    }
    err = (int)v;
    *when = st.st_mtime;
done:
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

static int neg_disk_lookup(const char *name, long ttl_notfound, long ttl_unavail)
{
    time_t now = time(NULL);
    time_t when = 0;
    long ttl;
    int dfd;
    int err;

    dfd = miss_dir_open(false);
    if (dfd < 0) {
        return 0;
    }
    err = neg_disk_read(dfd, name, &when);
    close(dfd);
    ttl = err == ENOENT ? ttl_notfound : ttl_unavail;
    /* A time in the future (clock stepped back) is not trusted to extend the entry. */
    return err != 0 && when <= now && now - when < ttl ? err : 0;
}

static void neg_disk_record(const char *name, int err)
{
    char slot[16];
    char text[64];
    int dfd;
    int fd;
    int n;

    dfd = miss_dir_open(true);
    if (dfd < 0) {
        return;
    }
    neg_disk_slot(name, slot);
    fd = openat(dfd, slot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd >= 0) {
        n = snprintf(text, sizeof(text), "%d %s\n", err, name);
        if (n > 0 && (size_t)n < sizeof(text)) {
            (void)!write(fd, text, (size_t)n);
        }
        (void)futimens(fd, NULL); /* mtime = now, also when the content did not change */
        close(fd);
    }
    close(dfd);
}

int nss_neg_lookup(const struct nss_view *view, const char *name)
{
    uint64_t now = eic_monotonic_ms();
    int err = 0;

    if (view->set.negative_cache_ttl <= 0) {
        return 0;
    }
    pthread_mutex_lock(&neg_lock);
    for (size_t i = 0; i < NEG_SLOTS; i++) {
        struct neg_entry *e = &neg_table[i];

        if (e->name[0] != '\0' && strcmp(e->name, name) == 0) {
            if (now - e->at_ms < (uint64_t)neg_ttl_for(view, e->err) * 1000u) {
                err = e->err;
            }
            break;
        }
    }
    pthread_mutex_unlock(&neg_lock);
    if (err == 0) {
        err = neg_disk_lookup(name, neg_ttl_for(view, ENOENT), neg_ttl_for(view, EHOSTUNREACH));
    }
    return err;
}

void nss_neg_record(const struct nss_view *view, const char *name, int err)
{
    struct neg_entry *slot = NULL;

    if (view->set.negative_cache_ttl <= 0) {
        return;
    }
    pthread_mutex_lock(&neg_lock);
    for (size_t i = 0; i < NEG_SLOTS; i++) {
        struct neg_entry *e = &neg_table[i];

        if (e->name[0] != '\0' && strcmp(e->name, name) == 0) {
            slot = e;
            break;
        }
        if (slot == NULL || e->name[0] == '\0' || (slot->name[0] != '\0' && e->at_ms < slot->at_ms)) {
            slot = e;
        }
    }
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    slot->at_ms = eic_monotonic_ms();
    slot->err = err;
    pthread_mutex_unlock(&neg_lock);
    neg_disk_record(name, err);
}

void nss_neg_forget(const char *name)
{
    int dfd;

    pthread_mutex_lock(&neg_lock);
    for (size_t i = 0; i < NEG_SLOTS; i++) {
        if (strcmp(neg_table[i].name, name) == 0) {
            neg_table[i].name[0] = '\0';
        }
    }
    pthread_mutex_unlock(&neg_lock);
    dfd = miss_dir_open(false);
    if (dfd >= 0) {
        time_t when;

        /* Only a slot that holds this name (another process may take it over between the read
         * and the unlink: losing that entry costs one IMDS request). */
        if (neg_disk_read(dfd, name, &when) != 0) {
            char slot[16];

            neg_disk_slot(name, slot);
            (void)unlinkat(dfd, slot, 0);
        }
        close(dfd);
    }
}
