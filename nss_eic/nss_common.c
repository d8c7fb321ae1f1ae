/* nss_eic, light part: configuration and cache views, the negative cache, the miss path (asking
 * eicd), and copying into the caller's buffer. See nss_common.h and docs/NSS.md. */
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

#include "eic_config.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_metadata.h"
#include "eic_proto.h"
#include "eic_time.h"
#include "eic_util.h"

#define NSS_EIC_MISS_DIR "/run/eic/miss"
#define NEG_SLOTS 64
/* An "IMDS unreachable" answer is remembered for at most this long: long enough that a scanner
 * cannot make every lookup wait for the timeout during an outage, short enough that logins work
 * again soon after IMDS is back. */
#define NEG_UNAVAIL_MAX_TTL 5

/* What the service may take beyond imds_timeout_ms (its own deadline for a lookup) before the
 * answer is here: starting it (socket activation) and the round trip. */
#define SERVICE_GRACE_MS 250

/* ---- files that are reloaded when they change ------------------------------------------- */

/* What identifies one version of a file without reading it: a replaced file (rename) has a new
 * inode, an edited one a new size or mtime. */
struct file_key {
    bool present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

static int file_key_get(const char *path, struct file_key *key)
{
    struct stat st;

    memset(key, 0, sizeof(*key));
    if (stat(path, &st) != 0) {
        return errno == ENOENT ? 0 : errno;
    }
    key->present = true;
    key->dev = st.st_dev;
    key->ino = st.st_ino;
    key->size = st.st_size;
    key->mtime = st.st_mtim;
    return 0;
}

static bool file_key_equal(const struct file_key *a, const struct file_key *b)
{
    if (a->present != b->present) {
        return false;
    }
    return !a->present || (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
                           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec);
}

/* ---- process-wide state ----------------------------------------------------------------- */

/* state_lock guards everything below it; it is held only to swap views (a stat or two, and an
 * open+verify when a new version appeared), never while copying into a caller's buffer. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nss_view *current_view;
static struct file_key config_key;     /* the eic.conf version current_view was built from */
static bool config_key_valid;
static struct file_key cache_fail_key; /* the accounts.db version that could not be opened */
static char *log_file_open;            /* the log_file eic_log was opened with, or NULL */

/* EIC_CONFIG names another configuration file, for tests. secure_getenv() ignores it in setuid
 * and setgid programs (su, sudo, passwd), which therefore always read the real one. */
static const char *config_path(void)
{
    const char *p = secure_getenv("EIC_CONFIG");

    return p != NULL && p[0] == '/' ? p : EIC_CONFIG_DEFAULT_PATH;
}

static void settings_free(struct nss_settings *set)
{
    free(set->cache_dir);
    free(set->service_socket);
    set->cache_dir = NULL;
    set->service_socket = NULL;
}

static void view_free(struct nss_view *view)
{
    if (view == NULL) {
        return;
    }
    eic_cache_close(view->cache);
    settings_free(&view->set);
    free(view);
}

void nss_view_release(struct nss_view *view)
{
    bool last;

    if (view == NULL) {
        return;
    }
    pthread_mutex_lock(&state_lock);
    last = --view->refs == 0;
    pthread_mutex_unlock(&state_lock);
    if (last) {
        view_free(view);
    }
}

/* Read eic.conf into view->set. Caller holds state_lock. A bad file leaves config_ok false and is
 * logged once per version of the file (the caller only comes here when the version changed). */
static int load_settings(const char *path, struct nss_view *view)
{
    struct eic_config cfg;
    char err[512];
    int ret;

    /* Fills cfg whatever it returns (the defaults for a missing file). The file may also belong
     * to the calling user, who can only fool themselves with it. */
    ret = eic_config_load(path, geteuid(), &cfg, err, sizeof(err));
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "nss_eic: %s; eic serves no accounts until it is fixed",
                err[0] != '\0' ? err : strerror(ret));
        ret = 0;
        goto done;
    }
    /* Open the log destination only when it changed: eic_log_open() reopens the file. */
    if (cfg.log_file != NULL && (log_file_open == NULL || strcmp(log_file_open, cfg.log_file) != 0)) {
        free(log_file_open);
        log_file_open = strdup(cfg.log_file);
        eic_log_open("nss_eic", cfg.log_file, EIC_LOG_IN_HOST);
    }
    eic_log_set_level(cfg.log_level);
    view->set.cache_dir = strdup(cfg.cache_dir != NULL ? cfg.cache_dir : EIC_CACHE_DEFAULT_DIR);
    view->set.service_socket = strdup(cfg.service_socket);
    if (view->set.cache_dir == NULL || view->set.service_socket == NULL) {
        ret = ENOMEM;
        goto done;
    }
    view->set.uid_min = (uid_t)cfg.uid_min;
    view->set.uid_max = (uid_t)cfg.uid_max;
    view->set.negative_cache_ttl = (long)cfg.negative_cache_ttl;
    view->set.imds_timeout_ms = cfg.imds_timeout_ms;
    for (size_t i = 0; i < cfg.mapping.n_rules; i++) {
        if (cfg.mapping.rules[i].kind == EIC_RULE_MAP) {
            view->set.maps_accounts = true;
        }
    }
    view->config_ok = true;
    ret = 0;
done:
    eic_config_free(&cfg);
    return ret;
}

/* Open the cache version on disk into view->cache. Caller holds state_lock. A file that cannot be
 * opened (corrupt, unreadable) is logged once per version and treated as empty. */
static void open_cache(struct nss_view *view)
{
    char path[4096];
    struct file_key key;
    int ret;

    if (!view->config_ok) {
        return;
    }
    ret = eic_cache_open(view->set.cache_dir, &view->cache);
    if (ret == 0) {
        return;
    }
    view->cache = NULL;
    if (snprintf(path, sizeof(path), "%s/%s", view->set.cache_dir, EIC_CACHE_FILE) >= (int)sizeof(path) ||
        file_key_get(path, &key) != 0) {
        memset(&key, 0, sizeof(key));
    }
    if (ret != ENOENT && !file_key_equal(&key, &cache_fail_key)) {
        eic_log(LOG_ERR, "nss_eic: cannot use the account cache %s: %s; serving no cached accounts", path,
                ret == EBADMSG ? "corrupt or truncated" : strerror(ret));
    }
    cache_fail_key = key;
}

/* The cache has no handle to ask when it could not be opened: its file key says whether a new
 * version appeared since. */
static bool cache_changed(const struct nss_view *view)
{
    char path[4096];
    struct file_key key;

    if (!view->config_ok) {
        return false;
    }
    if (view->cache != NULL) {
        return eic_cache_stale(view->cache);
    }
    if (snprintf(path, sizeof(path), "%s/%s", view->set.cache_dir, EIC_CACHE_FILE) >= (int)sizeof(path) ||
        file_key_get(path, &key) != 0) {
        return false;
    }
    return !file_key_equal(&key, &cache_fail_key);
}

int nss_view_acquire(struct nss_view **out)
{
    const char *path = config_path();
    struct nss_view *view = NULL;
    struct file_key key;
    bool new_config;
    int ret;

    *out = NULL;
    pthread_mutex_lock(&state_lock);
    if (file_key_get(path, &key) != 0) {
        /* Cannot even stat it (EACCES on a directory): the same as a bad file. */
        memset(&key, 0, sizeof(key));
        key.present = true;
        key.ino = (ino_t)-1;
    }
    new_config = current_view == NULL || !config_key_valid || !file_key_equal(&key, &config_key);
    if (!new_config && !cache_changed(current_view)) {
        view = current_view;
        view->refs++;
        ret = 0;
        goto done;
    }
    view = calloc(1, sizeof(*view));
    if (view == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (new_config) {
        ret = load_settings(path, view);
        if (ret != 0) {
            goto done;
        }
        config_key = key;
        config_key_valid = true;
    } else {
        view->config_ok = current_view->config_ok;
        view->set = current_view->set;
        view->set.cache_dir = NULL;
        view->set.service_socket = NULL;
        if ((current_view->set.cache_dir != NULL &&
             (view->set.cache_dir = strdup(current_view->set.cache_dir)) == NULL) ||
            (current_view->set.service_socket != NULL &&
             (view->set.service_socket = strdup(current_view->set.service_socket)) == NULL)) {
            ret = ENOMEM;
            goto done;
        }
    }
    open_cache(view);
    /* One reference for current_view, one for the caller. */
    view->refs = 2;
    if (current_view != NULL && --current_view->refs == 0) {
        view_free(current_view);
    }
    current_view = view;
    ret = 0;
done:
    pthread_mutex_unlock(&state_lock);
    if (ret != 0) {
        view_free(view);
        view = NULL;
    }
    *out = view;
    return ret;
}

bool nss_user_servable(const struct nss_view *view, const struct eic_cached_user *u)
{
    return u->name != NULL && strcmp(u->name, "root") != 0 && u->uid != 0 && u->gid != 0 &&
           u->uid >= view->set.uid_min && u->uid <= view->set.uid_max && u->gid >= view->set.uid_min &&
           eic_valid_login_name(u->name);
}

bool nss_group_servable(const struct nss_view *view, const struct eic_cached_group *g)
{
    return g->name != NULL && strcmp(g->name, "root") != 0 && g->gid != 0 && g->gid >= view->set.uid_min &&
           g->gid <= view->set.uid_max;
}

/* ---- negative cache ----------------------------------------------------------------------- */

/* In-process: a small table, oldest entry replaced. On disk, for sshd (a new process per
 * connection): one file per name in a root-only directory, mtime = when, content = the errno.
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

/* Returns the remembered result (ENOENT or an "unavailable" errno) or 0 for no entry. */
static int neg_lookup(const struct nss_view *view, const char *name)
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

static void neg_record(const struct nss_view *view, const char *name, int err)
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

/* Forget a name (it has just been added to the cache). */
static void neg_forget(const char *name)
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

/* ---- the miss path: asking eicd ----------------------------------------------------------- */

/* eicd sets _EIC_LOOPS=NO (as SSSD's services set _SSS_LOOPS): its own lookups must never come
 * back to it. Any process may set it; it can only keep itself from seeing new IAM accounts. */
static bool service_may_be_asked(void)
{
    const char *loops = getenv("_EIC_LOOPS");

    return loops == NULL || strcmp(loops, "NO") != 0;
}

/* Ask eicd whether name is an IAM-mapped account (it then adds it to the cache). Returns 0 (the
 * account is in the cache now), ENOENT, or an errno saying the service or IMDS could not answer. */
static int resolve_remote(const struct nss_view *view, const char *name)
{
    const char *fields[1] = {name};
    struct eic_proto_msg answer;
    uint64_t deadline = eic_monotonic_ms() + (uint64_t)view->set.imds_timeout_ms + SERVICE_GRACE_MS;
    int ret;

    ret = eic_proto_call(view->set.service_socket, EIC_REQ_RESOLVE, fields, 1, deadline, &answer);
    if (ret != 0) {
        eic_log(LOG_WARNING, "nss_eic: eicd does not answer on %s (%s); %s not looked up", view->set.service_socket,
                strerror(ret), name);
        return ret == ETIMEDOUT ? ETIMEDOUT : EHOSTUNREACH;
    }
    ret = answer.code;
    if (ret == EEXIST) {
        ret = ENOENT; /* a local account: files answers for it, eic never does */
    }
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_WARNING, "nss_eic: lookup of %s in IMDS failed: %s", name,
                answer.n_fields > 0 ? answer.fields[0] : strerror(ret));
        /* Whatever the service said, to glibc it is "unavailable", never TRYAGAIN/ERANGE. */
        if (ret == ERANGE || ret == ENOMEM) {
            ret = EHOSTUNREACH;
        }
    }
    eic_proto_msg_free(&answer);
    return ret;
}

int nss_user_by_name(const char *name, struct nss_view **view_out, struct eic_cached_user *user)
{
    struct nss_view *view = NULL;
    int ret;

    *view_out = NULL;
    /* A name no rule can give (all digits, as chown asks for "1000" first; a Samba "HOST$") is
     * in no cache and not worth an IMDS request: not found at once. */
    if (name == NULL || !eic_mappable_name(name) || strcmp(name, "root") == 0) {
        return ENOENT;
    }
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    if (!view->config_ok) {
        ret = ENOENT;
        goto done;
    }
    ret = view->cache != NULL ? eic_cache_user_by_name(view->cache, name, user) : ENOENT;
    if (ret == 0) {
        ret = nss_user_servable(view, user) ? 0 : ENOENT;
        goto done;
    }
    /* A miss. Only a plain root process asks the service (sshd's monitor resolves the user before
     * authentication); any other process cannot make the host fetch for arbitrary names (nor fill
     * the cache). That includes setuid-root programs (su, sudo -u, passwd NAME), whose invoker
     * chose their environment (eic_util.h); the service checks the peer's uid again. Without a
     * [map] rule no name can be an IAM account (the package enables the module before anyone
     * writes rules): the service is not asked either. */
    if (ret != ENOENT || !view->set.maps_accounts || !service_may_be_asked()) {
        ret = ENOENT;
        goto done;
    }
    if (!eic_process_is_plain_root()) {
        if (geteuid() == 0) {
            eic_log(LOG_DEBUG, "nss_eic: %s is not cached; eicd is not asked from a setuid or non-root process",
                    name);
        }
        ret = ENOENT;
        goto done;
    }
    ret = neg_lookup(view, name);
    if (ret != 0) {
        goto done;
    }
    ret = resolve_remote(view, name);
    if (ret != 0) {
        neg_record(view, name, ret);
        goto done;
    }
    neg_forget(name);
    /* The service wrote a new cache version: answer from it, like any later lookup will. */
    nss_view_release(view);
    ret = nss_view_acquire(&view);
    if (ret != 0) {
        goto done;
    }
    ret = view->cache != NULL ? eic_cache_user_by_name(view->cache, name, user) : ENOENT;
    if (ret == 0 && !nss_user_servable(view, user)) {
        ret = ENOENT;
    }
done:
    if (ret == 0) {
        *view_out = view;
    } else {
        nss_view_release(view);
    }
    return ret;
}

/* ---- copying into the caller's buffer ----------------------------------------------------- */

/* Append s (NUL included) at *pos; the caller has checked the room. */
static char *put_string(char **pos, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *pos;

    memcpy(dst, s, n);
    *pos += n;
    return dst;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

int nss_fill_passwd(const struct eic_cached_user *u, struct passwd *pw, char *buf, size_t buflen)
{
    size_t need = strlen(u->name) + 1 + 2 + strlen(or_empty(u->gecos)) + 1 + strlen(or_empty(u->home)) + 1 +
                  strlen(or_empty(u->shell)) + 1;
    char *pos = buf;

    if (buf == NULL || need > buflen) {
        return ERANGE; /* not ENOMEM: ERANGE is what glibc looks for to retry with a larger buffer */
    }
    pw->pw_name = put_string(&pos, u->name);
    /* "*", not "x": with "x" and no shadow entry, pam_unix's account check fails. */
    pw->pw_passwd = put_string(&pos, "*");
    pw->pw_uid = u->uid;
    pw->pw_gid = u->gid;
    pw->pw_gecos = put_string(&pos, or_empty(u->gecos));
    pw->pw_dir = put_string(&pos, or_empty(u->home));
    pw->pw_shell = put_string(&pos, or_empty(u->shell));
    return 0;
}

int nss_fill_group(const struct eic_cache *cache, const struct eic_cached_group *g, struct group *gr, char *buf,
                   size_t buflen)
{
    const size_t align = __alignof__(char *);
    size_t pad;
    size_t need;
    size_t n = 0;
    char **mem;
    char *pos;

    if (buf == NULL) {
        return ERANGE;
    }
    /* gr_mem comes first, aligned: the caller's buffer is a char array with no alignment. */
    pad = (align - (uintptr_t)buf % align) % align;
    need = strlen(g->name) + 1 + 2;
    for (size_t i = 0; i < g->n_members; i++) {
        const char *m = eic_cache_group_member(cache, g, i);

        if (m != NULL) {
            need += strlen(m) + 1;
            n++;
        }
    }
    if (n > (SIZE_MAX - need - pad) / sizeof(char *) - 1 || pad + (n + 1) * sizeof(char *) + need > buflen) {
        return ERANGE;
    }
    mem = (char **)(void *)(buf + pad);
    pos = buf + pad + (n + 1) * sizeof(char *);
    gr->gr_name = put_string(&pos, g->name);
    gr->gr_passwd = put_string(&pos, "*");
    gr->gr_gid = g->gid;
    n = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        const char *m = eic_cache_group_member(cache, g, i);

        if (m != NULL) {
            mem[n++] = put_string(&pos, m);
        }
    }
    mem[n] = NULL;
    gr->gr_mem = mem;
    return 0;
}

enum nss_status nss_status(int err, int *errnop)
{
    switch (err) {
    case 0:
        return NSS_STATUS_SUCCESS;
    case ERANGE:
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    case ENOENT:
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    default:
        /* IMDS unreachable or not trusted, out of memory: the back end cannot answer. Never
         * TRYAGAIN here: glibc callers take TRYAGAIN to mean "give me a larger buffer". */
        *errnop = err;
        return NSS_STATUS_UNAVAIL;
    }
}
