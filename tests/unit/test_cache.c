/* Unit tests for the account cache (lib/accounts/eic_cache_reader.c, lib/service/eic_cache_writer.c):
 * lookups, UID allocation, the writer's refusals, corruption of every kind, concurrent readers
 * during writes, 100 000 accounts.
 * Every test works in its own temporary directory with fixture passwd/group files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* White box: the file format's layout and checksum, so the structural tests can forge files with
 * a valid checksum and reach the checks behind it. */
#include "eic_cache_format.h"
#include "eic_cache_writer.h"
#include "eic_log.h"
#include "unit_support.h"

#define ARN(name) "arn:aws:iam::111122223333:user/" name

struct fx {
    char root[64];
    char dir[128];    /* the cache directory */
    char dir2[128];   /* a second, independent one */
    char passwd[128];
    char group[128];
    char log[128];
    struct eic_cache_range range;
};

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static int setup(void **state)
{
    static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
                                 "localuser:x:2005:2005::/home/localuser:/bin/sh\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    static const char group[] = "root:x:0:\n"
                                "sudo:x:27:localuser\n"
                                "localgrp:x:2010:\n"
                                "localuser:x:2005:\n";
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    strcpy(fx->root, "/tmp/eic-test-cache.XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    assert_int_equal(chmod(fx->root, 0755), 0);
    snprintf(fx->dir, sizeof(fx->dir), "%s/cache", fx->root);
    snprintf(fx->dir2, sizeof(fx->dir2), "%s/cache2", fx->root);
    snprintf(fx->passwd, sizeof(fx->passwd), "%s/passwd", fx->root);
    snprintf(fx->group, sizeof(fx->group), "%s/group", fx->root);
    snprintf(fx->log, sizeof(fx->log), "%s/log", fx->root);
    assert_int_equal(mkdir(fx->dir, 0755), 0);
    assert_int_equal(mkdir(fx->dir2, 0755), 0);
    write_file(fx->passwd, passwd, strlen(passwd));
    write_file(fx->group, group, strlen(group));
    fx->range = (struct eic_cache_range){.min = 10000, .max = 59999, .passwd_file = fx->passwd,
                                         .group_file = fx->group};
    eic_log_open("test_cache", fx->log, 0);
    eic_log_set_level(LOG_DEBUG);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    eic_log_close();
    unit_remove_tree(fx->root);
    free(fx);
    return 0;
}

static int add_as(const struct fx *fx, const char *dir, const char *name, const char *arn,
                  const char *const *groups, size_t n_groups, uid_t *uid)
{
    struct eic_cache_new_user u = {.name = name, .principal = arn, .group_names = groups,
                                   .n_group_names = n_groups, .home_base = "/home", .shell = "/bin/bash"};
    uid_t dummy;

    return eic_cache_add_user(dir, &fx->range, &u, uid ? uid : &dummy);
}

/* name for IAM user name */
static int add(const struct fx *fx, const char *dir, const char *name, const char *const *groups, size_t n_groups,
               uid_t *uid)
{
    char arn[256];

    snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", name);
    return add_as(fx, dir, name, arn, groups, n_groups, uid);
}

static struct eic_cache *open_ok(const char *dir)
{
    struct eic_cache *c = NULL;

    assert_int_equal(eic_cache_open(dir, &c), 0);
    assert_non_null(c);
    return c;
}

/* The UID hash is a cross-host contract: recomputed here independently. */
static uint32_t expected_id(const char *key, uint32_t min, uint32_t max)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const char *p = key; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    return (uint32_t)(min + h % ((uint64_t)max - min + 1));
}

static bool log_contains(const struct fx *fx, const char *needle)
{
    size_t len;
    char *buf = unit_read_file(fx->log, &len);
    bool found = buf != NULL && strstr(buf, needle) != NULL;

    free(buf);
    return found;
}

static void test_add_and_lookup(void **state)
{
    struct fx *fx = *state;
    const char *alice_groups[] = {"sudo", "eic-admins"};
    const char *bob_groups[] = {"eic-admins"};
    struct eic_cached_user u;
    struct eic_cached_group g, admins;
    struct eic_cache *c;
    uid_t alice, bob;

    assert_int_equal(add(fx, fx->dir, "alice", alice_groups, 2, &alice), 0);
    assert_int_equal(alice, expected_id("alice", 10000, 59999));
    assert_int_equal(add(fx, fx->dir, "bob", bob_groups, 1, &bob), 0);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_generation(c), 2);

    assert_int_equal(eic_cache_user_by_name(c, "alice", &u), 0);
    assert_string_equal(u.name, "alice");
    assert_int_equal(u.uid, alice);
    assert_int_equal(u.gid, alice);
    assert_string_equal(u.principal, ARN("alice"));
    assert_string_equal(u.gecos, "IAM user/alice (111122223333)");
    assert_string_equal(u.home, "/home/alice");
    assert_string_equal(u.shell, "/bin/bash");
    assert_true(u.created > 0);
    assert_int_equal(u.n_groups, 2);
    assert_int_equal(u.groups[0], 27); /* the local sudo group, from the group file */
    assert_int_equal(eic_cache_group_by_name(c, "eic-admins", &admins), 0);
    assert_int_equal(u.groups[1], admins.gid);
    assert_int_equal(admins.gid, expected_id("group:eic-admins", 10000, 59999));

    assert_int_equal(eic_cache_user_by_uid(c, bob, &u), 0);
    assert_string_equal(u.name, "bob");
    assert_int_equal(eic_cache_user_by_name(c, "carol", &u), ENOENT);
    assert_int_equal(eic_cache_user_by_name(c, "", &u), ENOENT);
    assert_int_equal(eic_cache_user_by_uid(c, 27, &u), ENOENT);

    /* The managed group lists its members in name order; private groups exist, with gid == uid. */
    assert_int_equal(admins.n_members, 2);
    assert_string_equal(eic_cache_group_member(c, &admins, 0), "alice");
    assert_string_equal(eic_cache_group_member(c, &admins, 1), "bob");
    assert_null(eic_cache_group_member(c, &admins, 2));
    assert_int_equal(eic_cache_group_by_gid(c, admins.gid, &g), 0);
    assert_string_equal(g.name, "eic-admins");
    assert_int_equal(eic_cache_group_by_name(c, "alice", &g), 0);
    assert_int_equal(g.gid, alice);
    assert_int_equal(g.n_members, 0);
    assert_int_equal(eic_cache_group_by_gid(c, bob, &g), 0);
    assert_string_equal(g.name, "bob");
    /* Local groups are served by files, not duplicated here. */
    assert_int_equal(eic_cache_group_by_name(c, "sudo", &g), ENOENT);
    assert_int_equal(eic_cache_group_by_gid(c, 27, &g), ENOENT);

    /* Enumeration: sorted by name. */
    assert_int_equal(eic_cache_n_users(c), 2);
    assert_int_equal(eic_cache_user_at(c, 0, &u), 0);
    assert_string_equal(u.name, "alice");
    assert_int_equal(eic_cache_user_at(c, 1, &u), 0);
    assert_string_equal(u.name, "bob");
    assert_int_equal(eic_cache_user_at(c, 2, &u), ENOENT);
    assert_int_equal(eic_cache_n_groups(c), 3);
    assert_int_equal(eic_cache_group_at(c, 0, &g), 0);
    assert_string_equal(g.name, "alice");
    assert_int_equal(eic_cache_group_at(c, 1, &g), 0);
    assert_string_equal(g.name, "bob");
    assert_int_equal(eic_cache_group_at(c, 2, &g), 0);
    assert_string_equal(g.name, "eic-admins");
    assert_int_equal(eic_cache_group_at(c, 3, &g), ENOENT);
    eic_cache_close(c);
}

static void test_file_modes(void **state)
{
    struct fx *fx = *state;
    char path[256];
    struct stat st;

    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), 0);
    snprintf(path, sizeof(path), "%s/accounts.db", fx->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    snprintf(path, sizeof(path), "%s/accounts.lock", fx->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_stale_temp_removed(void **state)
{
    struct fx *fx = *state;
    char path[256];

    snprintf(path, sizeof(path), "%s/.accounts.db.AbC123", fx->dir); /* a writer died here */
    write_file(path, "partial", 7);
    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_true(log_contains(fx, "interrupted writer"));
}

static void test_stable_uid_across_dirs(void **state)
{
    struct fx *fx = *state;
    uid_t a, b;

    assert_int_equal(add(fx, fx->dir, "carol", NULL, 0, &a), 0);
    /* A different history in the second directory. */
    assert_int_equal(add(fx, fx->dir2, "zed", NULL, 0, NULL), 0);
    assert_int_equal(add(fx, fx->dir2, "yan", NULL, 0, NULL), 0);
    assert_int_equal(add(fx, fx->dir2, "carol", NULL, 0, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(a, expected_id("carol", 10000, 59999));
}

/* Two names hashing to the same slot of a two-id range. */
static void colliding_names(uint32_t min, uint32_t max, char *a, char *b, size_t len)
{
    uint32_t first = 0;

    for (int i = 0;; i++) {
        char name[32];

        snprintf(name, sizeof(name), "c%d", i);
        if (i == 0) {
            first = expected_id(name, min, max);
            snprintf(a, len, "%s", name);
        } else if (expected_id(name, min, max) == first) {
            snprintf(b, len, "%s", name);
            return;
        }
    }
}

static void test_collision(void **state)
{
    struct fx *fx = *state;
    char a[32], b[32];
    uid_t ua, ub, ua2, ub2;
    struct eic_cache *c;

    fx->range.min = 20000;
    fx->range.max = 20001;
    colliding_names(20000, 20001, a, b, sizeof(a));
    assert_int_equal(add(fx, fx->dir, a, NULL, 0, &ua), 0);
    assert_int_equal(ua, expected_id(a, 20000, 20001));
    assert_int_equal(add(fx, fx->dir, b, NULL, 0, &ub), 0);
    assert_int_not_equal(ua, ub);
    assert_true(ub >= 20000 && ub <= 20001);
    assert_true(log_contains(fx, "is taken"));
    /* Deterministic: the same history elsewhere gives the same ids. */
    assert_int_equal(add(fx, fx->dir2, a, NULL, 0, &ua2), 0);
    assert_int_equal(add(fx, fx->dir2, b, NULL, 0, &ub2), 0);
    assert_int_equal(ua, ua2);
    assert_int_equal(ub, ub2);

    /* The range is full: refused, nothing written. */
    assert_int_equal(add(fx, fx->dir, "third", NULL, 0, NULL), ENOSPC);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_n_users(c), 2);
    assert_int_equal(eic_cache_generation(c), 2);
    eic_cache_close(c);
    /* A managed group needs an id too. */
    {
        const char *groups[] = {"newgroup"};

        assert_int_equal(add(fx, fx->dir, a, groups, 1, NULL), ENOSPC);
    }
    /* Re-adding an existing user needs no new id. */
    assert_int_equal(add(fx, fx->dir, a, NULL, 0, &ua2), 0);
    assert_int_equal(ua2, ua);
}

static void test_local_names_refused(void **state)
{
    struct fx *fx = *state;
    struct eic_cache *c = NULL;

    assert_int_equal(add(fx, fx->dir, "localuser", NULL, 0, NULL), EEXIST);
    assert_int_equal(add(fx, fx->dir, "root", NULL, 0, NULL), EEXIST);
    assert_int_equal(add(fx, fx->dir, "localgrp", NULL, 0, NULL), EEXIST); /* a local group name */
    assert_int_equal(eic_cache_open(fx->dir, &c), ENOENT);                 /* nothing written */
    assert_true(log_contains(fx, "not shadowing"));
}

static void test_local_ids_skipped(void **state)
{
    struct fx *fx = *state;
    uid_t uids[4];
    char name[16];

    /* 2005 is in the passwd fixture, 2010 in the group fixture: 2006..2009 are free. */
    fx->range.min = 2005;
    fx->range.max = 2010;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        assert_int_equal(add(fx, fx->dir, name, NULL, 0, &uids[i]), 0);
        assert_true(uids[i] >= 2006 && uids[i] <= 2009);
        for (int k = 0; k < i; k++) {
            assert_int_not_equal(uids[i], uids[k]);
        }
    }
    assert_int_equal(add(fx, fx->dir, "u4", NULL, 0, NULL), ENOSPC);

    /* Reserved ids are never given out either. */
    fx->range.min = 65534;
    fx->range.max = 65535;
    assert_int_equal(add(fx, fx->dir2, "n0", NULL, 0, NULL), ENOSPC);
}

static void test_readd_keeps_uid(void **state)
{
    struct fx *fx = *state;
    const char *g1[] = {"sudo"};
    const char *g2[] = {"eic-ops", "localgrp"};
    struct eic_cache_new_user u = {.name = "dave", .principal = "arn:aws:sts::111122223333:assumed-role/Ops/dave",
                                   .group_names = g2, .n_group_names = 2};
    struct eic_cached_user cu;
    struct eic_cached_group g;
    struct eic_cache *c;
    char line[256], lock[300], saved[300];
    uid_t first, second;

    assert_int_equal(add(fx, fx->dir, "dave", g1, 1, &first), 0);
    /* IAM user dave's account is not lent to a role session that chose the name dave: another
     * identity is refused, and nothing is written */
    assert_int_equal(eic_cache_add_user(fx->dir, &fx->range, &u, &second), EPERM);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_generation(c), 1);
    assert_int_equal(eic_cache_user_by_name(c, "dave", &cu), 0);
    assert_string_equal(cu.principal, ARN("dave"));
    eic_cache_close(c);
    /* an administrator's hand-over gives it, keeping the UID */
    u.hand_over = true;
    assert_int_equal(eic_cache_add_user(fx->dir, &fx->range, &u, &second), 0);
    u.hand_over = false;
    assert_int_equal(first, second);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_generation(c), 2);
    assert_int_equal(eic_cache_user_by_name(c, "dave", &cu), 0);
    assert_int_equal(cu.uid, first);
    assert_string_equal(cu.principal, "arn:aws:sts::111122223333:assumed-role/Ops/dave");
    assert_string_equal(cu.gecos, "IAM assumed-role/Ops/dave (111122223333)");
    assert_int_equal(cu.n_groups, 2);
    assert_int_equal(eic_cache_group_by_name(c, "eic-ops", &g), 0);
    assert_int_equal(cu.groups[0], g.gid);
    assert_int_equal(cu.groups[1], 2010);
    eic_cache_close(c);

    /* The same request again changes nothing: no new version is written, and it is known without
     * the lock (pam_eic asks at every login; here the lock file cannot even be opened). A request
     * that changes something still needs it. */
    snprintf(lock, sizeof(lock), "%s/accounts.lock", fx->dir);
    snprintf(saved, sizeof(saved), "%s/accounts.lock.saved", fx->dir);
    assert_int_equal(rename(lock, saved), 0);
    assert_int_equal(mkdir(lock, 0700), 0);
    assert_int_equal(eic_cache_add_user(fx->dir, &fx->range, &u, &second), 0);
    assert_int_equal(second, first);
    assert_int_equal(add_as(fx, fx->dir, "dave", u.principal, NULL, 0, NULL), EACCES);
    assert_int_equal(rmdir(lock), 0);
    assert_int_equal(rename(saved, lock), 0);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_generation(c), 2);
    eic_cache_close(c);

    /* Dropping the group keeps the group (its gid is never reused) but not the membership. */
    assert_int_equal(add_as(fx, fx->dir, "dave", u.principal, NULL, 0, &second), 0);
    assert_int_equal(second, first);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_group_by_name(c, "eic-ops", &g), 0);
    assert_int_equal(g.n_members, 0);
    assert_int_equal(eic_cache_user_by_name(c, "dave", &cu), 0);
    assert_int_equal(cu.n_groups, 0);
    snprintf(line, sizeof(line), "account cache: dave (uid %u) groups now none (were eic-ops(%u),localgrp(2010))",
             (unsigned)first, (unsigned)g.gid);
    assert_true(log_contains(fx, line));
    eic_cache_close(c);

    /* A new shell is taken (and logged); the home stays where it was made. */
    u = (struct eic_cache_new_user){.name = "dave", .principal = "arn:aws:sts::111122223333:assumed-role/Ops/dave",
                                    .home_base = "/srv/home", .shell = "/bin/sh"};
    assert_int_equal(eic_cache_add_user(fx->dir, &fx->range, &u, &second), 0);
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_generation(c), 4);
    assert_int_equal(eic_cache_user_by_name(c, "dave", &cu), 0);
    assert_string_equal(cu.shell, "/bin/sh");
    assert_string_equal(cu.home, "/home/dave");
    snprintf(line, sizeof(line), "account cache: dave (uid %u) shell now /bin/sh (was /bin/bash)", (unsigned)first);
    assert_true(log_contains(fx, line));
    eic_cache_close(c);
}

static void test_bad_requests(void **state)
{
    struct fx *fx = *state;
    const char *bad_names[] = {"", "-x", "a:b", "a b", "a,b", "a/b", "12345", "a\nb", "ä"};
    const char *bad_group[] = {"ok", "evil:group"};
    const char *local_user_group[] = {"localuser2"};
    struct eic_cache_range bad_range = fx->range;
    struct eic_cache *c = NULL;

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        assert_int_equal(add(fx, fx->dir, bad_names[i], NULL, 0, NULL), EINVAL);
    }
    assert_int_equal(add(fx, fx->dir, "fine", bad_group, 2, NULL), EINVAL);
    assert_int_equal(add(fx, fx->dir, "fine", NULL, 17, NULL), EINVAL);
    bad_range.min = 100;
    bad_range.max = 99;
    {
        struct eic_cache_new_user u = {.name = "fine", .principal = ARN("fine")};
        uid_t uid;

        assert_int_equal(eic_cache_add_user(fx->dir, &bad_range, &u, &uid), EINVAL);
        u.shell = "/bin/sh:x";
        assert_int_equal(eic_cache_add_user(fx->dir, &fx->range, &u, &uid), EINVAL);
    }
    /* A rule group named like a local user that has no group of that name. */
    {
        static const char passwd[] = "localuser2:x:2006:100::/home/x:/bin/sh\n";

        write_file(fx->passwd, passwd, strlen(passwd));
        assert_int_equal(add(fx, fx->dir, "fine", local_user_group, 1, NULL), EINVAL);
    }
    assert_int_equal(eic_cache_open(fx->dir, &c), ENOENT);
    /* Unreadable passwd file: fail closed. */
    fx->range.passwd_file = "/nonexistent/passwd";
    assert_int_equal(add(fx, fx->dir, "fine", NULL, 0, NULL), EIO);
}

/* eic-authorized-keys' fallback when it cannot read the cache: the name with the same UID, read
 * from the file itself, entries longer than the first buffer included. */
static void test_local_user_listed(void **state)
{
    struct fx *fx = *state;
    char long_gecos[10000];
    char entry[10100];

    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "localuser", 2005), 0);
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "root", 0), 0);
    /* The same name with another UID (what NSS returned is not this account), or absent. */
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "localuser", 200001), ENOENT);
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "alice", 2005), ENOENT);
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "local", 2005), ENOENT);
    memset(long_gecos, 'g', sizeof(long_gecos) - 1);
    long_gecos[sizeof(long_gecos) - 1] = '\0';
    snprintf(entry, sizeof(entry), "big:x:3000:3000:%s:/home/big:/bin/sh\nafter:x:3001:3001::/home/after:/bin/sh\n",
             long_gecos);
    write_file(fx->passwd, entry, strlen(entry));
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "big", 3000), 0);
    assert_int_equal(eic_cache_local_user_listed(fx->passwd, "after", 3001), 0);
    /* Unreadable: neither listed nor "not listed". */
    assert_int_equal(eic_cache_local_user_listed("/nonexistent/passwd", "root", 0), EIO);
}

static void test_unsafe_dir_refused(void **state)
{
    struct fx *fx = *state;
    char path[256];
    struct eic_cache *c = NULL;

    assert_int_equal(chmod(fx->dir, 0775), 0);
    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), EACCES);
    assert_int_equal(chmod(fx->dir, 0757), 0);
    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), EACCES);
    assert_int_equal(chmod(fx->dir, 0755), 0);
    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), 0);
    /* A missing directory is created 0755. */
    snprintf(path, sizeof(path), "%s/new", fx->root);
    assert_int_equal(add(fx, path, "alice", NULL, 0, NULL), 0);
    /* A cache file others could have written is not believed. */
    snprintf(path, sizeof(path), "%s/accounts.db", fx->dir);
    assert_int_equal(chmod(path, 0664), 0);
    assert_int_equal(eic_cache_open(fx->dir, &c), EPERM);
    assert_null(c);
}

static void test_missing(void **state)
{
    struct fx *fx = *state;
    struct eic_cache *c = NULL;
    char path[256];

    assert_int_equal(eic_cache_open(fx->dir, &c), ENOENT);
    assert_null(c);
    snprintf(path, sizeof(path), "%s/nonexistent", fx->root);
    assert_int_equal(eic_cache_open(path, &c), ENOENT);
}

/* Builds a small cache in fx->dir and returns its bytes. */
static unsigned char *build_sample(struct fx *fx, size_t *len)
{
    const char *groups[] = {"sudo", "eic-admins", "eic-dev"};
    unsigned char *bytes;
    char path[256];
    char name[16];

    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_int_equal(add(fx, fx->dir, name, groups, (size_t)(i % 4), NULL), 0);
    }
    snprintf(path, sizeof(path), "%s/accounts.db", fx->dir);
    bytes = (unsigned char *)unit_read_file(path, len);
    assert_non_null(bytes);
    return bytes;
}

static void put_sample(const struct fx *fx, const void *data, size_t len)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/accounts.db", fx->dir2);
    write_file(path, data, len);
}

static void test_truncated(void **state)
{
    struct fx *fx = *state;
    size_t len, step, tried = 0;
    unsigned char *data = build_sample(fx, &len);
    struct eic_cache *c = NULL;

    put_sample(fx, data, len);
    c = open_ok(fx->dir2);
    eic_cache_close(c);
    /* Every length below 256 (the header and the first records), then about 300 more spread over
     * the rest, always including len - 1. */
    step = len > 256 ? (len - 256) / 300 + 1 : 1;
    for (size_t l = 0; l < len; l = l < 256 ? l + 1 : l + step) {
        put_sample(fx, data, l);
        c = NULL;
        assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
        assert_null(c);
        tried++;
    }
    put_sample(fx, data, len - 1);
    assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
    /* A longer file (garbage appended) is no better. */
    {
        unsigned char *longer = calloc(1, len + 8);

        assert_non_null(longer);
        memcpy(longer, data, len);
        put_sample(fx, longer, len + 8);
        assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
        free(longer);
    }
    print_message("# truncated: %zu lengths of %zu tried\n", tried, len);
    free(data);
}

static void test_flipped_byte(void **state)
{
    struct fx *fx = *state;
    size_t len;
    unsigned char *data = build_sample(fx, &len);
    struct eic_cache *c = NULL;

    /* Every byte of the file, one bit each (a different bit per position). */
    for (size_t i = 0; i < len; i++) {
        unsigned char bit = (unsigned char)(1u << (i % 8));

        data[i] ^= bit;
        put_sample(fx, data, len);
        c = NULL;
        assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
        assert_null(c);
        data[i] ^= bit;
    }
    put_sample(fx, data, len);
    c = open_ok(fx->dir2);
    eic_cache_close(c);
    print_message("# flipped: all %zu bytes\n", len);
    free(data);
}

static void test_magic_version(void **state)
{
    struct fx *fx = *state;
    size_t len;
    unsigned char *data = build_sample(fx, &len);
    struct eic_cache *c = NULL;

    memcpy(data, "EICACHX", 7);
    put_sample(fx, data, len);
    assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
    free(data);
    data = build_sample(fx, &len);
    data[8] = 2; /* version 2 */
    put_sample(fx, data, len);
    assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
    /* Text, and an all-zero file of a plausible size. */
    put_sample(fx, "alice:x:1000:1000::/home/alice:/bin/sh\n", 39);
    assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
    memset(data, 0, len);
    put_sample(fx, data, len);
    assert_int_equal(eic_cache_open(fx->dir2, &c), EBADMSG);
    free(data);
}

static void test_corrupt_blocks_writer(void **state)
{
    struct fx *fx = *state;
    size_t len, len2;
    unsigned char *data = build_sample(fx, &len);
    unsigned char *after;
    char path[256];

    /* The writer does not start over from a corrupt file (it would forget which UIDs were given). */
    data[len / 2] ^= 0x40;
    snprintf(path, sizeof(path), "%s/accounts.db", fx->dir);
    write_file(path, data, len);
    assert_int_equal(add(fx, fx->dir, "newbie", NULL, 0, NULL), EIO);
    after = (unsigned char *)unit_read_file(path, &len2);
    assert_non_null(after);
    assert_int_equal(len2, len);
    assert_memory_equal(after, data, len);
    assert_true(log_contains(fx, "corrupt"));
    free(after);
    free(data);
}

/* Re-seal a forged file so that only the structural checks stand between it and the reader. */
static void reseal(unsigned char *d, size_t len)
{
    put64(d + H_CHECKSUM, eic_cache_file_checksum(d, len));
}

static int open_forged(const struct fx *fx, const unsigned char *d, size_t len)
{
    struct eic_cache *c = NULL;
    int ret;

    put_sample(fx, d, len);
    ret = eic_cache_open(fx->dir2, &c);
    if (ret == 0) {
        /* Whatever got through must be safe to use in every way. */
        struct eic_cached_user u;
        struct eic_cached_group g;

        for (size_t i = 0; i < eic_cache_n_users(c); i++) {
            assert_int_equal(eic_cache_user_at(c, i, &u), 0);
            assert_int_equal(eic_cache_user_by_name(c, u.name, &u), 0);
            assert_int_equal(eic_cache_user_by_uid(c, u.uid, &u), 0);
            (void)strlen(u.principal);
            (void)strlen(u.gecos);
            (void)strlen(u.home);
            (void)strlen(u.shell);
        }
        for (size_t i = 0; i < eic_cache_n_groups(c); i++) {
            assert_int_equal(eic_cache_group_at(c, i, &g), 0);
            assert_int_equal(eic_cache_group_by_gid(c, g.gid, &g), 0);
            for (size_t k = 0; k < g.n_members; k++) {
                assert_non_null(eic_cache_group_member(c, &g, k));
            }
        }
        eic_cache_close(c);
    } else {
        assert_null(c);
    }
    return ret;
}

static void test_structure_checked(void **state)
{
    struct fx *fx = *state;
    size_t len;
    unsigned char *orig = build_sample(fx, &len);
    unsigned char *d = malloc(len);
    uint32_t n_users = get32(orig + H_NUSERS), n_groups = get32(orig + H_NGROUPS);
    uint32_t users = get32(orig + H_USERS), uidx = get32(orig + H_UIDIDX), groups = get32(orig + H_GROUPS);
    uint32_t members = get32(orig + H_MEMBERS), strsize = get32(orig + H_STRSIZE);
    size_t accepted = 0;
    unsigned int seed = 12345;

    assert_non_null(d);
    assert_true(n_users == 6 && n_groups > 6 && get32(orig + H_NMEMBERS) > 0);
#define FORGE(stmt)                                                                                                \
    do {                                                                                                           \
        memcpy(d, orig, len);                                                                                      \
        stmt;                                                                                                      \
        reseal(d, len);                                                                                            \
        assert_int_equal(open_forged(fx, d, len), EBADMSG);                                                        \
    } while (0)

    /* Every header count and offset, pushed off by one and to the extremes. */
    for (uint32_t f = H_NUSERS; f <= H_STRSIZE; f += 4) {
        if (f == H_USERREC || f == H_GROUPREC) {
            continue; /* checked against constants */
        }
        FORGE(put32(d + f, get32(orig + f) + 1));
        FORGE(put32(d + f, get32(orig + f) - 1));
        FORGE(put32(d + f, UINT32_MAX));
    }
    FORGE(put64(d + H_FILESIZE, len + 1));
    FORGE(put32(d + H_USERREC, USER_REC + 4));
    /* Records. */
    FORGE(put32(d + users + U_NAME, strsize));                 /* string offset past the end */
    FORGE(put32(d + users + 2 * USER_REC + U_SHELL, UINT32_MAX));
    FORGE(put32(d + users + U_NAME, 0));                       /* empty name */
    FORGE(put32(d + users + U_NGROUPS, 17));
    FORGE(put32(d + users + USER_REC + U_NAME, get32(orig + users + U_NAME))); /* duplicate name */
    FORGE(put32(d + uidx, get32(orig + uidx + 4)));            /* a position twice */
    FORGE(put32(d + uidx, n_users));
    FORGE(put32(d + users + get32(orig + uidx) * USER_REC + U_UID, UINT32_MAX)); /* unsorted uids */
    FORGE(put32(d + groups + G_KIND, 3));
    FORGE(put32(d + groups + G_FIRST, get32(orig + H_NMEMBERS)));
    FORGE(put32(d + groups + G_NMEMBERS, UINT32_MAX));
    FORGE(put32(d + groups + G_NAME, strsize + 100));
    FORGE(put32(d + groups + GROUP_REC + G_NAME, get32(orig + groups + G_NAME))); /* duplicate name */
    FORGE(put32(d + get32(orig + H_GIDIDX), n_groups));
    FORGE(put32(d + get32(orig + H_GIDIDX), get32(orig + get32(orig + H_GIDIDX) + 4))); /* a position twice */
    FORGE(put32(d + groups + get32(orig + get32(orig + H_GIDIDX)) * GROUP_REC + G_GID, UINT32_MAX)); /* unsorted gids */
    FORGE(put32(d + members, n_users));
    FORGE(d[len - 1] = 'x');                                   /* last string unterminated */
    FORGE(d[get32(orig + H_STRINGS)] = 'x');                   /* offset 0 is not "" */
#undef FORGE

    /* Random forgeries: 1 to 4 bytes changed anywhere after the checksum, then resealed. The reader
     * either refuses the file or serves something every accessor handles safely. */
    for (int iter = 0; iter < 4000; iter++) {
        int n = 1 + (int)(rand_r(&seed) % 4);

        memcpy(d, orig, len);
        for (int k = 0; k < n; k++) {
            size_t pos = H_FILESIZE + (size_t)rand_r(&seed) % (len - H_FILESIZE);

            d[pos] = (unsigned char)rand_r(&seed);
        }
        reseal(d, len);
        if (open_forged(fx, d, len) == 0) {
            accepted++;
        }
    }
    print_message("# forged: 4000 random resealed files, %zu accepted (harmless changes) and used\n", accepted);
    free(d);
    free(orig);
}

static void test_stale(void **state)
{
    struct fx *fx = *state;
    struct eic_cache *c, *c2;
    struct eic_cached_user u;

    assert_int_equal(add(fx, fx->dir, "alice", NULL, 0, NULL), 0);
    c = open_ok(fx->dir);
    assert_false(eic_cache_stale(c));
    assert_int_equal(add(fx, fx->dir, "bob", NULL, 0, NULL), 0);
    assert_true(eic_cache_stale(c));
    /* The old handle still reads its own, complete version. */
    assert_int_equal(eic_cache_user_by_name(c, "alice", &u), 0);
    assert_int_equal(eic_cache_user_by_name(c, "bob", &u), ENOENT);
    c2 = open_ok(fx->dir);
    assert_false(eic_cache_stale(c2));
    assert_int_equal(eic_cache_user_by_name(c2, "bob", &u), 0);
    eic_cache_close(c);
    eic_cache_close(c2);
}

/* ---- concurrency: 16 readers while a writer adds users one at a time ---- */

#define N_READERS 16
#define N_WRITES 60

struct race {
    const struct fx *fx;
    atomic_int done;
    atomic_long reads;
    atomic_long errors;
};

static void *reader_thread(void *arg)
{
    struct race *r = arg;
    uint64_t last_gen = 0;

    while (!atomic_load(&r->done)) {
        struct eic_cache *c = NULL;
        int ret = eic_cache_open(r->fx->dir, &c);

        if (ret == ENOENT) {
            continue;
        }
        if (ret != 0) {
            atomic_fetch_add(&r->errors, 1);
            continue;
        }
        /* Version g holds exactly users w0..w(g-1), each in group "team", plus private groups. */
        uint64_t gen = eic_cache_generation(c);
        size_t n = eic_cache_n_users(c);
        struct eic_cached_group team;

        if (gen < last_gen || n != gen || eic_cache_n_groups(c) != n + 1 ||
            eic_cache_group_by_name(c, "team", &team) != 0 || team.n_members != n) {
            atomic_fetch_add(&r->errors, 1);
        }
        last_gen = gen;
        for (size_t i = 0; i < n; i++) {
            char name[32];
            struct eic_cached_user u, v;

            snprintf(name, sizeof(name), "w%03zu", i);
            if (eic_cache_user_by_name(c, name, &u) != 0 || eic_cache_user_by_uid(c, u.uid, &v) != 0 ||
                strcmp(v.name, name) != 0 || u.n_groups != 1 || u.groups[0] != team.gid) {
                atomic_fetch_add(&r->errors, 1);
            }
        }
        eic_cache_close(c);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct fx *fx = *state;
    struct race r = {.fx = fx};
    pthread_t th[N_READERS];
    const char *groups[] = {"team"};

    for (int i = 0; i < N_READERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &r), 0);
    }
    for (int i = 0; i < N_WRITES; i++) {
        char name[16];

        snprintf(name, sizeof(name), "w%03d", i);
        assert_int_equal(add(fx, fx->dir, name, groups, 1, NULL), 0);
    }
    atomic_store(&r.done, 1);
    for (int i = 0; i < N_READERS; i++) {
        pthread_join(th[i], NULL);
    }
    print_message("# %ld complete reads by %d readers during %d writes, %ld inconsistent\n",
                  (long)atomic_load(&r.reads), N_READERS, N_WRITES, (long)atomic_load(&r.errors));
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_true(atomic_load(&r.reads) > 0);
}

/* ---- 100 000 accounts ---- */

#define N_BIG 100000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_100k(void **state)
{
    struct fx *fx = *state;
    static const char *const group_sets[4][2] = {{"team-a", "sudo"}, {"team-b", NULL}, {"team-c", NULL}, {NULL, NULL}};
    struct eic_cache_new_user *users = calloc(N_BIG, sizeof(*users));
    char (*names)[16] = calloc(N_BIG, sizeof(*names));
    char (*arns)[64] = calloc(N_BIG, sizeof(*arns));
    uid_t *uids = calloc(N_BIG, sizeof(*uids));
    struct eic_cached_user u;
    struct eic_cached_group g;
    struct eic_cache *c;
    double t0, t_add, t_open, t_name, t_uid, t_one;
    size_t members = 0;
    uid_t extra;

    assert_non_null(users);
    assert_non_null(names);
    assert_non_null(arns);
    assert_non_null(uids);
    eic_log_set_level(LOG_NOTICE); /* not one line per new user */
    fx->range.min = 100000;
    fx->range.max = 1099999;
    for (size_t i = 0; i < N_BIG; i++) {
        size_t set = i % 4;

        snprintf(names[i], sizeof(names[i]), "user%06zu", i);
        snprintf(arns[i], sizeof(arns[i]), "arn:aws:iam::111122223333:user/user%06zu", i);
        users[i] = (struct eic_cache_new_user){.name = names[i], .principal = arns[i],
                                               .group_names = (const char *const *)group_sets[set],
                                               .n_group_names = set == 0 ? 2 : set == 3 ? 0 : 1};
    }
    t0 = now_s();
    assert_int_equal(eic_cache_add_users(fx->dir, &fx->range, users, N_BIG, uids), 0);
    t_add = now_s() - t0;

    t0 = now_s();
    c = open_ok(fx->dir);
    t_open = now_s() - t0;
    assert_int_equal(eic_cache_n_users(c), N_BIG);
    assert_int_equal(eic_cache_n_groups(c), N_BIG + 3);

    t0 = now_s();
    for (size_t i = 0; i < N_BIG; i++) {
        if (eic_cache_user_by_name(c, names[i], &u) != 0 || u.uid != uids[i]) {
            fail_msg("lookup of %s", names[i]);
        }
    }
    t_name = now_s() - t0;
    t0 = now_s();
    for (size_t i = 0; i < N_BIG; i++) {
        if (eic_cache_user_by_uid(c, uids[i], &u) != 0 || strcmp(u.name, names[i]) != 0) {
            fail_msg("lookup of uid %u", (unsigned)uids[i]);
        }
    }
    t_uid = now_s() - t0;
    /* Ids are distinct (the uid index is strictly increasing, checked at open) and in range. */
    for (size_t i = 0; i < N_BIG; i++) {
        assert_true(uids[i] >= 100000 && uids[i] <= 1099999);
    }
    assert_int_equal(eic_cache_group_by_name(c, "team-a", &g), 0);
    assert_int_equal(g.n_members, N_BIG / 4);
    for (size_t i = 0; i < g.n_members; i++) {
        const char *m = eic_cache_group_member(c, &g, i);

        assert_non_null(m);
        members++;
    }
    assert_string_equal(eic_cache_group_member(c, &g, 0), "user000000");
    assert_int_equal(eic_cache_user_by_name(c, "user000000", &u), 0);
    assert_int_equal(u.n_groups, 2);
    assert_int_equal(u.groups[1], 27);
    assert_int_equal(eic_cache_user_by_name(c, "user100000", &u), ENOENT);
    eic_cache_close(c);

    /* One more account into the big cache: the cost of one login of a new user. */
    t0 = now_s();
    assert_int_equal(add(fx, fx->dir, "latecomer", NULL, 0, &extra), 0);
    t_one = now_s() - t0;
    c = open_ok(fx->dir);
    assert_int_equal(eic_cache_n_users(c), N_BIG + 1);
    assert_int_equal(eic_cache_user_by_uid(c, extra, &u), 0);
    assert_string_equal(u.name, "latecomer");
    eic_cache_close(c);

    print_message("# 100000 accounts: batch add %.3f s, open+verify %.2f ms, by name %.0f ns/lookup, "
                  "by uid %.0f ns/lookup, %zu members, one more add %.1f ms\n",
                  t_add, t_open * 1e3, t_name * 1e9 / N_BIG, t_uid * 1e9 / N_BIG, members, t_one * 1e3);
    free(users);
    free(names);
    free(arns);
    free(uids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temp_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stable_uid_across_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_ids_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readd_keeps_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_user_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_dir_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_magic_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_blocks_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_100k, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
