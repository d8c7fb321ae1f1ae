/* The account cache's writer (eic_cache_writer.h; the format in
 * lib/accounts/eic_cache_format.h). eicd is the only process that writes the cache, and the only
 * one that links this: the clients (nss_eic, pam_eic, eic-authorized-keys) only read. */
#include "eic_cache_writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eic_cache_format.h"
#include "eic_log.h"
#include "eic_mapping.h"
#include "eic_util.h"

/* The in-memory model the writer edits: the current file's accounts plus the new ones. Strings
 * point into the old mapping (kept open until the new file is written) or into `owned`. */
struct m_user {
    const char *name, *principal, *gecos, *home, *shell;
    uint32_t uid;
    int64_t created;
    uint32_t n_groups;
    uint32_t groups[EIC_CACHE_MAX_GROUPS_PER_USER];
};

struct m_group {
    const char *name;
    uint32_t gid;
    uint32_t kind;
};

/* Open-addressing string -> u32 map (load <= 1/2). */
struct strmap {
    const char **keys;
    uint32_t *vals;
    size_t cap, n;
};

/* Open-addressing set of u32 ids; slots hold id + 1 so that 0 means empty. */
struct idset {
    uint64_t *slots;
    size_t cap, n;
};

struct writer {
    const struct eic_cache_range *range;
    struct m_user *users;
    size_t n_users, cap_users;
    struct m_group *groups;
    size_t n_groups, cap_groups;
    struct strmap user_by_name, group_by_name; /* -> index in users / groups */
    struct strmap local_users, local_groups;   /* names in passwd / group; local_groups -> gid */
    struct idset used;                         /* every id that may not be given out */
    uint64_t used_in_range;
    char **owned;
    size_t n_owned, cap_owned;
    bool changed;
    /* A probe (requests_change_nothing) only finds out whether the requests would change
     * anything: it logs nothing (the locked run that follows repeats and logs whatever it finds),
     * allocates no id and stops at the first change (ECANCELED). */
    bool probe;
};

/* The writer's log lines, silent in a probe. */
#define WRITER_LOG(w, ...)                                                                                             \
    do {                                                                                                               \
        if (!(w)->probe) {                                                                                             \
            eic_log(__VA_ARGS__);                                                                                      \
        }                                                                                                              \
    } while (0)

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;

    if (need <= *cap) {
        return 0;
    }
    ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) {
            return ENOMEM;
        }
        ncap *= 2;
    }
    p = realloc(*arr, ncap * elem);
    if (p == NULL) {
        return ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}


static int strmap_rehash(struct strmap *m, size_t ncap)
{
    const char **keys = calloc(ncap, sizeof(*keys));
    uint32_t *vals = calloc(ncap, sizeof(*vals));

    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL) {
            size_t j = eic_name_hash(m->keys[i]) & (ncap - 1);

            while (keys[j] != NULL) {
                j = (j + 1) & (ncap - 1);
            }
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    return 0;
}

static const uint32_t *strmap_get(const struct strmap *m, const char *key)
{
    if (m->cap == 0) {
        return NULL;
    }
    for (size_t j = eic_name_hash(key) & (m->cap - 1); m->keys[j] != NULL; j = (j + 1) & (m->cap - 1)) {
        if (strcmp(m->keys[j], key) == 0) {
            return &m->vals[j];
        }
    }
    return NULL;
}

/* key must outlive the map. An existing key keeps its first value. */
static int strmap_put(struct strmap *m, const char *key, uint32_t val)
{
    size_t j;
    int ret;

    if (2 * (m->n + 1) > m->cap) {
        ret = strmap_rehash(m, m->cap ? 2 * m->cap : 64);
        if (ret != 0) {
            return ret;
        }
    }
    for (j = eic_name_hash(key) & (m->cap - 1); m->keys[j] != NULL; j = (j + 1) & (m->cap - 1)) {
        if (strcmp(m->keys[j], key) == 0) {
            return 0;
        }
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
    return 0;
}

static void strmap_free(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
}

static size_t id_slot(uint32_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

static bool idset_has(const struct idset *s, uint32_t id)
{
    if (s->cap == 0) {
        return false;
    }
    for (size_t j = id_slot(id, s->cap); s->slots[j] != 0; j = (j + 1) & (s->cap - 1)) {
        if (s->slots[j] == (uint64_t)id + 1) {
            return true;
        }
    }
    return false;
}

/* *added: whether id was new. */
static int idset_add(struct idset *s, uint32_t id, bool *added)
{
    size_t j;

    *added = false;
    if (2 * (s->n + 1) > s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 256;
        uint64_t *slots = calloc(ncap, sizeof(*slots));

        if (slots == NULL) {
            return ENOMEM;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i] != 0) {
                size_t k = id_slot((uint32_t)(s->slots[i] - 1), ncap);

                while (slots[k] != 0) {
                    k = (k + 1) & (ncap - 1);
                }
                slots[k] = s->slots[i];
            }
        }
        free(s->slots);
        s->slots = slots;
        s->cap = ncap;
    }
    for (j = id_slot(id, s->cap); s->slots[j] != 0; j = (j + 1) & (s->cap - 1)) {
        if (s->slots[j] == (uint64_t)id + 1) {
            return 0;
        }
    }
    s->slots[j] = (uint64_t)id + 1;
    s->n++;
    *added = true;
    return 0;
}

static int mark_used(struct writer *w, uint32_t id)
{
    bool added;
    int ret = idset_add(&w->used, id, &added);

    if (ret == 0 && added && id >= w->range->min && id <= w->range->max) {
        w->used_in_range++;
    }
    return ret;
}

static char *own(struct writer *w, char *s)
{
    if (s == NULL || grow((void **)&w->owned, &w->cap_owned, w->n_owned + 1, sizeof(*w->owned)) != 0) {
        free(s);
        return NULL;
    }
    w->owned[w->n_owned++] = s;
    return s;
}

static char *own_printf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *own_printf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : own(w, s);
}

/* Names served through NSS: the POSIX portable filename characters, not starting with '-' (and
 * so never ':', ',', '/', blanks or newlines, which would break passwd/group lines), not all
 * digits (chown would read them as ids). The mapping checks login names more precisely; this is
 * the cache protecting its own format. */
static bool valid_name(const char *s)
{
    size_t len = strlen(s);
    bool digits_only = true;

    if (len == 0 || len > NAME_MAX_LEN || s[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-')) {
            return false;
        }
        if (ch < '0' || ch > '9') {
            digits_only = false;
        }
    }
    return !digits_only;
}

/* A field that becomes part of a passwd line (home, shell): printable, no ':'. */
static bool valid_field(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':') {
            return false;
        }
    }
    return true;
}

static int note_local_user(struct writer *w, const struct passwd *pw)
{
    char *name = own(w, strdup(pw->pw_name));
    int ret;

    if (name == NULL) {
        return ENOMEM;
    }
    ret = strmap_put(&w->local_users, name, 0);
    if (ret == 0) {
        ret = mark_used(w, pw->pw_uid);
    }
    if (ret == 0) {
        ret = mark_used(w, pw->pw_gid);
    }
    return ret;
}

static int note_local_group(struct writer *w, const struct group *gr)
{
    char *name = own(w, strdup(gr->gr_name));
    int ret;

    if (name == NULL) {
        return ENOMEM;
    }
    ret = strmap_put(&w->local_groups, name, gr->gr_gid);
    if (ret == 0) {
        ret = mark_used(w, gr->gr_gid);
    }
    return ret;
}

enum local_file { LOCAL_PASSWD, LOCAL_GROUP };

/* One entry of a local account file: pw for the passwd file, gr for the group file (the other NULL). */
typedef int (*local_entry_fn)(void *arg, const struct passwd *pw, const struct group *gr);

/* Reads /etc/passwd or /etc/group (or the override) directly with fgetpwent_r/fgetgrent_r, never
 * through NSS (which may answer from this very cache, or from nscd's copy of it), and hands every
 * entry to on_entry until it returns non-zero; that value is then returned. A file that cannot be
 * opened or read to its end is logged and gives EIO. */
static int read_local_file(enum local_file which, const char *path, local_entry_fn on_entry, void *arg)
{
    /* The longest entry read: a group lists its members, so it may be much longer than a user. */
    size_t max_len = which == LOCAL_PASSWD ? 1024 * 1024 : 16 * 1024 * 1024;
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 4096;
    int ret;

    if (f == NULL) {
        ret = errno;
        eic_log(LOG_ERR, "cannot read %s: %s", path, strerror(ret));
        ret = EIO;
        goto done;
    }
    buf = malloc(len);
    if (buf == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (;;) {
        struct passwd pw, *pw_res;
        struct group gr, *gr_res;

        ret = which == LOCAL_PASSWD ? fgetpwent_r(f, &pw, buf, len, &pw_res) : fgetgrent_r(f, &gr, buf, len, &gr_res);
        if (ret == ERANGE && len < max_len) {
            /* glibc rewinds to the start of the entry on ERANGE. */
            char *nbuf = realloc(buf, len * 2);

            if (nbuf == NULL) {
                ret = ENOMEM;
                goto done;
            }
            buf = nbuf;
            len *= 2;
            continue;
        }
        if (ret == ENOENT) {
            ret = 0;
            break;
        }
        if (ret != 0) {
            eic_log(LOG_ERR, "error reading %s: %s", path, strerror(ret));
            ret = EIO;
            goto done;
        }
        ret = which == LOCAL_PASSWD ? on_entry(arg, &pw, NULL) : on_entry(arg, NULL, &gr);
        if (ret != 0) {
            goto done;
        }
    }

done:
    free(buf);
    if (f != NULL) {
        fclose(f);
    }
    return ret;
}

/* Every local name (for EEXIST) and id (never given out) into the writer. */
static int note_local_entry(void *arg, const struct passwd *pw, const struct group *gr)
{
    struct writer *w = arg;

    return pw != NULL ? note_local_user(w, pw) : note_local_group(w, gr);
}

/* Both local account files of w's range into w. */
static int note_local_files(struct writer *w)
{
    const struct eic_cache_range *range = w->range;
    int ret = read_local_file(LOCAL_PASSWD, range->passwd_file ? range->passwd_file : "/etc/passwd",
                              note_local_entry, w);

    if (ret == 0) {
        ret = read_local_file(LOCAL_GROUP, range->group_file ? range->group_file : "/etc/group", note_local_entry, w);
    }
    return ret;
}

struct local_user_query {
    const char *name;
    uid_t uid;
};

static int match_local_user(void *arg, const struct passwd *pw, const struct group *gr)
{
    const struct local_user_query *q = arg;

    (void)gr;
    /* EEXIST stops the read: found. */
    return strcmp(pw->pw_name, q->name) == 0 && pw->pw_uid == q->uid ? EEXIST : 0;
}

int eic_cache_local_user_listed(const char *passwd_file, const char *name, uid_t uid)
{
    struct local_user_query q = {.name = name, .uid = uid};
    int ret = read_local_file(LOCAL_PASSWD, passwd_file ? passwd_file : "/etc/passwd", match_local_user, &q);

    return ret == EEXIST ? 0 : ret == 0 ? ENOENT : ret;
}

static int model_add_group(struct writer *w, const char *name, uint32_t gid, uint32_t kind)
{
    int ret = grow((void **)&w->groups, &w->cap_groups, w->n_groups + 1, sizeof(*w->groups));

    if (ret == 0) {
        ret = strmap_put(&w->group_by_name, name, (uint32_t)w->n_groups);
    }
    if (ret == 0) {
        ret = mark_used(w, gid);
    }
    if (ret != 0) {
        return ret;
    }
    w->groups[w->n_groups++] = (struct m_group){.name = name, .gid = gid, .kind = kind};
    return 0;
}

/* User pos of old into the model (its strings stay in old's mapping). */
static int model_add_user(struct writer *w, const struct eic_cache *old, uint32_t pos)
{
    struct eic_cached_user u;
    struct m_user *m;
    int ret;

    eic_cache_fill_user(old, pos, &u);
    ret = grow((void **)&w->users, &w->cap_users, w->n_users + 1, sizeof(*w->users));
    if (ret == 0) {
        ret = strmap_put(&w->user_by_name, u.name, (uint32_t)w->n_users);
    }
    if (ret == 0) {
        ret = mark_used(w, u.uid);
    }
    if (ret != 0) {
        return ret;
    }
    m = &w->users[w->n_users++];
    *m = (struct m_user){.name = u.name, .principal = u.principal, .gecos = u.gecos, .home = u.home,
                         .shell = u.shell, .uid = u.uid, .created = u.created, .n_groups = (uint32_t)u.n_groups};
    for (size_t k = 0; k < u.n_groups; k++) {
        m->groups[k] = u.groups[k];
    }
    return 0;
}

static int model_add_old_group(struct writer *w, const struct eic_cache *old, uint32_t pos)
{
    const unsigned char *g = group_rec(old, pos);

    return model_add_group(w, str_at(old, get32(g + G_NAME)), get32(g + G_GID), get32(g + G_KIND));
}

/* The current file's accounts into the model. */
static int load_model(struct writer *w, const struct eic_cache *old)
{
    int ret = 0;

    for (uint32_t i = 0; i < old->users.n && ret == 0; i++) {
        ret = model_add_user(w, old, i);
    }
    for (uint32_t i = 0; i < old->groups.n && ret == 0; i++) {
        ret = model_add_old_group(w, old, i);
    }
    return ret;
}

/* For a probe: only what add_one() reads of the current file for these requests, the requested
 * users and the groups they name (the local files are read in full as always). add_one() gives the
 * same answer on it as on the whole model whenever that answer is "nothing changes": every other
 * path of add_one() either reads the local files only or allocates an id (ECANCELED in a probe). */
static int load_model_for(struct writer *w, const struct eic_cache *old, const struct eic_cache_new_user *users,
                          size_t n)
{
    uint32_t pos;
    int ret = 0;

    for (size_t i = 0; i < n && ret == 0; i++) {
        if (users[i].name != NULL && strmap_get(&w->user_by_name, users[i].name) == NULL &&
            eic_cache_find_by_name(old, &old->users, users[i].name, &pos) == 0) {
            ret = model_add_user(w, old, pos);
        }
        for (size_t k = 0; k < users[i].n_group_names && users[i].group_names != NULL && ret == 0; k++) {
            const char *name = users[i].group_names[k];

            if (name != NULL && strmap_get(&w->group_by_name, name) == NULL &&
                eic_cache_find_by_name(old, &old->groups, name, &pos) == 0) {
                ret = model_add_old_group(w, old, pos);
            }
        }
    }
    return ret;
}

/* A free id: hash of key into [min, max], then the next free one (wrapping). Deterministic for
 * a given set of used ids. what/name are for the log line. */
static int alloc_id(struct writer *w, const char *key, const char *what, const char *name, uint32_t *out)
{
    uint64_t span = (uint64_t)w->range->max - w->range->min + 1;
    uint64_t start = eic_cache_fnv1a64(key, strlen(key), EIC_CACHE_FNV_OFFSET) % span;

    if (w->probe) {
        return ECANCELED; /* a new id is a change; and a partial model cannot tell which ids are free */
    }
    if (w->used_in_range >= span) {
        eic_log(LOG_ERR, "account cache: no free id left in %u-%u for %s %s", (unsigned)w->range->min,
                (unsigned)w->range->max, what, name);
        return ENOSPC;
    }
    /* used_in_range < span, so a free id exists and is found within used_in_range + 1 steps. */
    for (uint64_t i = 0; i < span; i++) {
        uint32_t id = (uint32_t)(w->range->min + (start + i) % span);

        if (!idset_has(&w->used, id)) {
            if (i > 0) {
                eic_log(LOG_NOTICE, "account cache: id %u (hash of %s %s) is taken; %s gets %u after %llu probes",
                        (unsigned)(w->range->min + start), what, name, name, (unsigned)id, (unsigned long long)i);
            }
            *out = id;
            return 0;
        }
    }
    return ENOSPC; /* not reached */
}

/* The gid of a rule group: local (from the group file), an existing eic group, or a new managed one. */
static int resolve_group(struct writer *w, const char *name, uint32_t *gid)
{
    const uint32_t *v;
    char *key, *copy;
    int ret;

    if (!valid_name(name)) {
        WRITER_LOG(w, LOG_WARNING, "account cache: refusing group name '%s' (not a portable name)", name);
        return EINVAL;
    }
    v = strmap_get(&w->local_groups, name);
    if (v != NULL) {
        *gid = *v;
        return 0;
    }
    v = strmap_get(&w->group_by_name, name);
    if (v != NULL) {
        *gid = w->groups[*v].gid;
        return 0;
    }
    if (strmap_get(&w->local_users, name) != NULL) {
        /* It would look like that local user's private group without being it. */
        WRITER_LOG(w, LOG_WARNING, "account cache: rule group %s is a local user name without a local group; refused",
                   name);
        return EINVAL;
    }
    key = own_printf(w, "group:%s", name);
    copy = own(w, strdup(name));
    if (key == NULL || copy == NULL) {
        return ENOMEM;
    }
    ret = alloc_id(w, key, "group", name, gid);
    if (ret == 0) {
        ret = model_add_group(w, copy, *gid, GROUP_MANAGED);
    }
    if (ret == 0) {
        w->changed = true;
        eic_log(LOG_INFO, "account cache: new eic group %s, gid %u", name, (unsigned)*gid);
    }
    return ret;
}

/* "IAM user/alice (111122223333)" from arn:PART:SERVICE::ACCOUNT:RESOURCE; the ARN itself when it
 * has another shape. ':' becomes '_' (the field goes into a passwd line). */
static char *make_gecos(struct writer *w, const char *arn)
{
    const char *f[6] = {arn};
    char *s;
    int n = 1;

    for (const char *p = arn; *p != '\0' && n < 6; p++) {
        if (*p == ':') {
            f[n++] = p + 1;
        }
    }
    if (n == 6 && f[5] - f[4] == 13) {
        s = own_printf(w, "IAM %s (%.12s)", f[5], f[4]);
    } else {
        s = own(w, strdup(arn));
    }
    for (char *p = s; p != NULL && *p != '\0'; p++) {
        if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '_';
        }
    }
    return s;
}

static bool same_groups(const struct m_user *u, const uint32_t *gids, uint32_t n)
{
    if (u->n_groups != n) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (u->groups[i] != gids[i]) {
            return false;
        }
    }
    return true;
}

/* Long enough for 16 groups of 32-character names with their gids. */
#define GROUP_LIST_LOG_MAX 1024

/* "sudo(27),eic-admins(200100)" for a log line ("none" for an empty list): the name of each gid,
 * from the model's groups or the local group file, "?" when neither has it. */
static void format_groups(const struct writer *w, const uint32_t *gids, uint32_t n, char *buf, size_t len)
{
    size_t pos = 0;

    snprintf(buf, len, "none");
    for (uint32_t i = 0; i < n && pos < len; i++) {
        const char *name = NULL;
        int k;

        for (size_t g = 0; g < w->n_groups && name == NULL; g++) {
            if (w->groups[g].gid == gids[i]) {
                name = w->groups[g].name;
            }
        }
        for (size_t slot = 0; slot < w->local_groups.cap && name == NULL; slot++) {
            if (w->local_groups.keys[slot] != NULL && w->local_groups.vals[slot] == gids[i]) {
                name = w->local_groups.keys[slot];
            }
        }
        k = snprintf(buf + pos, len - pos, "%s%s(%u)", i > 0 ? "," : "", name != NULL ? name : "?",
                     (unsigned)gids[i]);
        if (k < 0) {
            break;
        }
        pos += (size_t)k;
    }
}

static int add_one(struct writer *w, const struct eic_cache_new_user *req, uid_t *uid_out)
{
    const char *home_base = req->home_base ? req->home_base : "/home";
    const char *shell = req->shell ? req->shell : "/bin/bash";
    uint32_t gids[EIC_CACHE_MAX_GROUPS_PER_USER];
    uint32_t n_gids = 0;
    const uint32_t *existing;
    struct m_user *u;
    char *home;
    int ret = EINVAL;

    if (req->name == NULL || !valid_name(req->name)) {
        WRITER_LOG(w, LOG_WARNING, "account cache: refusing user name '%s' (not a portable name)",
                   req->name ? req->name : "(null)");
        goto done;
    }
    if (req->principal == NULL || strlen(req->principal) > PRINCIPAL_MAX_LEN || !valid_field(shell, PATH_MAX_LEN) ||
        !valid_field(home_base, PATH_MAX_LEN) || home_base[0] != '/' ||
        req->n_group_names > EIC_CACHE_MAX_GROUPS_PER_USER || (req->n_group_names > 0 && req->group_names == NULL)) {
        WRITER_LOG(w, LOG_WARNING, "account cache: refusing user %s: bad principal, home, shell or group list",
                   req->name);
        goto done;
    }
    if (strmap_get(&w->local_users, req->name) != NULL || strmap_get(&w->local_groups, req->name) != NULL) {
        WRITER_LOG(w, LOG_WARNING, "account cache: %s is a local %s name; not shadowing it", req->name,
                   strmap_get(&w->local_users, req->name) ? "user" : "group");
        ret = EEXIST;
        goto done;
    }
    existing = strmap_get(&w->user_by_name, req->name);
    if (existing == NULL && strmap_get(&w->group_by_name, req->name) != NULL) {
        /* An eic-managed rule group already has this name; a private group would duplicate it. */
        WRITER_LOG(w, LOG_WARNING, "account cache: %s is already an eic group name; not creating a user", req->name);
        ret = EEXIST;
        goto done;
    }
    ret = 0;
    for (size_t i = 0; i < req->n_group_names; i++) {
        uint32_t gid;
        bool dup = false;

        if (req->group_names[i] == NULL) {
            ret = EINVAL;
            goto done;
        }
        if (strcmp(req->group_names[i], req->name) == 0) {
            continue; /* the private group is the primary group already */
        }
        ret = resolve_group(w, req->group_names[i], &gid);
        if (ret != 0) {
            goto done;
        }
        for (uint32_t k = 0; k < n_gids; k++) {
            dup = dup || gids[k] == gid;
        }
        if (!dup) {
            gids[n_gids++] = gid;
        }
    }

    if (existing != NULL) {
        u = &w->users[*existing];
        /* An account belongs to the identity that created it: a principal of another identity
         * that derives the same name (a role session named after an IAM user) never gets it, only
         * an administrator's hand-over does (eicd --hand-over). */
        if (!req->hand_over && !eic_same_identity(u->principal, req->principal)) {
            WRITER_LOG(w, LOG_WARNING, "account cache: %s (uid %u) belongs to %s; %s is another identity and does not "
                       "get it", u->name, (unsigned)u->uid, u->principal, req->principal);
            ret = EPERM;
            goto done;
        }
        if (strcmp(u->principal, req->principal) != 0 || !same_groups(u, gids, n_gids) || strcmp(u->shell, shell) != 0) {
            if (w->probe) {
                ret = ECANCELED;
                goto done;
            }
            if (req->hand_over && !eic_same_identity(u->principal, req->principal)) {
                eic_log(LOG_WARNING, "account cache: %s (uid %u) handed over by an administrator to %s (was %s)",
                        u->name, (unsigned)u->uid, req->principal, u->principal);
                u->principal = own(w, strdup(req->principal));
                u->gecos = make_gecos(w, req->principal);
            } else if (strcmp(u->principal, req->principal) != 0) {
                eic_log(LOG_NOTICE, "account cache: %s (uid %u) now maps from %s (was %s, the same identity)", u->name,
                        (unsigned)u->uid, req->principal, u->principal);
                u->principal = own(w, strdup(req->principal));
                u->gecos = make_gecos(w, req->principal);
            }
            if (!same_groups(u, gids, n_gids)) {
                char was[GROUP_LIST_LOG_MAX], now[GROUP_LIST_LOG_MAX];

                format_groups(w, u->groups, u->n_groups, was, sizeof(was));
                format_groups(w, gids, n_gids, now, sizeof(now));
                eic_log(LOG_NOTICE, "account cache: %s (uid %u) groups now %s (were %s)", u->name, (unsigned)u->uid,
                        now, was);
            }
            if (strcmp(u->shell, shell) != 0) {
                eic_log(LOG_NOTICE, "account cache: %s (uid %u) shell now %s (was %s)", u->name, (unsigned)u->uid,
                        shell, u->shell);
            }
            u->shell = own(w, strdup(shell));
            if (u->principal == NULL || u->gecos == NULL || u->shell == NULL) {
                ret = ENOMEM;
                goto done;
            }
            u->n_groups = n_gids;
            memcpy(u->groups, gids, sizeof(gids[0]) * n_gids);
            w->changed = true;
        }
        *uid_out = u->uid;
        ret = 0;
        goto done;
    }

    ret = grow((void **)&w->users, &w->cap_users, w->n_users + 1, sizeof(*w->users));
    if (ret != 0) {
        goto done;
    }
    u = &w->users[w->n_users];
    *u = (struct m_user){.created = (int64_t)time(NULL), .n_groups = n_gids};
    memcpy(u->groups, gids, sizeof(gids[0]) * n_gids);
    u->name = own(w, strdup(req->name));
    u->principal = own(w, strdup(req->principal));
    u->gecos = make_gecos(w, req->principal);
    u->shell = own(w, strdup(shell));
    /* "/" as the base gives "/name", not "//name". */
    home = own_printf(w, "%s%s%s", home_base, home_base[strlen(home_base) - 1] == '/' ? "" : "/", req->name);
    u->home = home;
    if (u->name == NULL || u->principal == NULL || u->gecos == NULL || u->shell == NULL || u->home == NULL) {
        ret = ENOMEM;
        goto done;
    }
    ret = alloc_id(w, u->name, "user", u->name, &u->uid);
    if (ret != 0) {
        goto done;
    }
    ret = strmap_put(&w->user_by_name, u->name, (uint32_t)w->n_users);
    if (ret != 0) {
        goto done;
    }
    w->n_users++;
    ret = model_add_group(w, u->name, u->uid, GROUP_PRIVATE);
    if (ret != 0) {
        goto done;
    }
    w->changed = true;
    eic_log(LOG_INFO, "account cache: new user %s, uid %u, for %s", u->name, (unsigned)u->uid, u->principal);
    *uid_out = u->uid;

done:
    return ret;
}

static int cmp_user_ptr(const void *a, const void *b)
{
    return strcmp((*(const struct m_user *const *)a)->name, (*(const struct m_user *const *)b)->name);
}

static int cmp_group_ptr(const void *a, const void *b)
{
    return strcmp((*(const struct m_group *const *)a)->name, (*(const struct m_group *const *)b)->name);
}

struct id_pos {
    uint32_t id, pos;
};

static int cmp_id_pos(const void *a, const void *b)
{
    const struct id_pos *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Serializes the model into a new buffer (layout at the top of this file). */
static int serialize(const struct writer *w, uint64_t generation, unsigned char **out, size_t *out_len)
{
    const struct m_user **users = NULL;
    const struct m_group **groups = NULL;
    struct id_pos *ids = NULL, *gid_sorted = NULL;
    uint32_t *n_mem = NULL, *first = NULL, *fill = NULL;
    unsigned char *buf = NULL;
    uint64_t n_members = 0, strings = 1, users_end, groups_off, groups_end, gidx_end, members_end, size;
    uint64_t str_pos;
    size_t nu = w->n_users, ng = w->n_groups;
    int ret = ENOMEM;

    *out = NULL;
    if (nu > UINT32_MAX / USER_REC || ng > UINT32_MAX / GROUP_REC) {
        ret = EFBIG;
        goto done;
    }
    users = malloc((nu + 1) * sizeof(*users));
    groups = malloc((ng + 1) * sizeof(*groups));
    ids = malloc((nu + ng + 1) * sizeof(*ids));
    gid_sorted = malloc((ng + 1) * sizeof(*gid_sorted));
    n_mem = calloc(ng + 1, sizeof(*n_mem));
    first = calloc(ng + 1, sizeof(*first));
    fill = calloc(ng + 1, sizeof(*fill));
    if (users == NULL || groups == NULL || ids == NULL || gid_sorted == NULL || n_mem == NULL || first == NULL ||
        fill == NULL) {
        goto done;
    }
    for (size_t i = 0; i < nu; i++) {
        users[i] = &w->users[i];
    }
    for (size_t i = 0; i < ng; i++) {
        groups[i] = &w->groups[i];
    }
    qsort(users, nu, sizeof(*users), cmp_user_ptr);
    qsort(groups, ng, sizeof(*groups), cmp_group_ptr);
    for (size_t i = 0; i < ng; i++) {
        gid_sorted[i] = (struct id_pos){.id = groups[i]->gid, .pos = (uint32_t)i};
    }
    qsort(gid_sorted, ng, sizeof(*gid_sorted), cmp_id_pos);

    /* Members: a user belongs to every table group whose gid is in its groups[] (local gids are
     * not in the table and have no member list here). Counted, then filled in user name order. */
    for (size_t i = 0; i < nu; i++) {
        for (uint32_t k = 0; k < users[i]->n_groups; k++) {
            struct id_pos key = {.id = users[i]->groups[k]};
            struct id_pos *hit = bsearch(&key, gid_sorted, ng, sizeof(*gid_sorted), cmp_id_pos);

            if (hit != NULL) {
                n_mem[hit->pos]++;
                n_members++;
            }
        }
    }
    if (n_members > UINT32_MAX / 4) {
        ret = EFBIG;
        goto done;
    }
    for (size_t g = 0, acc = 0; g < ng; g++) {
        first[g] = (uint32_t)acc;
        acc += n_mem[g];
    }
    for (size_t i = 0; i < nu; i++) {
        strings += strlen(users[i]->name) + strlen(users[i]->principal) + strlen(users[i]->gecos) +
                   strlen(users[i]->home) + strlen(users[i]->shell) + 5;
    }
    for (size_t g = 0; g < ng; g++) {
        strings += strlen(groups[g]->name) + 1;
    }
    users_end = HDR_SIZE + (uint64_t)nu * USER_REC;
    groups_off = (users_end + 4 * (uint64_t)nu + 7) & ~(uint64_t)7;
    groups_end = groups_off + (uint64_t)ng * GROUP_REC;
    gidx_end = groups_end + 4 * (uint64_t)ng;
    members_end = gidx_end + 4 * n_members;
    size = members_end + strings;
    if (size > CACHE_MAX_FILE) {
        ret = EFBIG;
        goto done;
    }
    buf = calloc(1, (size_t)size);
    if (buf == NULL) {
        goto done;
    }

    str_pos = members_end + 1; /* offset 0 of the string section is "" */
#define PUT_STR(field_ptr, s)                                                                                      \
    do {                                                                                                           \
        size_t l_ = strlen(s) + 1;                                                                                 \
        put32((field_ptr), (uint32_t)(str_pos - members_end));                                                     \
        memcpy(buf + str_pos, (s), l_);                                                                            \
        str_pos += l_;                                                                                             \
    } while (0)

    for (size_t i = 0; i < nu; i++) {
        unsigned char *r = buf + HDR_SIZE + i * USER_REC;
        const struct m_user *u = users[i];

        PUT_STR(r + U_NAME, u->name);
        PUT_STR(r + U_PRINCIPAL, u->principal);
        PUT_STR(r + U_GECOS, u->gecos);
        PUT_STR(r + U_HOME, u->home);
        PUT_STR(r + U_SHELL, u->shell);
        put32(r + U_UID, u->uid);
        put32(r + U_GID, u->uid); /* the private group */
        put32(r + U_NGROUPS, u->n_groups);
        put64(r + U_CREATED, (uint64_t)u->created);
        for (uint32_t k = 0; k < u->n_groups; k++) {
            put32(r + U_GROUPS + 4 * k, u->groups[k]);
        }
        ids[i] = (struct id_pos){.id = u->uid, .pos = (uint32_t)i};

        for (uint32_t k = 0; k < u->n_groups; k++) {
            struct id_pos key = {.id = u->groups[k]};
            struct id_pos *hit = bsearch(&key, gid_sorted, ng, sizeof(*gid_sorted), cmp_id_pos);

            if (hit != NULL) {
                uint32_t slot = first[hit->pos] + fill[hit->pos]++;

                put32(buf + gidx_end + 4 * (uint64_t)slot, (uint32_t)i);
            }
        }
    }
    qsort(ids, nu, sizeof(*ids), cmp_id_pos);
    for (size_t i = 0; i < nu; i++) {
        put32(buf + users_end + 4 * i, ids[i].pos);
    }
    for (size_t g = 0; g < ng; g++) {
        unsigned char *r = buf + groups_off + g * GROUP_REC;

        PUT_STR(r + G_NAME, groups[g]->name);
        put32(r + G_GID, groups[g]->gid);
        put32(r + G_KIND, groups[g]->kind);
        put32(r + G_FIRST, first[g]);
        put32(r + G_NMEMBERS, n_mem[g]);
    }
#undef PUT_STR
    for (size_t g = 0; g < ng; g++) {
        put32(buf + groups_end + 4 * g, gid_sorted[g].pos);
    }

    memcpy(buf + H_MAGIC, CACHE_MAGIC, 8);
    put32(buf + H_VERSION, CACHE_VERSION);
    put32(buf + H_HDRSIZE, HDR_SIZE);
    put64(buf + H_FILESIZE, size);
    put64(buf + H_GENERATION, generation);
    put64(buf + H_WRITTEN, (uint64_t)time(NULL));
    put32(buf + H_NUSERS, (uint32_t)nu);
    put32(buf + H_USERREC, USER_REC);
    put32(buf + H_USERS, HDR_SIZE);
    put32(buf + H_UIDIDX, (uint32_t)users_end);
    put32(buf + H_NGROUPS, (uint32_t)ng);
    put32(buf + H_GROUPREC, GROUP_REC);
    put32(buf + H_GROUPS, (uint32_t)groups_off);
    put32(buf + H_GIDIDX, (uint32_t)groups_end);
    put32(buf + H_NMEMBERS, (uint32_t)n_members);
    put32(buf + H_MEMBERS, (uint32_t)gidx_end);
    put32(buf + H_STRINGS, (uint32_t)members_end);
    put32(buf + H_STRSIZE, (uint32_t)(size - members_end));
    put64(buf + H_CHECKSUM, eic_cache_file_checksum(buf, (size_t)size));
    *out = buf;
    *out_len = (size_t)size;
    buf = NULL;
    ret = 0;

done:
    free(users);
    free(groups);
    free(ids);
    free(gid_sorted);
    free(n_mem);
    free(first);
    free(fill);
    free(buf);
    return ret;
}

/* Writes buf as the new dir/accounts.db: temp file, fsync, rename, fsync of the directory. */
static int replace_file(const char *dir, int dirfd, const unsigned char *buf, size_t len)
{
    char tmp[PATH_MAX_LEN], final[PATH_MAX_LEN];
    int fd = -1;
    int ret;

    ret = eic_cache_join_path(tmp, sizeof(tmp), dir, TEMP_TEMPLATE);
    if (ret == 0) {
        ret = eic_cache_join_path(final, sizeof(final), dir, EIC_CACHE_FILE);
    }
    if (ret != 0) {
        goto done;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        ret = errno;
        tmp[0] = '\0';
        goto done;
    }
    if (fchmod(fd, 0644) != 0 || (ret = eic_write_all(fd, buf, len)) != 0 || fsync(fd) != 0) {
        ret = ret ? ret : errno;
        goto done;
    }
    ret = close(fd) == 0 ? 0 : errno;
    fd = -1;
    if (ret != 0) {
        goto done;
    }
    if (rename(tmp, final) != 0) {
        ret = errno;
        goto done;
    }
    tmp[0] = '\0';
    /* The rename is durable only once the directory is. */
    if (fsync(dirfd) != 0) {
        ret = errno;
    }

done:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp[0] != '\0' && ret != 0) {
        unlink(tmp);
    }
    if (ret != 0) {
        eic_log(LOG_ERR, "account cache: cannot write %s/%s: %s", dir, EIC_CACHE_FILE, strerror(ret));
    }
    return ret;
}

/* The directory: created 0755 if missing; must be ours (root's when we are root) and not
 * writable by group or others, or anyone could swap the file under us. */
static int open_dir(const char *dir, int *out)
{
    struct stat st;
    int fd;

    *out = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        int err = errno;

        eic_log(LOG_ERR, "account cache: cannot create %s: %s", dir, strerror(err));
        return err == EACCES || err == EPERM ? EACCES : EIO;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int err = errno;

        eic_log(LOG_ERR, "account cache: cannot open %s: %s", dir, strerror(err));
        return err == EACCES || err == EPERM ? EACCES : EIO;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        eic_log(LOG_ERR, "account cache: %s must be owned by uid %u and not group/world-writable; not writing",
                dir, (unsigned)geteuid());
        close(fd);
        return EACCES;
    }
    *out = fd;
    return 0;
}

/* Under the lock no other writer has a temp file open, so any left are from a writer that died
 * between mkostemp and rename: removed so they do not accumulate. Best effort. */
static void remove_stale_temps(int dirfd)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".accounts.db.", 13) == 0 && strlen(e->d_name) == strlen(TEMP_TEMPLATE)) {
            if (unlinkat(dirfd, e->d_name, 0) == 0) {
                eic_log(LOG_NOTICE, "account cache: removed %s left by an interrupted writer", e->d_name);
            }
        }
    }
    closedir(d);
}

static void writer_free(struct writer *w)
{
    for (size_t i = 0; i < w->n_owned; i++) {
        free(w->owned[i]);
    }
    free(w->owned);
    free(w->users);
    free(w->groups);
    strmap_free(&w->user_by_name);
    strmap_free(&w->group_by_name);
    strmap_free(&w->local_users);
    strmap_free(&w->local_groups);
    free(w->used.slots);
}

/* Would the requests leave the current version as it is? Most calls would: pam_eic's account step
 * asks at every login, and a rule seldom changes. That is told without the lock (readers never
 * need it) and without loading every account, which at 100 000 accounts costs the locked path
 * most of a second (bench/cache): add_one() runs as a probe on the requested users and the
 * groups they name. Any doubt (a change, an error, no readable file) is "no": the locked path
 * then decides, and logs. On "yes" uids holds the n UIDs. */
static bool requests_change_nothing(const char *dir, const struct eic_cache_range *range,
                                    const struct eic_cache_new_user *users, size_t n, uid_t *uids)
{
    struct writer w = {.range = range, .probe = true};
    struct eic_cache *old = NULL;
    bool unchanged = false;
    int ret;

    if (eic_cache_open(dir, &old) != 0) {
        goto done;
    }
    ret = note_local_files(&w);
    if (ret == 0) {
        ret = load_model_for(&w, old, users, n);
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        ret = add_one(&w, &users[i], &uids[i]);
    }
    unchanged = ret == 0 && !w.changed;
done:
    writer_free(&w);
    eic_cache_close(old); /* after the writer: the model's strings point into it */
    return unchanged;
}

bool eic_cache_user_unchanged(const char *dir, const struct eic_cache_range *range,
                              const struct eic_cache_new_user *user)
{
    uid_t uid;

    return requests_change_nothing(dir, range, user, 1, &uid);
}

int eic_cache_add_users(const char *dir, const struct eic_cache_range *range, const struct eic_cache_new_user *users,
                        size_t n, uid_t *uids)
{
    struct writer w = {.range = range};
    struct eic_cache *old = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    uid_t *tmp_uids = NULL;
    int dirfd = -1, lockfd = -1, fd;
    int ret = EINVAL;

    if (dir == NULL || range == NULL || (users == NULL && n > 0) || range->min > range->max ||
        range->min == 0 || range->max == UINT32_MAX) {
        eic_log(LOG_ERR, "account cache: invalid arguments (id range %u-%u)", range ? (unsigned)range->min : 0,
                range ? (unsigned)range->max : 0);
        goto done;
    }
    tmp_uids = calloc(n + 1, sizeof(*tmp_uids));
    if (tmp_uids == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (requests_change_nothing(dir, range, users, n, tmp_uids)) {
        ret = 0;
        goto give_uids;
    }
    ret = open_dir(dir, &dirfd);
    if (ret != 0) {
        goto done;
    }
    lockfd = openat(dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0) {
        eic_log(LOG_ERR, "account cache: cannot lock %s/%s: %s", dir, LOCK_FILE, strerror(errno));
        ret = EACCES;
        goto done;
    }

    remove_stale_temps(dirfd);

    /* Under the lock: the current version is the one we extend (another writer may have just
     * replaced it). A corrupt file is not replaced by a fresh one: that would forget which UIDs
     * were given out and could hand one to someone else. It is left for the administrator. */
    fd = openat(dirfd, EIC_CACHE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd >= 0) {
        char path[PATH_MAX_LEN];

        ret = eic_cache_join_path(path, sizeof(path), dir, EIC_CACHE_FILE);
        if (ret == 0) {
            ret = eic_cache_map_fd(fd, path, &old);
        }
        close(fd);
    } else {
        ret = errno;
    }
    if (ret != 0 && ret != ENOENT) {
        eic_log(LOG_ERR, "account cache: %s/%s is unreadable or corrupt (%s); not adding accounts until it is "
                "repaired or removed", dir, EIC_CACHE_FILE, strerror(ret));
        ret = EIO;
        goto done;
    }

    /* Reserved ids are never given out, whatever the range says: root, nobody, (uid_t)-1 in 16 bit. */
    ret = mark_used(&w, 0);
    if (ret == 0) {
        ret = mark_used(&w, 65534);
    }
    if (ret == 0) {
        ret = mark_used(&w, 65535);
    }
    /* Without the whole of both files no name or id can be shown to be free. */
    if (ret == 0) {
        ret = note_local_files(&w);
    }
    if (ret == 0 && old != NULL) {
        ret = load_model(&w, old);
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        ret = add_one(&w, &users[i], &tmp_uids[i]);
    }
    if (ret != 0) {
        goto done;
    }
    if (w.changed) {
        struct eic_cache check = {.path = NULL};

        ret = serialize(&w, old ? old->generation + 1 : 1, &buf, &len);
        if (ret != 0) {
            goto done;
        }
        /* Read back what we are about to publish with the reader's own checks. */
        check.map = buf;
        check.size = len;
        if (eic_cache_verify(&check) != 0) {
            eic_log(LOG_ERR, "account cache: internal error: the new version fails verification; not writing");
            ret = EIO;
            goto done;
        }
        ret = replace_file(dir, dirfd, buf, len);
        if (ret != 0) {
            ret = EIO; /* ENOSPC is reserved for "id range full" */
            goto done;
        }
    }
give_uids:
    if (uids != NULL) {
        memcpy(uids, tmp_uids, n * sizeof(*uids));
    }

done:
    free(buf);
    eic_cache_close(old); /* after serialize: the model's strings point into it */
    writer_free(&w);
    free(tmp_uids);
    if (lockfd >= 0) {
        close(lockfd); /* releases the lock */
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return ret;
}

int eic_cache_add_user(const char *dir, const struct eic_cache_range *range, const struct eic_cache_new_user *user,
                       uid_t *uid)
{
    return eic_cache_add_users(dir, range, user, 1, uid);
}
