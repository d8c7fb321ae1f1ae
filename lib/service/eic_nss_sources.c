/* Asking the other NSS sources about a name (eic_nss_sources.h). */
#include "eic_nss_sources.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eic_log.h"
#include "eic_time.h"
#include "eic_util.h"

/* nsswitch.conf is a few KiB; anything near this is not one. */
#define NSSWITCH_MAX (256 * 1024)
/* Sources on one line: glibc's lines have a handful. */
#define SOURCES_MAX 16
/* A source's entry for one name: grown from 4 KiB by doubling while it says ERANGE. */
#define ENTRY_BUF_START 4096
#define ENTRY_BUF_MAX (1024 * 1024)
/* Questions abandoned at their deadline (a hung directory) that may still be waiting, each in its
 * own thread; past this, a source is not asked again until one of them returns. */
#define ABANDONED_MAX 8

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);

static const char *db_name(enum eic_nss_db db)
{
    return db == EIC_NSS_PASSWD ? "passwd" : "group";
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_source_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does line (not NUL-terminated, [p, end)) start with "db:" (blanks allowed around the name, the
 * name in any case, as glibc accepts it)? *rest is what follows the colon. */
static bool line_is_db(const char *p, const char *end, const char *db, const char **rest)
{
    size_t len = strlen(db);

    while (p < end && is_space(*p)) {
        p++;
    }
    if ((size_t)(end - p) < len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower(p[i]) != db[i]) {
            return false;
        }
    }
    p += len;
    while (p < end && is_space(*p)) {
        p++;
    }
    if (p >= end || *p != ':') {
        return false;
    }
    *rest = p + 1;
    return true;
}

/* The sources of one line's [p, end), appended to sources[*n] without duplicates. */
static int parse_sources(const char *p, const char *end, char (*sources)[EIC_NSS_SOURCE_MAX], size_t max, size_t *n)
{
    while (p < end) {
        const char *start;
        size_t len;
        bool seen = false;

        if (is_space(*p)) {
            p++;
            continue;
        }
        if (*p == '[') {
            /* An action ("[NOTFOUND=return]"): it decides whether glibc goes on to the next
             * source; we ask every source whatever it says (see eic_nss_may_create). */
            while (p < end && *p != ']') {
                p++;
            }
            if (p >= end) {
                return EINVAL; /* glibc ignores the line; a line we cannot read refuses */
            }
            p++;
            continue;
        }
        start = p;
        while (p < end && !is_space(*p) && *p != '[') {
            if (!is_source_char(*p)) {
                return EINVAL;
            }
            p++;
        }
        len = (size_t)(p - start);
        if (len >= EIC_NSS_SOURCE_MAX) {
            return EINVAL;
        }
        /* files: the cache writer reads /etc/passwd and /etc/group itself, and refuses their names
         * (and nss_files would answer through glibc's own lock, which may be held by our caller).
         * eic: ourselves. */
        if ((len == 5 && memcmp(start, "files", 5) == 0) || (len == 3 && memcmp(start, "eic", 3) == 0)) {
            continue;
        }
        for (size_t i = 0; i < *n && !seen; i++) {
            seen = strncmp(sources[i], start, len) == 0 && sources[i][len] == '\0';
        }
        if (seen) {
            continue;
        }
        if (*n >= max) {
            return E2BIG;
        }
        memcpy(sources[*n], start, len);
        sources[*n][len] = '\0';
        (*n)++;
    }
    return 0;
}

int eic_nss_sources_list(const char *nsswitch_path, enum eic_nss_db db, char (*sources)[EIC_NSS_SOURCE_MAX],
                         size_t max, size_t *n)
{
    char *data = NULL;
    size_t len = 0;
    const char *p;
    const char *end;
    int ret;

    *n = 0;
    ret = eic_read_file(nsswitch_path, 0, NSSWITCH_MAX, &data, &len);
    if (ret == ENOENT) {
        return 0; /* no file: glibc's default, files only */
    }
    if (ret != 0) {
        return ret;
    }
    /* Every line naming db counts (glibc takes one of them; asking the sources of all is the
     * conservative reading). */
    for (p = data, end = data + len; p < end && ret == 0;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *hash;
        const char *line_end = eol != NULL ? eol : end;
        const char *rest;

        hash = memchr(p, '#', (size_t)(line_end - p));
        if (hash != NULL) {
            line_end = hash;
        }
        if (line_is_db(p, line_end, db_name(db), &rest)) {
            ret = parse_sources(rest, line_end, sources, max, n);
        }
        p = eol != NULL ? eol + 1 : end;
    }
    free(data);
    return ret;
}

/* ---- one question to one source ----------------------------------------------------------- */

/* Shared by the asking thread and the thread that asks: whichever lets go last frees it (the
 * asker lets go at its deadline, the source may answer much later or never). */
struct question {
    pthread_mutex_t lock;
    pthread_cond_t answered_cond;
    unsigned refs;
    bool answered;
    bool abandoned; /* the asker gave up waiting (counted in abandoned below) */
    enum eic_nss_db db;
    void *fn;
    char *name;
    int result;
    const char *status_name;
};

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned abandoned;

static const char *status_name(enum nss_status st)
{
    switch (st) {
    case NSS_STATUS_SUCCESS:
        return "SUCCESS";
    case NSS_STATUS_NOTFOUND:
        return "NOTFOUND";
    case NSS_STATUS_UNAVAIL:
        return "UNAVAIL";
    case NSS_STATUS_TRYAGAIN:
        return "TRYAGAIN";
    case NSS_STATUS_RETURN:
        return "RETURN";
    default:
        return "an unknown status";
    }
}

static void question_put(struct question *q)
{
    bool last;

    pthread_mutex_lock(&q->lock);
    last = --q->refs == 0;
    pthread_mutex_unlock(&q->lock);
    if (last) {
        pthread_cond_destroy(&q->answered_cond);
        pthread_mutex_destroy(&q->lock);
        free(q->name);
        free(q);
    }
}

/* The source's own call, with a buffer grown while it says ERANGE. */
static int call_source(const struct question *q, const char **st_name)
{
    struct passwd pw;
    struct group gr;
    enum nss_status st = NSS_STATUS_UNAVAIL;
    size_t len = ENTRY_BUF_START;
    char *buf = NULL;
    int err = 0;
    int ret;

    for (;;) {
        buf = malloc(len);
        if (buf == NULL) {
            ret = ENOMEM;
            goto done;
        }
        err = 0;
        if (q->db == EIC_NSS_PASSWD) {
            st = ((getpwnam_fn)q->fn)(q->name, &pw, buf, len, &err);
        } else {
            st = ((getgrnam_fn)q->fn)(q->name, &gr, buf, len, &err);
        }
        free(buf);
        buf = NULL;
        if (st != NSS_STATUS_TRYAGAIN || err != ERANGE) {
            break;
        }
        if (len >= ENTRY_BUF_MAX) {
            /* An entry of more than 1 MiB is still an entry: the source knows the name. */
            st = NSS_STATUS_SUCCESS;
            break;
        }
        len *= 2;
    }
    switch (st) {
    case NSS_STATUS_SUCCESS:
        ret = EEXIST;
        break;
    case NSS_STATUS_NOTFOUND:
        ret = 0;
        break;
    default:
        /* UNAVAIL (directory down, no offline cache), TRYAGAIN (busy) or anything else: the source
         * cannot say that it does not know the name. */
        ret = EAGAIN;
        break;
    }
done:
    *st_name = status_name(st);
    return ret;
}

static void *ask_thread(void *arg)
{
    struct question *q = arg;
    const char *st_name = NULL;
    int ret = call_source(q, &st_name);
    bool was_abandoned;

    pthread_mutex_lock(&q->lock);
    q->result = ret;
    q->status_name = st_name;
    q->answered = true;
    was_abandoned = q->abandoned;
    pthread_cond_signal(&q->answered_cond);
    pthread_mutex_unlock(&q->lock);
    if (was_abandoned) {
        pthread_mutex_lock(&abandoned_lock);
        abandoned--;
        pthread_mutex_unlock(&abandoned_lock);
    }
    question_put(q);
    return NULL;
}

/* The source's function for db, or NULL (not loadable, or it does not serve db: glibc then skips
 * it too, so it cannot shadow anyone). The library stays loaded, as glibc never unloads one. */
static void *source_function(const char *source, enum eic_nss_db db)
{
    char lib[EIC_NSS_SOURCE_MAX + 32];
    char sym[EIC_NSS_SOURCE_MAX + 32];
    void *handle;
    void *fn;
    int n;

    n = snprintf(lib, sizeof(lib), "libnss_%s.so.2", source);
    if (n < 0 || (size_t)n >= sizeof(lib)) {
        return NULL;
    }
    n = snprintf(sym, sizeof(sym), "_nss_%s_get%snam_r", source, db == EIC_NSS_PASSWD ? "pw" : "gr");
    if (n < 0 || (size_t)n >= sizeof(sym)) {
        return NULL;
    }
    /* The same search as glibc's own loading (its library path, ld.so.cache). */
    handle = dlopen(lib, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == NULL) {
        const char *why = dlerror();

        eic_log(LOG_NOTICE, "the NSS source %s cannot be loaded (%s); not asked (glibc cannot ask it either)",
                source, why != NULL ? why : "?");
        return NULL;
    }
    fn = dlsym(handle, sym);
    /* RTLD_NODELETE: this only drops our reference; fn stays valid. */
    dlclose(handle);
    return fn;
}

int eic_nss_source_ask(const char *source, enum eic_nss_db db, const char *name, uint64_t deadline_ms,
                       const char **status)
{
    struct question *q = NULL;
    pthread_condattr_t cattr;
    pthread_attr_t tattr;
    pthread_t tid;
    struct timespec until;
    void *fn;
    bool refuse;
    int ret;

    *status = "not asked";
    fn = source_function(source, db);
    if (fn == NULL) {
        return 0;
    }
    pthread_mutex_lock(&abandoned_lock);
    refuse = abandoned >= ABANDONED_MAX;
    pthread_mutex_unlock(&abandoned_lock);
    if (refuse) {
        *status = "no answer to earlier questions";
        return ETIMEDOUT;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return ENOMEM;
    }
    q->name = strdup(name);
    if (q->name == NULL) {
        free(q);
        return ENOMEM;
    }
    q->db = db;
    q->fn = fn;
    q->refs = 2;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->answered_cond, &cattr);
    pthread_condattr_destroy(&cattr);

    /* A thread of its own, so that a directory that never answers (an sssd hung on its server:
     * its client waits minutes) holds that thread only, never eicd's request past its deadline. */
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    ret = pthread_create(&tid, &tattr, ask_thread, q);
    pthread_attr_destroy(&tattr);
    if (ret != 0) {
        q->refs = 1;
        question_put(q);
        return ret == EAGAIN ? ENOMEM : ret;
    }
    until.tv_sec = (time_t)(deadline_ms / 1000u);
    until.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L;
    pthread_mutex_lock(&q->lock);
    while (!q->answered) {
        if (pthread_cond_timedwait(&q->answered_cond, &q->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    if (q->answered) {
        ret = q->result;
        *status = q->status_name;
    } else {
        ret = ETIMEDOUT;
        *status = "no answer";
        /* Marked and counted under q->lock: the thread, which reads the mark under it when the
         * source finally answers, uncounts exactly the questions counted here. */
        q->abandoned = true;
        pthread_mutex_lock(&abandoned_lock);
        abandoned++;
        pthread_mutex_unlock(&abandoned_lock);
    }
    pthread_mutex_unlock(&q->lock);
    question_put(q);
    return ret;
}

/* ---- the question eicd asks before creating an account ------------------------------------ */

int eic_nss_may_create(const char *nsswitch_path, const char *name, uint64_t deadline_ms)
{
    static const enum eic_nss_db dbs[] = {EIC_NSS_PASSWD, EIC_NSS_GROUP};
    char sources[SOURCES_MAX][EIC_NSS_SOURCE_MAX];
    const char *status = NULL;
    size_t n = 0;
    int ret = 0;

    /* Every source is asked, whatever actions nsswitch.conf gives: one that would end glibc's
     * search before eic only hides the account; one listed after eic is asked too, since a
     * source that knows the name makes it the directory's, wherever it is listed. The private
     * group has the account's name: a group source that knows that name is refused too (a local
     * group of that name is the cache writer's EEXIST). */
    for (size_t d = 0; d < sizeof(dbs) / sizeof(dbs[0]) && ret == 0; d++) {
        ret = eic_nss_sources_list(nsswitch_path, dbs[d], sources, SOURCES_MAX, &n);
        if (ret != 0) {
            eic_log(LOG_ERR, "%s not created: the %s line of %s cannot be used (%s)", name, db_name(dbs[d]),
                    nsswitch_path, strerror(ret));
            ret = ret == ENOMEM ? ENOMEM : EIO;
            break;
        }
        for (size_t i = 0; i < n && ret == 0; i++) {
            if (eic_ms_left(deadline_ms) == 0) {
                eic_log(LOG_WARNING, "%s not created now: no time left to ask the NSS source %s", name, sources[i]);
                ret = EAGAIN;
                break;
            }
            ret = eic_nss_source_ask(sources[i], dbs[d], name, deadline_ms, &status);
            switch (ret) {
            case 0:
                break;
            case EEXIST:
                if (dbs[d] == EIC_NSS_PASSWD) {
                    eic_log(LOG_WARNING, "%s not created: the NSS source %s knows it", name, sources[i]);
                } else {
                    eic_log(LOG_WARNING, "%s not created: the NSS source %s knows a group %s (its private group)",
                            name, sources[i], name);
                }
                break;
            case EAGAIN:
                eic_log(LOG_WARNING, "%s not created now: the NSS source %s answers %s for %s %s (unavailable: "
                        "it may know the name)", name, sources[i], status, db_name(dbs[d]), name);
                break;
            case ETIMEDOUT:
                eic_log(LOG_WARNING, "%s not created now: the NSS source %s did not answer in time (%s)", name,
                        sources[i], status);
                ret = EAGAIN; /* not "IMDS unreachable": eicd would answer every name so for 5 s */
                break;
            default:
                eic_log(LOG_ERR, "%s not created: the NSS source %s cannot be asked (%s)", name, sources[i],
                        strerror(ret));
                break;
            }
        }
    }
    return ret;
}
