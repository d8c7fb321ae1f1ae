/* Unit tests for pam_eic's home directories (pam_eic/pam_home.c, compiled in) where the race
 * matters: two first logins of a new account at once both find no home, both build one, and one of
 * them moves its home into place first. The module's renameat2 is wrapped (-Wl,--wrap=renameat2):
 * the wrapper puts "the other session's" home at the final path in the instant before the real
 * renameat2 runs, the one moment a second process could otherwise hit only by chance. Everything
 * else is the real code on a real file system. Needs root (homes are given to another UID). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_log.h"
#include "pam_home.h"
#include "unit_support.h"

#define USER_ID 4242

/* What the other session has put at the home path when the module moves its own home there. */
enum planted { PLANT_NOTHING, PLANT_USERS_DIR, PLANT_ROOTS_DIR, PLANT_SYMLINK };

static enum planted plant;
static bool temp_was_users; /* the module's home, seen at its renameat2: already the user's? */
static char top[] = "/tmp/eic-test-pam-home.XXXXXX";
static char parent[256];
static char skel[256];
static char log_path[256];

int __real_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int __wrap_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

int __wrap_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
    struct stat st;

    temp_was_users = fstatat(olddirfd, oldpath, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == USER_ID;
    switch (plant) {
    case PLANT_USERS_DIR:
        if (mkdirat(newdirfd, newpath, 0700) != 0 || fchownat(newdirfd, newpath, USER_ID, USER_ID, 0) != 0) {
            return -1;
        }
        break;
    case PLANT_ROOTS_DIR:
        if (mkdirat(newdirfd, newpath, 0755) != 0) {
            return -1;
        }
        break;
    case PLANT_SYMLINK:
        if (symlinkat("/etc", newdirfd, newpath) != 0) {
            return -1;
        }
        break;
    case PLANT_NOTHING:
        break;
    }
    plant = PLANT_NOTHING;
    return __real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Entries of the home parent other than the homes themselves (a temporary home left behind). */
static size_t leftovers(void)
{
    DIR *d = opendir(parent);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".eic-new.") != NULL) {
            print_message("# left behind: %s\n", e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void home_path(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", parent, name);
}

static int setup(void **state)
{
    char path[512];

    (void)state;
    if (geteuid() != 0) {
        return 0;
    }
    assert_non_null(mkdtemp(top));
    assert_int_equal(chmod(top, 0755), 0);
    snprintf(parent, sizeof(parent), "%s/home", top);
    snprintf(skel, sizeof(skel), "%s/skel", top);
    snprintf(log_path, sizeof(log_path), "%s/log", top);
    assert_int_equal(mkdir(parent, 0755), 0);
    assert_int_equal(mkdir(skel, 0755), 0);
    snprintf(path, sizeof(path), "%s/.bashrc", skel);
    write_file(path, "# skel\n");
    eic_log_open("test_pam_home", log_path, 0);
    eic_log_set_level(LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (geteuid() == 0) {
        eic_log_close();
        unit_remove_tree(top);
    }
    return 0;
}

#define NEED_ROOT()                                                                                                    \
    do {                                                                                                               \
        (void)state;                                                                                                   \
        if (geteuid() != 0) {                                                                                          \
            skip();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* Nobody else: the home appears complete and already the user's (never root's at its path). */
static void test_created_already_the_users(void **state)
{
    char home[512], path[600];
    struct stat st;

    NEED_ROOT();
    home_path("solo", home, sizeof(home));
    temp_was_users = false;
    assert_int_equal(pam_eic_home_ensure(home, skel, USER_ID, USER_ID, 0700), 0);
    assert_true(temp_was_users);
    assert_int_equal(lstat(home, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, USER_ID);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/.bashrc", home);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_uid, USER_ID);
    assert_int_equal(leftovers(), 0);
}

/* The other first login of the same account moved its home into place first: this session uses
 * it (its own copy is removed) instead of failing, which under sshd would end the connection. */
static void test_race_lost_to_the_same_user(void **state)
{
    char home[512], path[600];
    struct stat st;
    char *log;

    NEED_ROOT();
    home_path("twice", home, sizeof(home));
    plant = PLANT_USERS_DIR;
    assert_int_equal(pam_eic_home_ensure(home, skel, USER_ID, USER_ID, 0700), 0);
    assert_int_equal(lstat(home, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, USER_ID);
    /* the winner's home (empty here), not replaced by this session's copy of the skeleton */
    snprintf(path, sizeof(path), "%s/.bashrc", home);
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(leftovers(), 0);
    log = unit_read_file(log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "was created by another session meanwhile"));
    free(log);
}

/* Anything else that appeared there is still refused, and nothing is left behind. */
static void test_race_lost_to_something_else(void **state)
{
    char home[512];
    struct stat st;

    NEED_ROOT();
    home_path("rootsdir", home, sizeof(home));
    plant = PLANT_ROOTS_DIR;
    assert_int_equal(pam_eic_home_ensure(home, skel, USER_ID, USER_ID, 0700), EEXIST);
    assert_int_equal(lstat(home, &st), 0);
    assert_int_equal(st.st_uid, 0);
    home_path("link", home, sizeof(home));
    plant = PLANT_SYMLINK;
    assert_int_equal(pam_eic_home_ensure(home, skel, USER_ID, USER_ID, 0700), EEXIST);
    assert_int_equal(lstat(home, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(leftovers(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_already_the_users),
        cmocka_unit_test(test_race_lost_to_the_same_user),
        cmocka_unit_test(test_race_lost_to_something_else),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
