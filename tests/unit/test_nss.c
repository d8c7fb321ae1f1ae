/* nss_eic's module (libnss_eic.so.2), loaded with dlopen as glibc loads it, against a cache
 * written with eic_cache_add_user() in a temporary directory. eicd, which a root process's miss
 * asks, is replaced by tests/unit/nss_fake_service.c (no IMDS). Root only for the cases that need
 * the miss path (it is only ever taken by root callers); they are skipped otherwise. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_cache_writer.h"
#include "nss_fake_service.h"
#include "unit_support.h"

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(void);
typedef enum nss_status (*getpwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

static struct {
    getpwnam_fn getpwnam_r;
    getpwuid_fn getpwuid_r;
    setent_fn setpwent;
    getpwent_fn getpwent_r;
    setent_fn endpwent;
    getgrnam_fn getgrnam_r;
    getgrgid_fn getgrgid_r;
    setent_fn setgrent;
    getgrent_fn getgrent_r;
    setent_fn endgrent;
    initgroups_fn initgroups_dyn;
} nss;

static void *module;
static char dir[64];
static char cache_dir[128];
static char config[128];
static char log_path[128];
static char passwd_file[128];
static char group_file[128];
static char miss_dir[128];
static char socket_path[128];

#define N_USERS 4
static const char *const user_names[N_USERS] = {"alice", "bob", "carol", "dave.smith"};
static uid_t user_uids[N_USERS];
static gid_t gid_admins;
static gid_t gid_dev;

/* ---- fixtures ------------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    char tmp[256];
    FILE *f;

    /* A new inode each time, as an editor or a package manager would leave it. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void write_config(unsigned long uid_min, unsigned long uid_max, const char *extra)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "cache_dir = %s\nuid_min = %lu\nuid_max = %lu\nlog_file = %s\nnegative_cache_ttl = 30\n"
             "imds_timeout_ms = 500\nhome_base = /home\nshell = /bin/bash\nservice_socket = %s\n%s"
             "[map arn:aws:iam::111122223333:user/*]\nname = {user}\n",
             cache_dir, uid_min, uid_max, log_path, socket_path, extra);
    write_file(config, text);
}

static int add_user(const char *name, const char *const *groups, size_t n_groups, uid_t *uid)
{
    struct eic_cache_new_user nu = {0};
    struct eic_cache_range range = {0};
    char arn[128];

    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", name);
    nu.name = name;
    nu.principal = arn;
    nu.group_names = groups;
    nu.n_group_names = n_groups;
    nu.home_base = "/home";
    nu.shell = "/bin/bash";
    range.min = 200000;
    range.max = 299999;
    range.passwd_file = passwd_file;
    range.group_file = group_file;
    return eic_cache_add_user(cache_dir, &range, &nu, uid);
}

static bool log_contains(const char *needle)
{
    char buf[65536];
    size_t n;
    FILE *f = fopen(log_path, "r");

    if (f == NULL) {
        return false;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

#define SYM(field, name)                                                                                            \
    do {                                                                                                            \
        *(void **)&nss.field = dlsym(module, name);                                                                 \
        assert_non_null(nss.field);                                                                                 \
    } while (0)

static int setup(void **state)
{
    static const char *const alice_groups[] = {"eic-admins", "sudo"};
    static const char *const bob_groups[] = {"eic-dev", "eic-admins"};
    struct eic_cached_group g;
    struct eic_cache *cache;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/eic-nss-test.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(cache_dir, sizeof(cache_dir), "%s/cache", dir);
    snprintf(config, sizeof(config), "%s/eic.conf", dir);
    snprintf(log_path, sizeof(log_path), "%s/eic.log", dir);
    snprintf(passwd_file, sizeof(passwd_file), "%s/passwd", dir);
    snprintf(group_file, sizeof(group_file), "%s/group", dir);
    snprintf(miss_dir, sizeof(miss_dir), "%s/run/miss", dir);
    snprintf(socket_path, sizeof(socket_path), "%s/eicd.sock", dir);
    if (mkdir(cache_dir, 0755) != 0) {
        return -1;
    }
    write_file(passwd_file, "root:x:0:0:root:/root:/bin/bash\nlocaluser:x:1000:1000::/home/localuser:/bin/sh\n");
    write_file(group_file, "root:x:0:\nsudo:x:27:localuser\nlocaluser:x:1000:\n");
    write_config(200000, 299999, "");
    setenv("EIC_CONFIG", config, 1);
    setenv("EIC_MISS_DIR", miss_dir, 1);
    setenv("FAKE_PASSWD", passwd_file, 1);
    setenv("FAKE_GROUP", group_file, 1);

    if (add_user("alice", alice_groups, 2, &user_uids[0]) != 0 || add_user("bob", bob_groups, 2, &user_uids[1]) != 0 ||
        add_user("carol", NULL, 0, &user_uids[2]) != 0 || add_user("dave.smith", NULL, 0, &user_uids[3]) != 0) {
        return -1;
    }
    if (eic_cache_open(cache_dir, &cache) != 0) {
        return -1;
    }
    if (eic_cache_group_by_name(cache, "eic-admins", &g) != 0) {
        return -1;
    }
    gid_admins = g.gid;
    if (eic_cache_group_by_name(cache, "eic-dev", &g) != 0) {
        return -1;
    }
    gid_dev = g.gid;
    eic_cache_close(cache);
    if (fake_service_start(socket_path) != 0) {
        return -1;
    }

    module = dlopen(NSS_EIC_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (module == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", NSS_EIC_MODULE, dlerror());
        return -1;
    }
    SYM(getpwnam_r, "_nss_eic_getpwnam_r");
    SYM(getpwuid_r, "_nss_eic_getpwuid_r");
    SYM(setpwent, "_nss_eic_setpwent");
    SYM(getpwent_r, "_nss_eic_getpwent_r");
    SYM(endpwent, "_nss_eic_endpwent");
    SYM(getgrnam_r, "_nss_eic_getgrnam_r");
    SYM(getgrgid_r, "_nss_eic_getgrgid_r");
    SYM(setgrent, "_nss_eic_setgrent");
    SYM(getgrent_r, "_nss_eic_getgrent_r");
    SYM(endgrent, "_nss_eic_endgrent");
    SYM(initgroups_dyn, "_nss_eic_initgroups_dyn");
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    fake_service_stop();
    /* The module is never unloaded by glibc either; dlclose would only hide leaks from valgrind. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        return -1;
    }
    return 0;
}

/* ---- helpers: every size from 1 byte up --------------------------------------------------- */

struct pw_copy {
    enum nss_status status;
    int err;
    char name[64], passwd[8], gecos[256], dir[256], shell[256];
    uid_t uid;
    gid_t gid;
};

static void copy_pw(const struct passwd *pw, struct pw_copy *c)
{
    snprintf(c->name, sizeof(c->name), "%s", pw->pw_name);
    snprintf(c->passwd, sizeof(c->passwd), "%s", pw->pw_passwd);
    snprintf(c->gecos, sizeof(c->gecos), "%s", pw->pw_gecos);
    snprintf(c->dir, sizeof(c->dir), "%s", pw->pw_dir);
    snprintf(c->shell, sizeof(c->shell), "%s", pw->pw_shell);
    c->uid = pw->pw_uid;
    c->gid = pw->pw_gid;
}

static void assert_pw_equal(const struct pw_copy *a, const struct pw_copy *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->passwd, b->passwd);
    assert_string_equal(a->gecos, b->gecos);
    assert_string_equal(a->dir, b->dir);
    assert_string_equal(a->shell, b->shell);
    assert_int_equal(a->uid, b->uid);
    assert_int_equal(a->gid, b->gid);
}

/* One lookup by name (name != NULL) or uid, with a heap buffer of exactly buflen bytes so that
 * valgrind sees any write past it. */
static void pw_lookup(const char *name, uid_t uid, size_t buflen, struct pw_copy *out)
{
    struct passwd pw;
    char *buf = malloc(buflen > 0 ? buflen : 1);

    assert_non_null(buf);
    memset(&pw, 0, sizeof(pw));
    out->err = 0;
    out->status = name != NULL ? nss.getpwnam_r(name, &pw, buf, buflen, &out->err)
                               : nss.getpwuid_r(uid, &pw, buf, buflen, &out->err);
    if (out->status == NSS_STATUS_SUCCESS) {
        copy_pw(&pw, out);
    }
    free(buf);
}

/* TRYAGAIN+ERANGE for every size below the one that works, then SUCCESS equal to ref. */
static void pw_all_sizes(const char *name, uid_t uid, const struct pw_copy *ref)
{
    struct pw_copy c;

    for (size_t len = 1; len < 1024; len++) {
        pw_lookup(name, uid, len, &c);
        if (c.status == NSS_STATUS_SUCCESS) {
            assert_pw_equal(&c, ref);
            return;
        }
        assert_int_equal(c.status, NSS_STATUS_TRYAGAIN);
        assert_int_equal(c.err, ERANGE);
    }
    fail_msg("no buffer size up to 1024 worked");
}

struct gr_copy {
    enum nss_status status;
    int err;
    char name[64], passwd[8];
    gid_t gid;
    size_t n_mem;
    char mem[8][64];
};

static void copy_gr(const struct group *gr, struct gr_copy *c)
{
    /* glibc callers dereference gr_mem as a char ** array: it must be aligned. */
    assert_int_equal((uintptr_t)gr->gr_mem % __alignof__(char *), 0);
    snprintf(c->name, sizeof(c->name), "%s", gr->gr_name);
    snprintf(c->passwd, sizeof(c->passwd), "%s", gr->gr_passwd);
    c->gid = gr->gr_gid;
    c->n_mem = 0;
    for (char **m = gr->gr_mem; *m != NULL; m++) {
        assert_true(c->n_mem < 8);
        snprintf(c->mem[c->n_mem++], sizeof(c->mem[0]), "%s", *m);
    }
}

static void assert_gr_equal(const struct gr_copy *a, const struct gr_copy *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->passwd, b->passwd);
    assert_int_equal(a->gid, b->gid);
    assert_int_equal(a->n_mem, b->n_mem);
    for (size_t i = 0; i < a->n_mem; i++) {
        assert_string_equal(a->mem[i], b->mem[i]);
    }
}

/* The buffer starts at an odd address (offset 1 of a heap block of exactly buflen + 1 bytes). */
static void gr_lookup(const char *name, gid_t gid, size_t buflen, struct gr_copy *out)
{
    struct group gr;
    char *block = malloc(buflen + 1);

    assert_non_null(block);
    memset(&gr, 0, sizeof(gr));
    out->err = 0;
    out->status = name != NULL ? nss.getgrnam_r(name, &gr, block + 1, buflen, &out->err)
                               : nss.getgrgid_r(gid, &gr, block + 1, buflen, &out->err);
    if (out->status == NSS_STATUS_SUCCESS) {
        copy_gr(&gr, out);
    }
    free(block);
}

static void gr_all_sizes(const char *name, gid_t gid, const struct gr_copy *ref)
{
    struct gr_copy c;

    for (size_t len = 1; len < 1024; len++) {
        gr_lookup(name, gid, len, &c);
        if (c.status == NSS_STATUS_SUCCESS) {
            assert_gr_equal(&c, ref);
            return;
        }
        assert_int_equal(c.status, NSS_STATUS_TRYAGAIN);
        assert_int_equal(c.err, ERANGE);
    }
    fail_msg("no buffer size up to 1024 worked");
}

/* ---- cases --------------------------------------------------------------------------------- */

static void test_passwd_by_name_and_uid(void **state)
{
    struct pw_copy ref;
    char home[64];

    (void)state;
    for (size_t i = 0; i < N_USERS; i++) {
        pw_lookup(user_names[i], 0, 4096, &ref);
        assert_int_equal(ref.status, NSS_STATUS_SUCCESS);
        snprintf(home, sizeof(home), "/home/%s", user_names[i]);
        assert_string_equal(ref.name, user_names[i]);
        assert_string_equal(ref.passwd, "*");
        assert_string_equal(ref.dir, home);
        assert_string_equal(ref.shell, "/bin/bash");
        assert_int_equal(ref.uid, user_uids[i]);
        assert_int_equal(ref.gid, user_uids[i]); /* the private group */
        assert_true(ref.uid >= 200000 && ref.uid <= 299999);
        pw_all_sizes(user_names[i], 0, &ref);
        pw_all_sizes(NULL, user_uids[i], &ref);
    }
}

static void test_group_by_name_and_gid(void **state)
{
    struct gr_copy ref;

    (void)state;
    /* eic-admins: alice and bob (member order is the cache's: by name). */
    gr_lookup("eic-admins", 0, 4096, &ref);
    assert_int_equal(ref.status, NSS_STATUS_SUCCESS);
    assert_string_equal(ref.passwd, "*");
    assert_int_equal(ref.gid, gid_admins);
    assert_int_equal(ref.n_mem, 2);
    assert_string_equal(ref.mem[0], "alice");
    assert_string_equal(ref.mem[1], "bob");
    gr_all_sizes("eic-admins", 0, &ref);
    gr_all_sizes(NULL, gid_admins, &ref);

    /* A private group: the user's name and uid, no members. */
    gr_lookup("carol", 0, 4096, &ref);
    assert_int_equal(ref.status, NSS_STATUS_SUCCESS);
    assert_int_equal(ref.gid, user_uids[2]);
    assert_int_equal(ref.n_mem, 0);
    gr_all_sizes("carol", 0, &ref);
    gr_all_sizes(NULL, user_uids[2], &ref);

    /* A local group a rule names is files' to serve, never eic's. */
    gr_lookup("sudo", 0, 4096, &ref);
    assert_int_equal(ref.status, NSS_STATUS_NOTFOUND);
    gr_lookup(NULL, 27, 4096, &ref);
    assert_int_equal(ref.status, NSS_STATUS_NOTFOUND);
}

static void test_not_found(void **state)
{
    static const char *const bad_names[] = {
        "", "-rf", ".hidden", "a/b", "a b", "toolongname_toolongname_toolongname", "x:y",
    };
    struct pw_copy p;
    struct gr_copy g;

    (void)state;
    pw_lookup(NULL, 12345, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(p.err, ENOENT);
    pw_lookup(NULL, 299999, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    gr_lookup(NULL, 12345, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(g.err, ENOENT);
    gr_lookup("nosuchgroup", 0, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        pw_lookup(bad_names[i], 0, 4096, &p);
        assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
        assert_int_equal(p.err, ENOENT);
        gr_lookup(bad_names[i], 0, 4096, &g);
        assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
    }
    /* A short buffer for a name that does not exist is NOTFOUND, not ERANGE. */
    pw_lookup(NULL, 12345, 1, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
}

static void test_never_root(void **state)
{
    struct pw_copy p;
    struct gr_copy g;

    (void)state;
    pw_lookup("root", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    pw_lookup(NULL, 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    gr_lookup("root", 0, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
    gr_lookup(NULL, 0, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
}

/* An account below uid_min (the configuration changed, or the file says so) is refused on read. */
static void test_uid_min_enforced_on_read(void **state)
{
    struct pw_copy p;
    struct gr_copy g;
    uid_t u = user_uids[0];

    (void)state;
    write_config((unsigned long)u + 1, (unsigned long)u + 1000, "negative_cache_ttl_unused_marker = 1\n");
    /* That config is invalid (unknown key): nothing is served, and it is logged. */
    pw_lookup(NULL, u, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_true(log_contains("eic serves no accounts until it is fixed"));

    write_config((unsigned long)u + 1, (unsigned long)u + 1000, "");
    pw_lookup(NULL, u, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    gr_lookup(NULL, u, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);
    gr_lookup("alice", 0, 4096, &g);
    assert_int_equal(g.status, NSS_STATUS_NOTFOUND);

    write_config(200000, 299999, "");
    pw_lookup(NULL, u, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_SUCCESS);
    assert_string_equal(p.name, "alice");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_enumeration(void **state)
{
    const char *expected[N_USERS];
    char names[16][64];
    size_t n = 0;
    struct passwd pw;
    struct group gr;
    char small[4];
    char buf[4096];
    enum nss_status st;
    int err;
    bool seen_admins = false;

    (void)state;
    memcpy(expected, user_names, sizeof(expected));
    qsort(expected, N_USERS, sizeof(expected[0]), cmp_str);

    assert_int_equal(nss.setpwent(), NSS_STATUS_SUCCESS);
    for (;;) {
        /* A short buffer first: ERANGE, and the same entry comes with the larger one. */
        st = nss.getpwent_r(&pw, small, sizeof(small), &err);
        if (st == NSS_STATUS_NOTFOUND) {
            break;
        }
        assert_int_equal(st, NSS_STATUS_TRYAGAIN);
        assert_int_equal(err, ERANGE);
        st = nss.getpwent_r(&pw, buf, sizeof(buf), &err);
        assert_int_equal(st, NSS_STATUS_SUCCESS);
        assert_true(n < 16);
        snprintf(names[n++], sizeof(names[0]), "%s", pw.pw_name);
    }
    assert_int_equal(err, ENOENT);
    assert_int_equal(nss.endpwent(), NSS_STATUS_SUCCESS);
    assert_int_equal(n, N_USERS);
    for (size_t i = 0; i < N_USERS; i++) {
        assert_string_equal(names[i], expected[i]);
    }

    /* getpwent without setpwent starts at the beginning. */
    assert_int_equal(nss.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_name, expected[0]);
    assert_int_equal(nss.endpwent(), NSS_STATUS_SUCCESS);

    /* Groups: the private groups and the eic-managed ones. */
    n = 0;
    assert_int_equal(nss.setgrent(), NSS_STATUS_SUCCESS);
    for (;;) {
        st = nss.getgrent_r(&gr, small, sizeof(small), &err);
        if (st == NSS_STATUS_NOTFOUND) {
            break;
        }
        assert_int_equal(st, NSS_STATUS_TRYAGAIN);
        st = nss.getgrent_r(&gr, buf + 1, sizeof(buf) - 1, &err);
        assert_int_equal(st, NSS_STATUS_SUCCESS);
        assert_int_equal((uintptr_t)gr.gr_mem % __alignof__(char *), 0);
        seen_admins |= strcmp(gr.gr_name, "eic-admins") == 0;
        n++;
    }
    assert_int_equal(nss.endgrent(), NSS_STATUS_SUCCESS);
    assert_int_equal(n, N_USERS + 2);
    assert_true(seen_admins);
}

static void test_initgroups(void **state)
{
    gid_t primary = user_uids[0];
    long int start;
    long int size;
    gid_t *groups;
    int err;

    (void)state;
    /* alice: eic-admins and the local sudo (27); her primary group is the caller's. */
    start = 1;
    size = 1;
    groups = malloc(sizeof(gid_t));
    assert_non_null(groups);
    groups[0] = primary;
    assert_int_equal(nss.initgroups_dyn("alice", primary, &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
    assert_int_equal(start, 3);
    assert_true(size >= 3);
    assert_int_equal(groups[0], primary);
    assert_true((groups[1] == gid_admins && groups[2] == 27) || (groups[1] == 27 && groups[2] == gid_admins));
    /* Again into the same array: nothing is added twice. */
    assert_int_equal(nss.initgroups_dyn("alice", primary, &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
    assert_int_equal(start, 3);
    free(groups);

    /* limit: never more than limit entries, and the array never grows past it. */
    start = 1;
    size = 1;
    groups = malloc(sizeof(gid_t));
    assert_non_null(groups);
    groups[0] = primary;
    assert_int_equal(nss.initgroups_dyn("alice", primary, &start, &size, &groups, 2, &err), NSS_STATUS_SUCCESS);
    assert_int_equal(start, 2);
    assert_int_equal(size, 2);
    free(groups);

    /* bob: two eic-managed groups, from an empty array. */
    start = 0;
    size = 0;
    groups = NULL;
    assert_int_equal(nss.initgroups_dyn("bob", user_uids[1], &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
    assert_int_equal(start, 2);
    assert_true((groups[0] == gid_admins && groups[1] == gid_dev) || (groups[0] == gid_dev && groups[1] == gid_admins));
    free(groups);

    /* Another user of the name alice (a directory's, whose passwd entry glibc found first: another
     * primary gid) borrows nothing: not her private group, not eic-admins, not sudo. Nor does a
     * caller that names no primary group ((gid_t)-1, as getent initgroups does). */
    {
        const gid_t others[] = {5000, user_uids[1], 27, gid_admins, (gid_t)-1};

        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
            start = 1;
            size = 1;
            groups = malloc(sizeof(gid_t));
            assert_non_null(groups);
            groups[0] = others[i];
            err = 0;
            assert_int_equal(nss.initgroups_dyn("alice", others[i], &start, &size, &groups, 0, &err),
                             NSS_STATUS_NOTFOUND);
            assert_int_equal(err, ENOENT);
            assert_int_equal(start, 1);
            assert_int_equal(groups[0], others[i]);
            free(groups);
        }
    }

    start = 0;
    size = 0;
    groups = NULL;
    assert_int_equal(nss.initgroups_dyn("nobody-here", 100, &start, &size, &groups, 0, &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(nss.initgroups_dyn("root", 0, &start, &size, &groups, 0, &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(start, 0);
    free(groups);
}

/* The on-disk negative-cache file holding exactly text; false if none. Every file there must be
 * a slot ("slot-HH": a bounded number of files, whatever names are tried). */
static bool find_miss_entry(const char *text, char *path, size_t path_len)
{
    DIR *d = opendir(miss_dir);
    struct dirent *e;
    bool found = false;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len;
        char *content;

        if (e->d_name[0] == '.') {
            continue;
        }
        assert_int_equal(strlen(e->d_name), 7);
        assert_memory_equal(e->d_name, "slot-", 5);
        assert_non_null(strchr("0123456789abcdef", e->d_name[5]));
        assert_non_null(strchr("0123456789abcdef", e->d_name[6]));
        assert_true((size_t)snprintf(path, path_len, "%s/%s", miss_dir, e->d_name) < path_len);
        content = unit_read_file(path, &len);
        if (content != NULL && strcmp(content, text) == 0) {
            found = true;
            free(content);
            break;
        }
        free(content);
    }
    closedir(d);
    return found;
}

/* Root callers: a miss goes to the service, once; the negative cache answers after that. */
static void test_heavy_path(void **state)
{
    struct pw_copy p;
    struct pw_copy again;
    char path[256];
    struct stat st;
    unsigned int before;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    /* A name the service finds: added to the cache and served from it. */
    pw_lookup("newcomer", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_SUCCESS);
    assert_string_equal(p.name, "newcomer");
    assert_string_equal(p.dir, "/home/newcomer");
    assert_true(p.uid >= 200000 && p.uid <= 299999);
    before = fake_service_calls();
    assert_true(before >= 1);
    pw_lookup("newcomer", 0, 4096, &again);
    assert_pw_equal(&p, &again);
    pw_lookup(NULL, p.uid, 4096, &again);
    assert_pw_equal(&p, &again);
    assert_int_equal(fake_service_calls(), before);

    /* A name it does not know: NOTFOUND, and the second time without asking. */
    pw_lookup("stranger", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(p.err, ENOENT);
    assert_int_equal(fake_service_calls(), before + 1);
    pw_lookup("stranger", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(fake_service_calls(), before + 1);
    /* ... remembered on disk too, in a private directory, for the next process. */
    assert_true(find_miss_entry("2 stranger\n", path, sizeof(path)));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(miss_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* Names no rule can give (all digits: chown asks getpwnam("1000") first; a Samba machine
     * account "HOST$"): NOTFOUND without asking, and nothing remembered on disk. */
    for (size_t i = 0; i < 2; i++) {
        const char *never = i == 0 ? "1000" : "HOST$";

        pw_lookup(never, 0, 4096, &p);
        assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
        snprintf(path, sizeof(path), "%s/%s", miss_dir, never);
        assert_int_equal(stat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
    }
    assert_int_equal(fake_service_calls(), before + 1);

    /* IMDS unreachable: UNAVAIL (never TRYAGAIN), remembered as well. */
    pw_lookup("downstairs", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_UNAVAIL);
    assert_int_equal(p.err, ETIMEDOUT);
    pw_lookup("downstairs", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_UNAVAIL);
    assert_int_equal(fake_service_calls(), before + 2);

    /* A local account (the service says EEXIST): NOTFOUND, files answers for it. */
    pw_lookup("localthing", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);

    /* Lookups by uid and of groups never take the heavy path. */
    before = fake_service_calls();
    pw_lookup(NULL, 254321, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(fake_service_calls(), before);
}

/* Only a plain root process takes the heavy path: with euid 0 but another real uid (a setuid-root
 * program run by a user: su, sudo -u, passwd NAME) a miss is NOTFOUND, the service is not asked and nothing is remembered on disk. AT_SECURE itself is tested end to end with a real
 * setuid su and sudo (tests/integration/test_e2e_setuid.sh). */
static void test_heavy_path_plain_root_only(void **state)
{
    struct pw_copy p;
    char path[256];
    unsigned int before;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    before = fake_service_calls();
    assert_int_equal(setresuid(65534, 0, 0), 0);
    pw_lookup("newbysetuid", 0, 4096, &p);
    assert_int_equal(setresuid(0, 0, 0), 0);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(p.err, ENOENT);
    assert_int_equal(fake_service_calls(), before);
    assert_false(find_miss_entry("2 newbysetuid\n", path, sizeof(path)));

    /* The same lookup by plain root does go to the service (which adds the account). */
    pw_lookup("newbysetuid", 0, 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_SUCCESS);
    assert_int_equal(fake_service_calls(), before + 1);
}

/* A cache file that fails verification is not trusted: nothing is served and it is logged. */
static void test_corrupt_cache(void **state)
{
    char db[256];
    char saved[256];
    char cmd[1200];
    struct pw_copy p;
    int fd;

    (void)state;
    snprintf(db, sizeof(db), "%s/%s", cache_dir, EIC_CACHE_FILE);
    snprintf(saved, sizeof(saved), "%s/saved.db", dir);
    snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s' && cp '%s' '%s.new'", db, saved, db, db);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s.new", db);
    fd = open(cmd, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, 200), 4); /* inside the user records */
    close(fd);
    assert_int_equal(rename(cmd, db), 0);

    pw_lookup(NULL, user_uids[1], 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_true(log_contains("cannot use the account cache"));

    assert_int_equal(rename(saved, db), 0);
    pw_lookup(NULL, user_uids[1], 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_SUCCESS);
    assert_string_equal(p.name, "bob");
}

/* A host that closes descriptors it does not know of (a daemon detaching: close 3..N) and opens
 * a file of its own, which gets the number of the module's log file. Regression: the module went
 * on writing its lines into the host's file. Now it sees the descriptor is not its file any more
 * (device and inode), never writes there, and opens the log file again. The log lines are made by
 * a configuration with an unknown key (logged once per version of the file). */
static void test_log_descriptor_taken_by_host(void **state)
{
    char host_path[256];
    struct pw_copy p;
    struct stat st;
    int log_fd;
    int host_fd;

    (void)state;
    write_config(200000, 299999, "first_unknown_key = 1\n");
    pw_lookup(NULL, user_uids[0], 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_true(log_contains("first_unknown_key"));

    log_fd = unit_fd_open_on(log_path);
    assert_true(log_fd > STDERR_FILENO);
    assert_int_equal(close(log_fd), 0);
    snprintf(host_path, sizeof(host_path), "%s/host-file", dir);
    host_fd = open(host_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(host_fd >= 0);
    if (host_fd != log_fd) {
        assert_int_equal(dup2(host_fd, log_fd), log_fd);
        assert_int_equal(close(host_fd), 0);
        host_fd = log_fd;
    }

    write_config(200000, 299999, "second_unknown_key = 1\n");
    pw_lookup(NULL, user_uids[0], 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_NOTFOUND);
    assert_int_equal(stat(host_path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_true(log_contains("second_unknown_key"));
    /* the host's descriptor is still the host's */
    assert_int_equal(fstat(host_fd, &st), 0);
    assert_int_equal(write(host_fd, "host\n", 5), 5);
    assert_int_equal(close(host_fd), 0);

    write_config(200000, 299999, "");
    pw_lookup(NULL, user_uids[0], 4096, &p);
    assert_int_equal(p.status, NSS_STATUS_SUCCESS);
}

/* 16 threads look users up while the cache is replaced (new accounts added) under them. */
#define N_THREADS 16
static int threads_stop;

static void *lookup_thread(void *arg)
{
    unsigned int seed = (unsigned int)(uintptr_t)arg;
    char buf[1024];
    char home[64];
    struct passwd pw;
    struct group gr;
    size_t i;
    int err;
    long bad = 0;

    for (unsigned long iter = 0; !__atomic_load_n(&threads_stop, __ATOMIC_ACQUIRE) || iter < 200; iter++) {
        enum nss_status st;

        i = (size_t)rand_r(&seed) % N_USERS;
        snprintf(home, sizeof(home), "/home/%s", user_names[i]);
        st = (iter & 1) ? nss.getpwnam_r(user_names[i], &pw, buf, sizeof(buf), &err)
                        : nss.getpwuid_r(user_uids[i], &pw, buf, sizeof(buf), &err);
        if (st != NSS_STATUS_SUCCESS || strcmp(pw.pw_name, user_names[i]) != 0 || pw.pw_uid != user_uids[i] ||
            strcmp(pw.pw_dir, home) != 0 || strcmp(pw.pw_passwd, "*") != 0 || strcmp(pw.pw_shell, "/bin/bash") != 0) {
            bad++;
        }
        st = nss.getgrgid_r(gid_admins, &gr, buf, sizeof(buf), &err);
        if (st != NSS_STATUS_SUCCESS || strcmp(gr.gr_name, "eic-admins") != 0 || gr.gr_mem[0] == NULL ||
            strcmp(gr.gr_mem[0], "alice") != 0) {
            bad++;
        }
    }
    return (void *)bad;
}

static void test_threads_while_cache_replaced(void **state)
{
    pthread_t threads[N_THREADS];
    char name[32];
    uid_t uid;
    void *bad;
    long total = 0;

    (void)state;
    if (geteuid() != 0) {
        skip(); /* eic_cache_add_user writes root-owned files */
    }
    __atomic_store_n(&threads_stop, 0, __ATOMIC_RELEASE);
    for (size_t i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, lookup_thread, (void *)(uintptr_t)(i + 1)), 0);
    }
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof(name), "thread%02d", i);
        assert_int_equal(add_user(name, NULL, 0, &uid), 0);
    }
    __atomic_store_n(&threads_stop, 1, __ATOMIC_RELEASE);
    for (size_t i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], &bad), 0);
        total += (long)bad;
    }
    assert_int_equal(total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwd_by_name_and_uid),
        cmocka_unit_test(test_group_by_name_and_gid),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_never_root),
        cmocka_unit_test(test_uid_min_enforced_on_read),
        cmocka_unit_test(test_enumeration),
        cmocka_unit_test(test_initgroups),
        cmocka_unit_test(test_heavy_path),
        cmocka_unit_test(test_heavy_path_plain_root_only),
        cmocka_unit_test(test_corrupt_cache),
        cmocka_unit_test(test_log_descriptor_taken_by_host),
        cmocka_unit_test(test_threads_while_cache_replaced),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
