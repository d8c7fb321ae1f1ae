/* Where pam_eic's audit records land when the audit log's directory is swapped under the module
 * (pam_eic/pam_audit.c compiled in). The module checks the directory (ours, not group/world-
 * writable, not a symbolic link) and then opens the log file in it. open and openat are wrapped
 * (-Wl,--wrap=open,--wrap=openat): when the module opens the log file itself, the wrapper first
 * renames the checked directory (or its parent) away and puts a symbolic link to another
 * directory in its place, the one instant an attacker who can rename a parent could otherwise hit
 * only by chance. The record must go to the directory that was checked, never through the link.
 * Everything else is the real code on a real file system. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "pam_audit.h"
#include "unit_support.h"

#define LOG_NAME "audit.log"

static char top[] = "/tmp/eic-test-pam-audit.XXXXXX";

/* The swap the wrapper makes when the module opens LOG_NAME: swap_path is renamed to swap_saved
 * and a symbolic link to swap_target is put in its place. Once only. */
static bool swap_armed;
static bool swap_done;
static char swap_path[PATH_MAX];
static char swap_saved[PATH_MAX];
static char swap_target[PATH_MAX];

static bool is_log_file(const char *path)
{
    const char *slash = strrchr(path, '/');

    return strcmp(slash != NULL ? slash + 1 : path, LOG_NAME) == 0;
}

static void swap_if_armed(const char *path)
{
    if (!swap_armed || !is_log_file(path)) {
        return;
    }
    swap_armed = false;
    swap_done = rename(swap_path, swap_saved) == 0 && symlink(swap_target, swap_path) == 0;
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_openat(int dir_fd, const char *path, int flags, ...);
int __wrap_openat(int dir_fd, const char *path, int flags, ...);

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;

    if ((flags & (O_CREAT | O_TMPFILE)) != 0) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    swap_if_armed(path);
    return __real_open(path, flags, mode);
}

int __wrap_openat(int dir_fd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;

    if ((flags & (O_CREAT | O_TMPFILE)) != 0) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    swap_if_armed(path);
    return __real_openat(dir_fd, path, flags, mode);
}

static void session_init(struct pam_eic_session *s, const char *audit_log)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->user, sizeof(s->user), "alice");
    s->uid = 200123;
    snprintf(s->service, sizeof(s->service), "sshd");
    s->pid = 4242;
    s->opened = 1732400000;
    snprintf(s->audit_log, sizeof(s->audit_log), "%s", audit_log);
}

/* Number of records (lines) in the file at path; 0 when it does not exist. */
static size_t records_in(const char *path)
{
    char *text = unit_read_file(path, NULL);
    size_t n = 0;

    if (text == NULL) {
        return 0;
    }
    for (const char *p = text; *p != '\0'; p++) {
        n += *p == '\n';
    }
    free(text);
    return n;
}

/* mkdir top/name with exactly mode. */
static void make_dir(const char *name, mode_t mode)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", top, name);
    assert_int_equal(mkdir(path, mode), 0);
    assert_int_equal(chmod(path, mode), 0); /* whatever the umask */
}

static int setup(void **state)
{
    char log_path[PATH_MAX];

    (void)state;
    if (mkdtemp(top) == NULL) {
        return -1;
    }
    snprintf(log_path, sizeof(log_path), "%s/pam.log", top);
    return eic_log_open("test_pam_audit", log_path, EIC_LOG_IN_HOST) != 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    eic_log_close();
    return unit_remove_tree(top);
}

/* The log's directory is replaced by a symbolic link to another directory (one that passes every
 * check the module makes: ours, 0700) after the module checked it and before the log file is
 * opened: the record goes to the directory that was checked. Before the fix, the file was opened by
 * its full path and the record landed in the other directory. */
static void test_dir_swapped_after_check(void **state)
{
    struct pam_eic_session s;
    char path[PATH_MAX];

    (void)state;
    make_dir("d1", 0755);
    make_dir("elsewhere1", 0700);
    snprintf(path, sizeof(path), "%s/d1/audit/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), 0); /* creates audit/ 0700 */

    snprintf(swap_path, sizeof(swap_path), "%s/d1/audit", top);
    snprintf(swap_saved, sizeof(swap_saved), "%s/d1/audit.checked", top);
    snprintf(swap_target, sizeof(swap_target), "%s/elsewhere1", top);
    swap_done = false;
    swap_armed = true;
    (void)pam_eic_audit_write(&s, "session_close", 3);
    assert_true(swap_done);

    snprintf(path, sizeof(path), "%s/elsewhere1/" LOG_NAME, top);
    assert_int_equal(records_in(path), 0);
    snprintf(path, sizeof(path), "%s/d1/audit.checked/" LOG_NAME, top);
    assert_int_equal(records_in(path), 2);
}

/* The same with a parent of the log's directory swapped (the link points at a tree with an
 * "audit" directory that would pass the checks too). */
static void test_parent_swapped_after_check(void **state)
{
    struct pam_eic_session s;
    char path[PATH_MAX];

    (void)state;
    make_dir("d2", 0755);
    make_dir("d2/parent", 0755);
    make_dir("elsewhere2", 0755);
    make_dir("elsewhere2/audit", 0700);
    snprintf(path, sizeof(path), "%s/d2/parent/audit/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), 0);

    snprintf(swap_path, sizeof(swap_path), "%s/d2/parent", top);
    snprintf(swap_saved, sizeof(swap_saved), "%s/d2/parent.checked", top);
    snprintf(swap_target, sizeof(swap_target), "%s/elsewhere2", top);
    swap_done = false;
    swap_armed = true;
    (void)pam_eic_audit_write(&s, "session_close", 3);
    assert_true(swap_done);

    snprintf(path, sizeof(path), "%s/elsewhere2/audit/" LOG_NAME, top);
    assert_int_equal(records_in(path), 0);
    snprintf(path, sizeof(path), "%s/d2/parent.checked/audit/" LOG_NAME, top);
    assert_int_equal(records_in(path), 2);
}

/* A symbolic link already in place of the directory is refused, not followed. */
static void test_dir_is_symlink(void **state)
{
    struct pam_eic_session s;
    char path[PATH_MAX];
    char target[PATH_MAX];

    (void)state;
    make_dir("d3", 0755);
    make_dir("elsewhere3", 0700);
    snprintf(path, sizeof(path), "%s/d3/audit", top);
    snprintf(target, sizeof(target), "%s/elsewhere3", top);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/d3/audit/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_not_equal(pam_eic_audit_write(&s, "session_open", -1), 0);
    snprintf(path, sizeof(path), "%s/elsewhere3/" LOG_NAME, top);
    assert_int_equal(records_in(path), 0);
}

/* A missing directory is made 0700 and the file 0600; a directory others may write, or another
 * user's, is refused. */
static void test_dir_created_and_checked(void **state)
{
    struct pam_eic_session s;
    char path[PATH_MAX];
    struct stat st;

    (void)state;
    make_dir("d4", 0755);
    snprintf(path, sizeof(path), "%s/d4/new/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/d4/new", top);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);

    make_dir("d4/open", 01777);
    snprintf(path, sizeof(path), "%s/d4/open/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), EPERM);
    assert_int_equal(records_in(path), 0);

    if (geteuid() == 0) {
        make_dir("d4/theirs", 0700);
        snprintf(path, sizeof(path), "%s/d4/theirs", top);
        assert_int_equal(chown(path, 4242, 4242), 0);
        snprintf(path, sizeof(path), "%s/d4/theirs/" LOG_NAME, top);
        session_init(&s, path);
        assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), EPERM);
        assert_int_equal(records_in(path), 0);
    }

    /* a file where the directory should be */
    snprintf(path, sizeof(path), "%s/d4/file", top);
    assert_int_equal(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
    snprintf(path, sizeof(path), "%s/d4/file/" LOG_NAME, top);
    session_init(&s, path);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), ENOTDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_swapped_after_check),
        cmocka_unit_test(test_parent_swapped_after_check),
        cmocka_unit_test(test_dir_is_symlink),
        cmocka_unit_test(test_dir_created_and_checked),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
