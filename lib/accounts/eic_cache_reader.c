/* The account cache's reader (eic_cache.h; the format in eic_cache_format.h, docs/CACHE.md
 * explains the choices).
 *
 * This file is linked into nss_eic, which glibc loads into every process that resolves a user:
 * libc only, no global state, O_CLOEXEC on every descriptor, and nothing in the file is trusted
 * before it is checked. */
#include "eic_cache_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eic_log.h"

static bool valid_str(const struct eic_cache *c, uint32_t off)
{
    return off < c->strings_size;
}

/* Names strictly increasing: binary search is correct and names are unique. Every record's name
 * offset must have been checked. */
static bool names_sorted(const struct eic_cache *c, const struct rec_table *t)
{
    for (uint32_t i = 1; i < t->n; i++) {
        if (strcmp(name_at(c, t, i - 1), name_at(c, t, i)) >= 0) {
            return false;
        }
    }
    return true;
}

/* Every index entry a record position, ids strictly increasing along the index: binary search is
 * correct, ids are unique, and the index is a permutation (no position twice). */
static bool id_index_valid(const struct rec_table *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t pos = get32(t->id_index + 4 * (size_t)i);

        if (pos >= t->n || (i > 0 && id_at(t, get32(t->id_index + 4 * (size_t)(i - 1))) >= id_at(t, pos))) {
            return false;
        }
    }
    return true;
}

/* Checks the header and every record of a mapped file; fills c's section pointers. On EBADMSG the
 * reason is logged at debug level (the caller logs the failure itself). */
int eic_cache_verify(struct eic_cache *c)
{
    const unsigned char *m = c->map;
    uint64_t users_end, uidx_end, groups_off, groups_end, gidx_end, members_end;
    uint32_t n_users, n_groups, n_members;
    const char *why = NULL;
    int ret = EBADMSG;

    if (c->size < HDR_SIZE) {
        why = "shorter than its header";
        goto done;
    }
    if (memcmp(m + H_MAGIC, CACHE_MAGIC, 8) != 0) {
        why = "bad magic";
        goto done;
    }
    if (get32(m + H_VERSION) != CACHE_VERSION || get32(m + H_HDRSIZE) != HDR_SIZE ||
        get32(m + H_USERREC) != USER_REC || get32(m + H_GROUPREC) != GROUP_REC) {
        why = "unknown version or record sizes";
        goto done;
    }
    if (get64(m + H_FILESIZE) != c->size) {
        why = "size differs from the header (truncated?)";
        goto done;
    }
    if (get64(m + H_CHECKSUM) != eic_cache_file_checksum(m, c->size)) {
        why = "checksum mismatch";
        goto done;
    }

    /* Sections: exact, contiguous, in order (u64 arithmetic: no overflow from u32 counts). */
    n_users = get32(m + H_NUSERS);
    n_groups = get32(m + H_NGROUPS);
    n_members = get32(m + H_NMEMBERS);
    users_end = HDR_SIZE + (uint64_t)n_users * USER_REC;
    uidx_end = users_end + (uint64_t)n_users * 4;
    groups_off = (uidx_end + 7) & ~(uint64_t)7;
    groups_end = groups_off + (uint64_t)n_groups * GROUP_REC;
    gidx_end = groups_end + (uint64_t)n_groups * 4;
    members_end = gidx_end + (uint64_t)n_members * 4;
    if (get32(m + H_USERS) != HDR_SIZE || get32(m + H_UIDIDX) != users_end || get32(m + H_GROUPS) != groups_off ||
        get32(m + H_GIDIDX) != groups_end || get32(m + H_MEMBERS) != gidx_end ||
        get32(m + H_STRINGS) != members_end || members_end >= c->size ||
        get32(m + H_STRSIZE) != c->size - members_end) {
        why = "section offsets out of bounds";
        goto done;
    }
    c->generation = get64(m + H_GENERATION);
    c->users = (struct rec_table){.recs = m + HDR_SIZE, .id_index = m + users_end, .n = n_users,
                                  .rec_size = USER_REC, .name_field = U_NAME, .id_field = U_UID};
    c->groups = (struct rec_table){.recs = m + groups_off, .id_index = m + groups_end, .n = n_groups,
                                   .rec_size = GROUP_REC, .name_field = G_NAME, .id_field = G_GID};
    c->n_members = n_members;
    c->members = m + gidx_end;
    c->strings = (const char *)m + members_end;
    c->strings_size = (uint32_t)(c->size - members_end);
    if (c->strings[0] != '\0' || c->strings[c->strings_size - 1] != '\0') {
        why = "string section not NUL-terminated";
        goto done;
    }

    for (uint32_t i = 0; i < n_users; i++) {
        const unsigned char *u = user_rec(c, i);

        if (!valid_str(c, get32(u + U_NAME)) || !valid_str(c, get32(u + U_PRINCIPAL)) ||
            !valid_str(c, get32(u + U_GECOS)) || !valid_str(c, get32(u + U_HOME)) ||
            !valid_str(c, get32(u + U_SHELL)) || get32(u + U_NGROUPS) > EIC_CACHE_MAX_GROUPS_PER_USER ||
            str_at(c, get32(u + U_NAME))[0] == '\0') {
            why = "bad user record";
            goto done;
        }
    }
    if (!names_sorted(c, &c->users)) {
        why = "users not sorted by name";
        goto done;
    }
    if (!id_index_valid(&c->users)) {
        why = "bad uid index";
        goto done;
    }
    for (uint32_t i = 0; i < n_groups; i++) {
        const unsigned char *g = group_rec(c, i);
        uint32_t kind = get32(g + G_KIND);

        if (!valid_str(c, get32(g + G_NAME)) || str_at(c, get32(g + G_NAME))[0] == '\0' ||
            (kind != GROUP_PRIVATE && kind != GROUP_MANAGED) ||
            (uint64_t)get32(g + G_FIRST) + get32(g + G_NMEMBERS) > n_members) {
            why = "bad group record";
            goto done;
        }
    }
    if (!names_sorted(c, &c->groups)) {
        why = "groups not sorted by name";
        goto done;
    }
    if (!id_index_valid(&c->groups)) {
        why = "bad gid index";
        goto done;
    }
    for (uint32_t i = 0; i < n_members; i++) {
        if (get32(c->members + 4 * (size_t)i) >= n_users) {
            why = "bad member";
            goto done;
        }
    }
    ret = 0;

done:
    if (why != NULL) {
        eic_log(LOG_DEBUG, "account cache %s: %s", c->path ? c->path : "(new)", why);
    }
    return ret;
}

/* Maps and verifies an open descriptor (which it does not close). */
int eic_cache_map_fd(int fd, const char *path, struct eic_cache **out)
{
    struct eic_cache *c = NULL;
    struct stat st;
    void *map;
    int ret;

    *out = NULL;
    if (fstat(fd, &st) != 0) {
        ret = errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = EBADMSG;
        goto done;
    }
    /* Only what root (or, for tests, we ourselves) wrote is believed: a file someone else could
     * have written could name any uid. */
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        eic_log(LOG_DEBUG, "account cache %s: owned by uid %u or writable by others; ignored", path,
                (unsigned)st.st_uid);
        ret = EPERM;
        goto done;
    }
    if (st.st_size < (off_t)HDR_SIZE || st.st_size > (off_t)CACHE_MAX_FILE) {
        ret = EBADMSG; /* includes an empty file: a torn copy, never a valid empty cache */
        goto done;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        ret = ENOMEM;
        goto done;
    }
    c->path = strdup(path);
    if (c->path == NULL) {
        ret = ENOMEM;
        goto done;
    }
    /* The file is never modified in place (every version is a new inode, renamed over the old),
     * so a private read-only mapping sees one fixed version for as long as it lives. */
    /* MAP_POPULATE: the checksum reads every page anyway; one batched fault beats thousands. */
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        ret = errno;
        goto done;
    }
    c->map = map;
    c->size = (size_t)st.st_size;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->mtime = st.st_mtim;
    ret = eic_cache_verify(c);
    if (ret != 0) {
        goto done;
    }
    *out = c;
    c = NULL;

done:
    eic_cache_close(c);
    return ret;
}

int eic_cache_join_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);

    return (n < 0 || (size_t)n >= len) ? ENAMETOOLONG : 0;
}

int eic_cache_open(const char *dir, struct eic_cache **out)
{
    char path[PATH_MAX_LEN];
    int fd = -1;
    int ret;

    *out = NULL;
    ret = eic_cache_join_path(path, sizeof(path), dir, EIC_CACHE_FILE);
    if (ret != 0) {
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        ret = errno == ELOOP ? EBADMSG : errno; /* a symlink is not a file we wrote */
        goto done;
    }
    ret = eic_cache_map_fd(fd, path, out);

done:
    if (fd >= 0) {
        close(fd);
    }
    return ret;
}

void eic_cache_close(struct eic_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    if (cache->map != NULL) {
        munmap((void *)cache->map, cache->size);
    }
    free(cache->path);
    free(cache);
}

bool eic_cache_stale(const struct eic_cache *cache)
{
    struct stat st;

    if (stat(cache->path, &st) != 0) {
        return true;
    }
    /* Our mapping keeps the old inode alive, so a replaced file cannot reuse its number. */
    return st.st_dev != cache->dev || st.st_ino != cache->ino || (size_t)st.st_size != cache->size ||
           st.st_mtim.tv_sec != cache->mtime.tv_sec || st.st_mtim.tv_nsec != cache->mtime.tv_nsec;
}

uint64_t eic_cache_generation(const struct eic_cache *cache)
{
    return cache->generation;
}

void eic_cache_fill_user(const struct eic_cache *c, uint32_t pos, struct eic_cached_user *out)
{
    const unsigned char *u = user_rec(c, pos);

    memset(out, 0, sizeof(*out));
    out->name = str_at(c, get32(u + U_NAME));
    out->principal = str_at(c, get32(u + U_PRINCIPAL));
    out->gecos = str_at(c, get32(u + U_GECOS));
    out->home = str_at(c, get32(u + U_HOME));
    out->shell = str_at(c, get32(u + U_SHELL));
    out->uid = get32(u + U_UID);
    out->gid = get32(u + U_GID);
    out->created = (long long)get64(u + U_CREATED);
    out->n_groups = get32(u + U_NGROUPS);
    for (size_t i = 0; i < out->n_groups; i++) {
        out->groups[i] = get32(u + U_GROUPS + 4 * i);
    }
}

static void fill_group(const struct eic_cache *c, uint32_t pos, struct eic_cached_group *out)
{
    const unsigned char *g = group_rec(c, pos);

    memset(out, 0, sizeof(*out));
    out->name = str_at(c, get32(g + G_NAME));
    out->gid = get32(g + G_GID);
    out->n_members = get32(g + G_NMEMBERS);
    out->first_member = get32(g + G_FIRST);
}

/* Binary search over the records, sorted by name (names_sorted). */
int eic_cache_find_by_name(const struct eic_cache *c, const struct rec_table *t, const char *name, uint32_t *pos)
{
    uint32_t lo = 0, hi = t->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(name, name_at(c, t, mid));

        if (cmp == 0) {
            *pos = mid;
            return 0;
        }
        if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return ENOENT;
}

/* Binary search over the id index, sorted by id (id_index_valid). */
static int find_by_id(const struct rec_table *t, uint32_t id, uint32_t *pos)
{
    uint32_t lo = 0, hi = t->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t p = get32(t->id_index + 4 * (size_t)mid);
        uint32_t v = id_at(t, p);

        if (v == id) {
            *pos = p;
            return 0;
        }
        if (id < v) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return ENOENT;
}

int eic_cache_user_by_name(const struct eic_cache *cache, const char *name, struct eic_cached_user *out)
{
    uint32_t pos;
    int ret = eic_cache_find_by_name(cache, &cache->users, name, &pos);

    if (ret == 0) {
        eic_cache_fill_user(cache, pos, out);
    }
    return ret;
}

int eic_cache_user_by_uid(const struct eic_cache *cache, uid_t uid, struct eic_cached_user *out)
{
    uint32_t pos;
    int ret = find_by_id(&cache->users, uid, &pos);

    if (ret == 0) {
        eic_cache_fill_user(cache, pos, out);
    }
    return ret;
}

int eic_cache_user_at(const struct eic_cache *cache, size_t index, struct eic_cached_user *out)
{
    if (index >= cache->users.n) {
        return ENOENT;
    }
    eic_cache_fill_user(cache, (uint32_t)index, out);
    return 0;
}

size_t eic_cache_n_users(const struct eic_cache *cache)
{
    return cache->users.n;
}

int eic_cache_group_by_name(const struct eic_cache *cache, const char *name, struct eic_cached_group *out)
{
    uint32_t pos;
    int ret = eic_cache_find_by_name(cache, &cache->groups, name, &pos);

    if (ret == 0) {
        fill_group(cache, pos, out);
    }
    return ret;
}

int eic_cache_group_by_gid(const struct eic_cache *cache, gid_t gid, struct eic_cached_group *out)
{
    uint32_t pos;
    int ret = find_by_id(&cache->groups, gid, &pos);

    if (ret == 0) {
        fill_group(cache, pos, out);
    }
    return ret;
}

int eic_cache_group_at(const struct eic_cache *cache, size_t index, struct eic_cached_group *out)
{
    if (index >= cache->groups.n) {
        return ENOENT;
    }
    fill_group(cache, (uint32_t)index, out);
    return 0;
}

size_t eic_cache_n_groups(const struct eic_cache *cache)
{
    return cache->groups.n;
}

const char *eic_cache_group_member(const struct eic_cache *cache, const struct eic_cached_group *g, size_t i)
{
    /* g comes from the caller: checked again, it may be stale or from another handle. */
    if (i >= g->n_members || g->first_member > cache->n_members || g->n_members > cache->n_members - g->first_member) {
        return NULL;
    }
    return name_at(cache, &cache->users, get32(cache->members + 4 * (g->first_member + i)));
}
