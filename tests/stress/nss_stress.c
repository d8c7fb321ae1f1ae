/* NSS stress (issue #7 part 3): 16 threads resolve eic accounts through glibc's real NSS
 * (getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getgrouplist, setpwent/getpwent_r/endpwent)
 * while a writer thread replaces the account cache, one new version per added account.
 *
 * Run it with nsswitch.conf saying "passwd: files eic" and "group: files eic", libnss_eic.so.2
 * on LD_LIBRARY_PATH and EIC_CONFIG naming a configuration whose cache_dir is CACHE_DIR
 * (tests/integration/test_nss_tsan.sh does this, once with the normal build and once with
 * everything built with -fsanitize=thread). As root: the cache writer needs it.
 *
 *     nss_stress CACHE_DIR N_BASE N_ADDED
 *
 * The world: N_BASE accounts "base0000".. written before the threads start, then N_ADDED accounts
 * "added0000".. added one at a time, every account a member of the eic-managed group eic-stress.
 * Each added account is published to the readers (its UID, then the count, with release order)
 * only after eic_cache_add_user() returned, i.e. after the rename. What every answer must be:
 *   - base accounts: always found, every field exactly as written;
 *   - an added account published before the call: found (a replaced file is noticed at once),
 *     with its UID; one the writer had not started by the end of the call: never returned (the
 *     one it is writing may be: the rename comes before eic_cache_add_user() returns);
 *   - eic-stress: its members are all base accounts and exactly added0000..added(d-1), with d
 *     from the count published before the call to one more than the count after it: one
 *     version, never a mix;
 *   - getgrouplist(base): exactly its private group and eic-stress;
 *   - a UID in the range that no account has: not found; a buffer too small: ERANGE.
 * Anything else is counted as an error and the first ones are printed. Exit status 0 when there
 * were none. Timing is not asserted: the readers run until the writer is done. */
#include <errno.h>
#include <grp.h>
#include <link.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_cache_writer.h"

#define N_THREADS 16
#define MIN_ROUNDS_PER_THREAD 50 /* each thread does at least this many rounds of every lookup */
#define BIG_BUFFER (256 * 1024)  /* room for eic-stress with every member */
#define STRESS_GROUP "eic-stress"
#define PROBE_UID 299999         /* in the range; almost surely nobody's (checked if it is) */
#define MAX_ERRORS_SHOWN 20

static size_t n_base;
static size_t n_added;
static uid_t *base_uids;
static uid_t *added_uids;
static gid_t stress_gid;
static const char *cache_dir;

/* Written by the writer thread, read by the readers: added_uids[i] is set before the count that
 * makes it visible is stored with release order. */
static size_t published;
static bool writer_done;

static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long errors;

static void error_at(const char *what, const char *name, int ret)
{
    pthread_mutex_lock(&errors_lock);
    if (++errors <= MAX_ERRORS_SHOWN) {
        fprintf(stderr, "nss_stress: %s %s: %s\n", what, name, ret > 0 ? strerror(ret) : "wrong answer");
    }
    pthread_mutex_unlock(&errors_lock);
}

static size_t published_now(void)
{
    return __atomic_load_n(&published, __ATOMIC_ACQUIRE);
}

static void base_name(size_t i, char *out, size_t len)
{
    snprintf(out, len, "base%04zu", i);
}

static void added_name(size_t i, char *out, size_t len)
{
    snprintf(out, len, "added%04zu", i);
}

/* Which account a name is: 'b' (base) or 'a' (added) and its index, or 0. */
static char parse_name(const char *name, size_t *index)
{
    char kind;
    char *end;
    unsigned long v;

    if (strncmp(name, "base", 4) == 0) {
        kind = 'b';
        name += 4;
    } else if (strncmp(name, "added", 5) == 0) {
        kind = 'a';
        name += 5;
    } else {
        return 0;
    }
    errno = 0;
    v = strtoul(name, &end, 10);
    if (errno != 0 || end == name || *end != '\0' || strlen(name) != 4) {
        return 0;
    }
    *index = v;
    return kind;
}

/* The fields every eic account of this world has. */
static bool passwd_fields_ok(const struct passwd *pw, const char *name, uid_t uid)
{
    char home[64];

    snprintf(home, sizeof(home), "/home/%s", name);
    return strcmp(pw->pw_name, name) == 0 && strcmp(pw->pw_passwd, "*") == 0 && pw->pw_uid == uid &&
           pw->pw_gid == uid && strcmp(pw->pw_dir, home) == 0 && strcmp(pw->pw_shell, "/bin/bash") == 0 &&
           pw->pw_gecos != NULL;
}

/* An eic account found by any means (UID, enumeration) must be one of this world's, with its
 * fields. published_after: the count published when the call returned; the account being written
 * then (index published_after) may already be in the file, with a UID not yet published. */
static bool passwd_entry_ok(const struct passwd *pw, size_t published_after)
{
    size_t i;

    switch (parse_name(pw->pw_name, &i)) {
    case 'b':
        return i < n_base && passwd_fields_ok(pw, pw->pw_name, base_uids[i]);
    case 'a':
        if (i == published_after && i < n_added) {
            return pw->pw_uid >= 200000 && pw->pw_uid <= 299999 && passwd_fields_ok(pw, pw->pw_name, pw->pw_uid);
        }
        return i < published_after && passwd_fields_ok(pw, pw->pw_name, added_uids[i]);
    default:
        return false;
    }
}

static void check_getpwnam(const char *name, uid_t uid, char *buf)
{
    struct passwd pw;
    struct passwd *res = NULL;
    int ret;

    ret = getpwnam_r(name, &pw, buf, BIG_BUFFER, &res);
    if (ret != 0 || res != &pw || !passwd_fields_ok(&pw, name, uid)) {
        error_at("getpwnam_r", name, ret);
    }
}

static void check_getpwuid(const char *name, uid_t uid, char *buf)
{
    struct passwd pw;
    struct passwd *res = NULL;
    int ret;

    ret = getpwuid_r(uid, &pw, buf, BIG_BUFFER, &res);
    if (ret != 0 || res != &pw || !passwd_fields_ok(&pw, name, uid)) {
        error_at("getpwuid_r", name, ret);
    }
}

/* A too-small buffer is ERANGE (glibc's contract: the caller retries with a larger one), never a
 * partial answer or another error. */
static void check_erange(const char *name, char *buf)
{
    struct passwd pw;
    struct passwd *res = &pw;
    int ret;

    ret = getpwnam_r(name, &pw, buf, 8, &res);
    if (ret != ERANGE || res != NULL) {
        error_at("getpwnam_r with 8 bytes", name, ret);
    }
}

/* A UID no account has is "not found", nothing else; should the writer have given it out, the
 * answer must be that account. */
static void check_probe_uid(char *buf)
{
    struct passwd pw;
    struct passwd *res = &pw;
    int ret;

    ret = getpwuid_r(PROBE_UID, &pw, buf, BIG_BUFFER, &res);
    if (ret != 0 || (res != NULL && (res != &pw || !passwd_entry_ok(&pw, published_now())))) {
        error_at("getpwuid_r", "a UID in the range", ret);
    }
}

/* eic-stress, by name or by GID: one whole version of the member list. */
static void check_stress_group(bool by_name, char *buf)
{
    size_t before = published_now();
    size_t after;
    struct group gr;
    struct group *res = NULL;
    bool *seen_base = NULL;
    bool *seen_added = NULL;
    size_t n_added_seen = 0;
    size_t i;
    bool ok = false;
    int ret;

    ret = by_name ? getgrnam_r(STRESS_GROUP, &gr, buf, BIG_BUFFER, &res)
                  : getgrgid_r(stress_gid, &gr, buf, BIG_BUFFER, &res);
    after = published_now();
    if (ret != 0 || res != &gr) {
        goto done;
    }
    seen_base = calloc(n_base, sizeof(bool));
    seen_added = calloc(n_added, sizeof(bool));
    if (seen_base == NULL || seen_added == NULL || strcmp(gr.gr_name, STRESS_GROUP) != 0 ||
        gr.gr_gid != stress_gid || ((uintptr_t)gr.gr_mem % __alignof__(char *)) != 0) {
        goto done;
    }
    for (char **m = gr.gr_mem; *m != NULL; m++) {
        switch (parse_name(*m, &i)) {
        case 'b':
            if (i >= n_base || seen_base[i]) {
                goto done;
            }
            seen_base[i] = true;
            break;
        case 'a':
            if (i >= n_added || seen_added[i]) {
                goto done;
            }
            seen_added[i] = true;
            n_added_seen++;
            break;
        default:
            goto done;
        }
    }
    for (i = 0; i < n_base; i++) {
        if (!seen_base[i]) {
            goto done;
        }
    }
    /* Exactly added0000 .. added(d-1): a prefix, from one version of the file. */
    for (i = 0; i < n_added_seen; i++) {
        if (!seen_added[i]) {
            goto done;
        }
    }
    ok = n_added_seen >= before && n_added_seen <= after + 1;
done:
    if (!ok) {
        error_at(by_name ? "getgrnam_r" : "getgrgid_r", STRESS_GROUP, ret);
    }
    free(seen_base);
    free(seen_added);
}

static void check_grouplist(const char *name, uid_t uid)
{
    gid_t groups[8];
    int n = 8;
    bool ok;

    /* The private group (passed as the primary group, as login does) and eic-stress; the base
     * names are in no group of /etc/group. */
    ok = getgrouplist(name, uid, groups, &n) == 2 && n == 2 &&
         ((groups[0] == uid && groups[1] == stress_gid) || (groups[0] == stress_gid && groups[1] == uid));
    if (!ok) {
        error_at("getgrouplist", name, 0);
    }
}

/* Enumeration: glibc keeps one cursor per process, so the threads' walks interleave; each entry
 * still has to be a whole, correct account. The walk is bounded: another thread's setpwent can
 * restart it. */
static void check_enumeration(char *buf)
{
    size_t limit = 4 * (n_base + n_added) + 1000;
    struct passwd pw;
    struct passwd *res;
    int ret;

    setpwent();
    for (size_t k = 0; k < limit; k++) {
        res = NULL;
        ret = getpwent_r(&pw, buf, BIG_BUFFER, &res);
        if (ret == ENOENT || res == NULL) {
            if (ret != ENOENT && ret != 0) {
                error_at("getpwent_r", "(walk)", ret);
            }
            break;
        }
        if (pw.pw_uid >= 200000 && pw.pw_uid <= 299999 && !passwd_entry_ok(&pw, published_now())) {
            error_at("getpwent_r", pw.pw_name, 0);
        }
    }
    endpwent();
}

static void *reader(void *arg)
{
    unsigned int seed = (unsigned int)(uintptr_t)arg;
    char *buf = malloc(BIG_BUFFER);
    char name[32];
    unsigned long rounds = 0;
    size_t n;
    size_t i;

    if (buf == NULL) {
        error_at("malloc", "buffer", ENOMEM);
        return NULL;
    }
    while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE) || rounds < MIN_ROUNDS_PER_THREAD) {
        i = (size_t)rand_r(&seed) % n_base;
        base_name(i, name, sizeof(name));
        check_getpwnam(name, base_uids[i], buf);
        check_getpwuid(name, base_uids[i], buf);
        check_erange(name, buf);
        check_grouplist(name, base_uids[i]);
        n = published_now();
        if (n > 0) {
            i = (size_t)rand_r(&seed) % n;
            added_name(i, name, sizeof(name));
            check_getpwnam(name, added_uids[i], buf);
            check_getpwuid(name, added_uids[i], buf);
        }
        check_stress_group(true, buf);
        check_stress_group(false, buf);
        check_probe_uid(buf);
        if (rounds % 8 == 0) {
            check_enumeration(buf);
        }
        rounds++;
    }
    free(buf);
    return (void *)(uintptr_t)rounds;
}

static int add_account(const char *name, uid_t *uid)
{
    static const char *const groups[] = {STRESS_GROUP};
    const struct eic_cache_range range = {200000, 299999, NULL, NULL};
    struct eic_cache_new_user user = {name, NULL, groups, 1, "/home", "/bin/bash", false};
    char principal[96];

    snprintf(principal, sizeof(principal), "arn:aws:iam::111122223333:user/%s", name);
    user.principal = principal;
    return eic_cache_add_user(cache_dir, &range, &user, uid);
}

static void *writer(void *arg)
{
    char name[32];
    int ret;

    (void)arg;
    for (size_t i = 0; i < n_added; i++) {
        added_name(i, name, sizeof(name));
        ret = add_account(name, &added_uids[i]);
        if (ret != 0) {
            error_at("eic_cache_add_user", name, ret);
            break;
        }
        __atomic_store_n(&published, i + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&writer_done, true, __ATOMIC_RELEASE);
    return NULL;
}

/* The base accounts, and eic-stress's GID read back from the cache. */
static int write_base(void)
{
    struct eic_cache *cache = NULL;
    struct eic_cached_group g;
    char name[32];
    int ret;

    for (size_t i = 0; i < n_base; i++) {
        base_name(i, name, sizeof(name));
        ret = add_account(name, &base_uids[i]);
        if (ret != 0) {
            fprintf(stderr, "nss_stress: cannot add %s to %s: %s\n", name, cache_dir, strerror(ret));
            return ret;
        }
    }
    ret = eic_cache_open(cache_dir, &cache);
    if (ret == 0) {
        ret = eic_cache_group_by_name(cache, STRESS_GROUP, &g);
        stress_gid = g.gid;
    }
    eic_cache_close(cache);
    if (ret != 0) {
        fprintf(stderr, "nss_stress: cannot read %s back from %s: %s\n", STRESS_GROUP, cache_dir, strerror(ret));
    }
    return ret;
}

/* Which libnss_eic.so.2 glibc loaded (the test checks it is the one it built). */
static int print_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "libnss_eic.so.2") != NULL) {
        printf("module %s\n", info->dlpi_name);
    }
    return 0;
}

static bool parse_count(const char *s, size_t max, size_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    pthread_t readers[N_THREADS];
    pthread_t writer_thread;
    unsigned long rounds = 0;
    void *r;
    int ret = 1;

    if (argc != 4 || argv[1][0] != '/' || !parse_count(argv[2], 9999, &n_base) ||
        !parse_count(argv[3], 9999, &n_added)) {
        fprintf(stderr, "usage: nss_stress CACHE_DIR N_BASE N_ADDED (counts 1..9999)\n");
        return 2;
    }
    cache_dir = argv[1];
    base_uids = calloc(n_base, sizeof(uid_t));
    added_uids = calloc(n_added, sizeof(uid_t));
    if (base_uids == NULL || added_uids == NULL || write_base() != 0) {
        goto done;
    }
    for (size_t i = 0; i < N_THREADS; i++) {
        if (pthread_create(&readers[i], NULL, reader, (void *)(uintptr_t)(i + 1)) != 0) {
            fprintf(stderr, "nss_stress: pthread_create failed\n");
            abort(); /* the started threads are never joined; this is a test program */
        }
    }
    if (pthread_create(&writer_thread, NULL, writer, NULL) != 0) {
        fprintf(stderr, "nss_stress: pthread_create failed\n");
        abort();
    }
    pthread_join(writer_thread, NULL);
    for (size_t i = 0; i < N_THREADS; i++) {
        pthread_join(readers[i], &r);
        rounds += (unsigned long)(uintptr_t)r;
    }
    printf("threads %d, base accounts %zu, cache versions written while reading %zu, rounds %lu, errors %lu\n",
           N_THREADS, n_base, published_now(), rounds, errors);
    dl_iterate_phdr(print_module, NULL);
    ret = errors == 0 && published_now() == n_added ? 0 : 1;
done:
    free(base_uids);
    free(added_uids);
    return ret;
}
