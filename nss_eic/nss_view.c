/* nss_eic: the module's state. One current view (eic.conf's settings and the cache version they
 * select), the lock that guards it, and when to reload either: each lookup stats eic.conf and the
 * cache file, and builds a new view only when one of them changed. See nss_common.h. */
#include "nss_common.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eic_config.h"
#include "eic_log.h"

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

/* The key of view's cache file, and its path in path (for the log). On an error key is the key of
 * no file. */
static int cache_key_get(const struct nss_view *view, char path[PATH_MAX], struct file_key *key)
{
    memset(key, 0, sizeof(*key));
    if (snprintf(path, PATH_MAX, "%s/%s", view->set.cache_dir, EIC_CACHE_FILE) >= PATH_MAX) {
        return ENAMETOOLONG;
    }
    return file_key_get(path, key);
}

/* Open the cache version on disk into view->cache. Caller holds state_lock. A file that cannot be
 * opened (corrupt, unreadable) is logged once per version and treated as empty. */
static void open_cache(struct nss_view *view)
{
    char path[PATH_MAX];
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
    (void)cache_key_get(view, path, &key);
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
    char path[PATH_MAX];
    struct file_key key;

    if (!view->config_ok) {
        return false;
    }
    if (view->cache != NULL) {
        return eic_cache_stale(view->cache);
    }
    if (cache_key_get(view, path, &key) != 0) {
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
