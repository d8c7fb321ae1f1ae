/* Unit tests for the chained AuthorizedKeysCommands (authorized_keys/chain.c): real processes, run
 * through /bin/sh (root-owned, so it passes the ownership rule) with scripts written here; the
 * ownership cases use files of their own. Needs root (chown), as CI has. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "chain.h"
#include "eic_config.h"
#include "eic_log.h"
#include "eic_time.h"
#include "unit_support.h"

#define SLACK_MS 300 /* a killed command's process group is gone this soon after the deadline */

static char dir[] = "/tmp/eic-test-chain.XXXXXX";
static char log_path[PATH_MAX];
static char out_path[PATH_MAX];
static struct eic_config cfg;

static int group_setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    return eic_log_open("test_chain", log_path, 0);
}

static int group_teardown(void **state)
{
    (void)state;
    eic_log_close();
    return unit_remove_tree(dir);
}

static int case_teardown(void **state)
{
    (void)state;
    eic_config_free(&cfg);
    return 0;
}

/* A script NAME in the test directory, made of the printf-formatted body. */
static void script(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void script(const char *name, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

/* The configuration: "chain_command = LINE" for each NULL-terminated argument, "@" standing for
 * the test directory. */
static void configure(const char *first, ...)
{
    char text[4096];
    size_t used = 0;
    char err[512];
    va_list ap;

    va_start(ap, first);
    for (const char *c = first; c != NULL; c = va_arg(ap, const char *)) {
        const char *at = strchr(c, '@');

        used += (size_t)snprintf(text + used, sizeof(text) - used, "chain_command = %.*s%s%s\n",
                                 at != NULL ? (int)(at - c) : (int)strlen(c), c, at != NULL ? dir : "",
                                 at != NULL ? at + 1 : "");
    }
    va_end(ap);
    assert_int_equal(eic_config_parse("mem", text, used, &cfg, err, sizeof(err)), 0);
}

/* Run the chain for dirk with a deadline ms from now; returns how many succeeded, *out what went
 * to the output (caller frees) and *elapsed the time it took. */
static size_t run(long ms, char **out, uint64_t *elapsed)
{
    uint64_t start = eic_monotonic_ms();
    size_t n_ok;
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    n_ok = akc_run_chain(&cfg, "dirk", "SHA256:abc", start + (uint64_t)ms, fd);
    *elapsed = eic_monotonic_ms() - start;
    close(fd);
    *out = unit_read_file(out_path, NULL);
    assert_non_null(*out);
    return n_ok;
}

static bool logged(const char *what)
{
    char *log = unit_read_file(log_path, NULL);
    bool found = log != NULL && strstr(log, what) != NULL;

    free(log);
    return found;
}

/* Exit 0: whole lines passed on, the partial last one dropped; %u, %f filled in; sshd's minimal
 * environment; stderr into the log. */
static void test_success_whole_lines(void **state)
{
    uint64_t elapsed;
    char *out;

    (void)state;
    script("ok.sh", "echo \"key-for-$1 $2 $3\"\necho \"PATH=$PATH SECRET=${SECRET:-none}\"\n"
                    "echo 'a complaint' >&2\nprintf partial\n");
    configure("/bin/sh @/ok.sh %u %f 100%%", NULL);
    setenv("SECRET", "ours", 1);
    assert_int_equal(run(5000, &out, &elapsed), 1);
    unsetenv("SECRET");
    assert_string_equal(out, "key-for-dirk SHA256:abc 100%\nPATH=/usr/bin:/bin:/usr/sbin:/sbin SECRET=none\n");
    assert_true(logged("chain_command /bin/sh: a complaint"));
    assert_true(logged("7 bytes after the last newline dropped"));
    free(out);
}

/* A non-zero exit or a signal: nothing of its output; the next command still runs. */
static void test_failure_then_next(void **state)
{
    uint64_t elapsed;
    char *out;

    (void)state;
    script("fail.sh", "echo ssh-ed25519 AAAAfail\nexit 3\n");
    script("signal.sh", "echo ssh-ed25519 AAAAsig\nkill -9 $$\n");
    script("next.sh", "echo ssh-ed25519 AAAAnext\n");
    configure("/bin/sh @/fail.sh", "/bin/sh @/signal.sh", "/bin/sh @/next.sh", NULL);
    assert_int_equal(run(5000, &out, &elapsed), 1);
    assert_string_equal(out, "ssh-ed25519 AAAAnext\n");
    assert_true(logged("exit status 3; nothing of it used"));
    assert_true(logged("killed by signal 9; nothing of it used"));
    free(out);
}

/* Hanging, with a child of its own and with its output closed: killed, process group and all, at
 * the deadline; nothing of its output. */
static void test_timeout(void **state)
{
    char pid_file[PATH_MAX + 8];
    char proc[64];
    uint64_t elapsed;
    char *out;
    char *pid;
    char line[512] = "";

    (void)state;
    snprintf(pid_file, sizeof(pid_file), "%s/pid", dir);
    script("hang.sh", "echo ssh-ed25519 AAAAhang\nsleep 30 &\necho $! >%s\nexec >&- 2>&-\nsleep 30\n", pid_file);
    configure("/bin/sh @/hang.sh", NULL);
    assert_int_equal(run(500, &out, &elapsed), 0);
    assert_true(elapsed >= 500 && elapsed < 500 + SLACK_MS);
    assert_string_equal(out, "");
    assert_true(logged("still running at the deadline"));
    free(out);
    /* Its background child went with it (gone, or a zombie until init reaps it). */
    pid = unit_read_file(pid_file, NULL);
    assert_non_null(pid);
    snprintf(proc, sizeof(proc), "/proc/%d/stat", atoi(pid));
    free(pid);
    for (int i = 0; i < 50; i++) {
        FILE *f = fopen(proc, "r");
        bool gone = f == NULL || fgets(line, sizeof(line), f) == NULL || strstr(line, ") Z ") != NULL;

        if (f != NULL) {
            fclose(f);
        }
        if (gone) {
            return;
        }
        usleep(10000);
    }
    fail_msg("the hanging command's background child is still running: %s", line);
}

/* No time left: nothing is started. */
static void test_no_time_left(void **state)
{
    uint64_t elapsed;
    char *out;

    (void)state;
    script("ok2.sh", "echo ssh-ed25519 AAAA\n");
    configure("/bin/sh @/ok2.sh", NULL);
    assert_int_equal(run(0, &out, &elapsed), 0);
    assert_string_equal(out, "");
    assert_true(logged("no time left"));
    free(out);
}

/* More than AKC_CHAIN_OUTPUT_MAX bytes: killed at once, nothing of it used. */
static void test_huge_output(void **state)
{
    uint64_t elapsed;
    char *out;

    (void)state;
    configure("/usr/bin/yes ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuge", NULL);
    assert_int_equal(run(5000, &out, &elapsed), 0);
    assert_true(elapsed < 1000);
    assert_string_equal(out, "");
    assert_true(logged("printed more than 65536 bytes"));
    free(out);
}

/* sshd's rule: not root's, writable by group, or under a directory others may write (/tmp): not
 * run. A path that does not exist: not run either. */
static void test_unsafe_commands(void **state)
{
    char path[PATH_MAX];
    uint64_t elapsed;
    char *out;

    (void)state;
    script("nobody.sh", "#!/bin/sh\necho ssh-ed25519 AAAAnobody\n");
    snprintf(path, sizeof(path), "%s/nobody.sh", dir);
    assert_int_equal(chown(path, 65534, 65534), 0);
    script("group.sh", "#!/bin/sh\necho ssh-ed25519 AAAAgroup\n");
    snprintf(path, sizeof(path), "%s/group.sh", dir);
    assert_int_equal(chmod(path, 0775), 0);
    script("tmp.sh", "#!/bin/sh\necho ssh-ed25519 AAAAtmp\n");
    configure("@/nobody.sh", "@/group.sh", "@/tmp.sh", "@/missing", NULL);
    assert_int_equal(run(5000, &out, &elapsed), 0);
    assert_string_equal(out, "");
    assert_true(logged("nobody.sh is not owned by root; not run"));
    assert_true(logged("group.sh is writable by group or others; not run"));
    assert_true(logged("/tmp is writable by group or others; not run"));
    assert_true(logged("missing: No such file or directory; not run"));
    free(out);
}

/* eic's own check gets half the time when a chain follows it, all of it otherwise. */
static void test_eic_deadline(void **state)
{
    uint64_t deadline = eic_monotonic_ms() + 4000;
    uint64_t eic;

    (void)state;
    assert_int_equal(eic_config_defaults(&cfg), 0);
    assert_true(akc_chain_eic_deadline(&cfg, deadline) == deadline);
    eic_config_free(&cfg);
    configure("/bin/true", NULL);
    eic = akc_chain_eic_deadline(&cfg, deadline);
    assert_true(eic < deadline - 1900 && eic > deadline - 2100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_success_whole_lines, case_teardown),
        cmocka_unit_test_teardown(test_failure_then_next, case_teardown),
        cmocka_unit_test_teardown(test_timeout, case_teardown),
        cmocka_unit_test_teardown(test_no_time_left, case_teardown),
        cmocka_unit_test_teardown(test_huge_output, case_teardown),
        cmocka_unit_test_teardown(test_unsafe_commands, case_teardown),
        cmocka_unit_test_teardown(test_eic_deadline, case_teardown),
    };

    return cmocka_run_group_tests_name("chain", tests, group_setup, group_teardown);
}
