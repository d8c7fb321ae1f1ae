/* lib/service/eic_nss_sources.c: which sources nsswitch.conf names (actions, comments, files and eic
 * left out), and what a real NSS module says when it is asked directly: the test source
 * libnss_eicfake.so.2 (tests/unit/nss_eicfake.c) knows a name, is unavailable, busy, hung, or
 * knows nothing. eicd creates an account only when every source says NOTFOUND. The module is
 * loaded here first by its path; dlopen by its soname (what eicd does, with glibc's search) then
 * finds the loaded object. (A RUNPATH would not do: under ASan, dlopen's caller is the runtime's
 * interceptor, whose RUNPATH is searched instead.) */
#include <dlfcn.h>
#include <errno.h>
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

#include "eic_log.h"
#include "eic_nss_sources.h"
#include "eic_time.h"
#include "unit_support.h"

struct fx {
    char root[64];
    char nsswitch[96];
    char answers[96];
    char log[96];
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    strcpy(fx->root, "/tmp/eic-test-nss-sources.XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->nsswitch, sizeof(fx->nsswitch), "%s/nsswitch.conf", fx->root);
    snprintf(fx->answers, sizeof(fx->answers), "%s/answers", fx->root);
    snprintf(fx->log, sizeof(fx->log), "%s/log", fx->root);
    write_text(fx->answers, "passwd dirknown found 5000 5000\n"
                            "passwd dirdown unavail\n"
                            "passwd dirbusy tryagain\n"
                            "passwd dirhung hang 1\n"
                            "group grpknown found 6000\n"
                            "group grpdown unavail\n");
    assert_int_equal(setenv("EIC_FAKE_NSS_FILE", fx->answers, 1), 0);
    eic_log_open("test_nss_sources", fx->log, 0);
    eic_log_set_level(LOG_DEBUG);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    eic_log_close();
    unsetenv("EIC_FAKE_NSS_FILE");
    unit_remove_tree(fx->root);
    free(fx);
    return 0;
}

static bool log_has(const struct fx *fx, const char *text)
{
    char *log = unit_read_file(fx->log, NULL);
    bool has = log != NULL && strstr(log, text) != NULL;

    if (!has) {
        print_message("# log has no \"%s\":\n%s\n", text, log != NULL ? log : "(none)");
    }
    free(log);
    return has;
}

static void test_list(void **state)
{
    struct fx *fx = *state;
    char src[8][EIC_NSS_SOURCE_MAX];
    size_t n = 99;

    write_text(fx->nsswitch, "# passwd: ldap (a comment)\n"
                             "passwd:   files [NOTFOUND=return] sss systemd eic   # ldap\n"
                             "PASSWD : winbind sss[UNAVAIL=return]\n"
                             "group:\tfiles eicfake [ !UNAVAIL = return ] eic\n"
                             "hosts: files dns\n"
                             "shadow: files ldap");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(src[0], "sss");
    assert_string_equal(src[1], "systemd");
    assert_string_equal(src[2], "winbind");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_GROUP, src, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(src[0], "eicfake");
    /* Too many for the caller's array. */
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 2, &n), E2BIG);

    /* files and eic only (the default Debian line plus eic): nothing to ask. */
    write_text(fx->nsswitch, "passwd: files eic\ngroup: files eic\n");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), 0);
    assert_int_equal(n, 0);
    /* No passwd line, no file: glibc's default, files. */
    write_text(fx->nsswitch, "hosts: files dns\n");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), 0);
    assert_int_equal(n, 0);
    unlink(fx->nsswitch);
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), 0);
    assert_int_equal(n, 0);

    /* What is not a library name we would load, and an unterminated action: refused. */
    write_text(fx->nsswitch, "passwd: files ../../tmp/x eic\n");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), EINVAL);
    write_text(fx->nsswitch, "passwd: files sss [NOTFOUND=return eic\n");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), EINVAL);
    write_text(fx->nsswitch, "passwd: files aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    assert_int_equal(eic_nss_sources_list(fx->nsswitch, EIC_NSS_PASSWD, src, 8, &n), EINVAL);
    /* A directory is not a file. */
    assert_int_equal(eic_nss_sources_list(fx->root, EIC_NSS_PASSWD, src, 8, &n), EINVAL);
}

static void test_ask(void **state)
{
    const char *st = NULL;
    uint64_t deadline = eic_monotonic_ms() + 5000;
    uint64_t t0;

    (void)state;
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirknown", deadline, &st), EEXIST);
    assert_string_equal(st, "SUCCESS");
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "nobody-knows", deadline, &st), 0);
    assert_string_equal(st, "NOTFOUND");
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirdown", deadline, &st), EAGAIN);
    assert_string_equal(st, "UNAVAIL");
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirbusy", deadline, &st), EAGAIN);
    assert_string_equal(st, "TRYAGAIN");
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_GROUP, "grpknown", deadline, &st), EEXIST);
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_GROUP, "dirknown", deadline, &st), 0);
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_GROUP, "grpdown", deadline, &st), EAGAIN);
    /* A source glibc could not load either knows nothing. */
    assert_int_equal(eic_nss_source_ask("eicnosuchsource", EIC_NSS_PASSWD, "dirknown", deadline, &st), 0);

    /* Hung: given up at the deadline, not when the source answers (1 s later). */
    t0 = eic_monotonic_ms();
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirhung", t0 + 100, &st), ETIMEDOUT);
    assert_true(eic_monotonic_ms() - t0 < 600);
    /* Questions abandoned so pile up to 8; the next is refused at once. */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirhung", eic_monotonic_ms() + 20, &st),
                         ETIMEDOUT);
    }
    t0 = eic_monotonic_ms();
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirknown", t0 + 5000, &st), ETIMEDOUT);
    assert_true(eic_monotonic_ms() - t0 < 100);
    /* Once the hung source has answered them all, it is asked again (and their memory freed). */
    usleep(1500 * 1000);
    assert_int_equal(eic_nss_source_ask("eicfake", EIC_NSS_PASSWD, "dirknown", eic_monotonic_ms() + 5000, &st),
                     EEXIST);
}

static void test_may_create(void **state)
{
    struct fx *fx = *state;
    uint64_t deadline = eic_monotonic_ms() + 5000;

    write_text(fx->nsswitch, "passwd: files eicfake eic\ngroup: files eicfake eic\n");
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "newname", deadline), 0);
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "dirknown", deadline), EEXIST);
    assert_true(log_has(fx, "dirknown not created: the NSS source eicfake knows it"));
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "grpknown", deadline), EEXIST);
    assert_true(log_has(fx, "grpknown not created: the NSS source eicfake knows a group grpknown"));
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "dirdown", deadline), EAGAIN);
    assert_true(log_has(fx, "dirdown not created now: the NSS source eicfake answers UNAVAIL"));
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "grpdown", deadline), EAGAIN);
    /* Whatever the actions say, and wherever the source is listed. */
    write_text(fx->nsswitch, "passwd: files [NOTFOUND=return] eic eicfake\n");
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "dirknown", deadline), EEXIST);
    /* Not asked at all when the line has only files and eic. */
    write_text(fx->nsswitch, "passwd: files eic\ngroup: files eic\n");
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "dirknown", deadline), 0);
    /* A line that cannot be read refuses, and says so. */
    write_text(fx->nsswitch, "passwd: files s/s eic\n");
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "newname", deadline), EIO);
    assert_true(log_has(fx, "newname not created: the passwd line of"));
    /* No time left: not asked, not created now. */
    write_text(fx->nsswitch, "passwd: files eicfake eic\n");
    assert_int_equal(eic_nss_may_create(fx->nsswitch, "newname", eic_monotonic_ms() - 1), EAGAIN);
    assert_true(log_has(fx, "newname not created now: no time left to ask the NSS source eicfake"));
}

int main(void)
{
    void *fake = dlopen(EIC_FAKE_MODULE, RTLD_NOW | RTLD_LOCAL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_may_create, setup, teardown),
    };

    int failed;

    if (fake == NULL) {
        fprintf(stderr, "test_nss_sources: %s\n", dlerror());
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    dlclose(fake);
    return failed;
}
