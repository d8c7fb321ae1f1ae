/* The logger's file destination: what it writes, and what it refuses to open (it runs in root
 * processes, PAM and NSS hosts included). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_log.h"
#include "unit_support.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/eic-test-log-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    eic_log_close();
    unit_remove_tree(dir);
    return 0;
}

static void path_in_dir(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void test_file_gets_one_line_per_message(void **state)
{
    char path[128];
    size_t len;
    char *text;

    (void)state;
    path_in_dir("plain.log", path, sizeof(path));
    assert_int_equal(eic_log_open("test_log", path, 0), 0);
    eic_log(LOG_WARNING, "user %s said %s", "mallory", "hi\nforged line");
    eic_log(LOG_DEBUG, "below the level: dropped");
    eic_log_close();
    text = unit_read_file(path, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "test_log["));
    assert_non_null(strstr(text, ": warning: user mallory said hi?forged line\n"));
    assert_null(strstr(text, "dropped"));
    free(text);
}

/* Regression: the file was opened without O_NOFOLLOW, so whoever could plant a symlink at the
 * path made root processes append to its target. */
static void test_symlink_refused(void **state)
{
    char target[128];
    char link_path[128];
    struct stat st;

    (void)state;
    path_in_dir("target", target, sizeof(target));
    path_in_dir("link.log", link_path, sizeof(link_path));
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(eic_log_open("test_log", link_path, 0), ELOOP);
    eic_log(LOG_ERR, "must go nowhere near the target");
    eic_log_close();
    assert_int_equal(stat(target, &st), -1);
    assert_int_equal(errno, ENOENT);
}

/* Regression: a FIFO nobody reads, at the path, blocked every process that opened the log (a
 * login included) in open(); it is refused at once now. A directory is refused; /dev/null (which
 * the client and the fuzz harnesses use to keep quiet) is not. */
static void test_fifo_does_not_block(void **state)
{
    char fifo[128];

    (void)state;
    path_in_dir("fifo.log", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(eic_log_open("test_log", fifo, 0), ENXIO);
    assert_int_equal(eic_log_open("test_log", dir, 0), EISDIR);
    assert_int_equal(eic_log_open("test_log", "/dev/null", 0), 0);
    eic_log(LOG_ERR, "goes nowhere");
    eic_log_close();
}

/* What a daemonizing host does: close every descriptor it does not know of, then open its own
 * file, which takes the logger's number. Returns the number. */
static int host_takes_log_fd(const char *log_path, const char *host_path)
{
    int log_fd = unit_fd_open_on(log_path);
    int host_fd;

    assert_true(log_fd > STDERR_FILENO);
    assert_int_equal(close(log_fd), 0);
    host_fd = open(host_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(host_fd >= 0);
    if (host_fd != log_fd) {
        assert_int_equal(dup2(host_fd, log_fd), log_fd);
        assert_int_equal(close(host_fd), 0);
    }
    return log_fd;
}

/* Regression: the logger wrote to its descriptor number whatever it had become; a host that
 * closed it and opened a file (or a socket) under the same number got eic's lines in it, and
 * eic_log_open/eic_log_close closed the host's descriptor. Now the lines go to the log file,
 * opened again, and the host's file is neither written nor closed. */
static void test_descriptor_taken_by_host(void **state)
{
    char path[128];
    char host_path[128];
    struct stat st;
    char *text;
    int host_fd;

    (void)state;
    path_in_dir("taken.log", path, sizeof(path));
    path_in_dir("host-file", host_path, sizeof(host_path));
    assert_int_equal(eic_log_open("test_log", path, EIC_LOG_IN_HOST), 0);
    eic_log(LOG_WARNING, "before the host closed it");
    host_fd = host_takes_log_fd(path, host_path);

    eic_log(LOG_WARNING, "after the host took the number");
    assert_int_equal(stat(host_path, &st), 0);
    assert_int_equal(st.st_size, 0);
    text = unit_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "before the host closed it\n"));
    assert_non_null(strstr(text, "after the host took the number\n"));
    free(text);

    /* Reopening or closing the log leaves the host's descriptor alone. */
    assert_int_equal(eic_log_open("test_log", path, EIC_LOG_IN_HOST), 0);
    eic_log_close();
    assert_int_equal(fstat(host_fd, &st), 0);
    assert_int_equal(write(host_fd, "host\n", 5), 5);
    assert_int_equal(close(host_fd), 0);
}

/* The same when the number is left free (EBADF): the line still reaches the file. */
static void test_descriptor_closed_by_host(void **state)
{
    char path[128];
    char *text;
    int fd;

    (void)state;
    path_in_dir("closed.log", path, sizeof(path));
    assert_int_equal(eic_log_open("test_log", path, EIC_LOG_IN_HOST), 0);
    fd = unit_fd_open_on(path);
    assert_true(fd > STDERR_FILENO);
    assert_int_equal(close(fd), 0);
    eic_log(LOG_WARNING, "after the host closed it");
    eic_log_close();
    text = unit_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "after the host closed it\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_gets_one_line_per_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_taken_by_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_closed_by_host, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
