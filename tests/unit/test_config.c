/* Unit tests for the configuration parser (lib/accounts/eic_config.c).
 *
 * Fixtures are in tests/data/config/. Every bad-*.conf file states the error it must produce in
 * its first line, "# expect-error: LINE: reason-prefix", so a new bad case is a new file and no
 * code. Cases that need bytes a text fixture cannot hold well (NUL, 4 KiB lines, 256 KiB files,
 * FIFOs, symlinks) are generated into a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_config.h"
#include "unit_support.h"

#define CONFIG_DIR TEST_DATA_DIR "/config"

static void assert_defaults(const struct eic_config *cfg)
{
    assert_non_null(cfg->imds_endpoint);
    assert_string_equal(cfg->imds_endpoint, "auto");
    assert_int_equal(cfg->n_chain_commands, 0);
    assert_int_equal(cfg->imds_timeout_ms, 1000);
    assert_int_equal(cfg->imds_token_ttl, 21600);
    assert_int_equal(cfg->imds_max_response, 1024 * 1024);
    assert_int_equal(cfg->deadline_ms, 5000);
    assert_null(cfg->ca_file);
    assert_null(cfg->ca_path);
    assert_null(cfg->log_file);
    assert_int_equal(cfg->log_level, LOG_INFO);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A private scratch directory per test, removed afterwards. */
static int make_tmpdir(void **state)
{
    char *dir = strdup("/tmp/eic-test-config.XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_tmpdir(void **state)
{
    char *dir = *state;
    int ret = unit_remove_tree(dir);

    free(dir);
    return ret;
}

static void test_defaults(void **state)
{
    struct eic_config cfg;

    (void)state;
    assert_int_equal(eic_config_defaults(&cfg), 0);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    eic_config_free(&cfg); /* idempotent */
}

/* The shipped, fully commented sample must parse and change nothing. */
static void test_sample_config(void **state)
{
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(eic_config_load(EIC_SAMPLE_CONFIG, geteuid(), &cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_defaults(&cfg);
    eic_config_free(&cfg);
}

static void test_all_keys(void **state)
{
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(eic_config_load(CONFIG_DIR "/all-keys.conf", geteuid(), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.imds_endpoint, "http://[::1]:8169");
    assert_int_equal(cfg.imds_timeout_ms, 250);
    assert_int_equal(cfg.imds_token_ttl, 60);
    assert_int_equal(cfg.imds_max_response, 2048);
    assert_int_equal(cfg.deadline_ms, 1500);
    assert_string_equal(cfg.ca_file, "/etc/eic/ca #1.pem");
    assert_string_equal(cfg.ca_path, "/etc/eic/ca dir");
    assert_string_equal(cfg.log_file, "/var/log/eic.log");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    eic_config_free(&cfg);
}

static void test_each_log_level(void **state)
{
    static const struct {
        const char *text;
        int level;
    } levels[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"notice", LOG_NOTICE}, {"warning", LOG_WARNING}, {"error", LOG_ERR},
    };
    struct eic_config cfg;
    char text[64];
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        snprintf(text, sizeof(text), "log_level = %s\n", levels[i].text);
        assert_int_equal(eic_config_parse("mem", text, strlen(text), &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg.log_level, levels[i].level);
        eic_config_free(&cfg);
    }
}

/* Range limits are inclusive. */
static void test_int_limits(void **state)
{
    static const char *good[] = {
        "imds_timeout_ms = 1",         "imds_timeout_ms = 60000",  "imds_token_ttl = 1",
        "imds_token_ttl = 21600",      "imds_max_response = 1024", "imds_max_response = 16777216",
        "deadline_ms = 100",           "deadline_ms = 60000",      "deadline_ms = 000500",
    };
    struct eic_config cfg;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int ret = eic_config_parse("mem", good[i], strlen(good[i]), &cfg, err, sizeof(err));

        if (ret != 0) {
            fail_msg("'%s' refused: %s", good[i], err);
        }
        eic_config_free(&cfg);
    }
    assert_int_equal(eic_config_parse("mem", good[8], strlen(good[8]), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.deadline_ms, 500); /* decimal, never octal */
    eic_config_free(&cfg);
}

static void test_endpoint_rule(void **state)
{
    static const char *good[] = {
        "http://169.254.169.254", "http://127.0.0.1:8169", "http://[fd00:ec2::254]", "http://[::1]:80",
        "http://10.0.0.1:65535",  "http://[::ffff:169.254.169.254]",
    };
    static const char *bad[] = {
        "", "http://", "http://:80", "http://localhost", "http://metadata.google.internal", "https://169.254.169.254",
        "HTTP://169.254.169.254", "169.254.169.254", "//169.254.169.254", "http://169.254.169.254/",
        "http://169.254.169.254/latest", "http://169.254.169.254?x", "http://169.254.169.254#x",
        "http://169.254.169.254:", "http://169.254.169.254:0", "http://169.254.169.254:65536",
        "http://169.254.169.254:080080", "http://169.254.169.254:+80", "http://169.254.169.254:8x",
        "http://127.1", "http://010.0.0.1", "http://0x7f.0.0.1", "http://1.2.3.4.5", "http://256.0.0.1",
        "http://fd00:ec2::254", "http://[fd00:ec2::254", "http://[fe80::1%eth0]", "http://[]", "http://[1.2.3.4]",
        "http://user@127.0.0.1", "http://user:pw@127.0.0.1", "http://127.0.0.1 ", " http://127.0.0.1",
        "http://[::1]x", "http://[::1]:", "http://169.254.169.254.nip.io",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (eic_config_check_endpoint(good[i]) != 0) {
            fail_msg("good endpoint refused: '%s'", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (eic_config_check_endpoint(bad[i]) != EINVAL) {
            fail_msg("bad endpoint accepted: '%s'", bad[i]);
        }
    }
    assert_int_equal(eic_config_check_endpoint(NULL), EINVAL);
}

/* chain_command: repeatable up to EIC_CHAIN_MAX, an absolute path, %u %f %% only. */
static void test_chain_command(void **state)
{
    static const char *bad[] = {
        "chain_command = sss_ssh_authorizedkeys %u\n",
        "chain_command = /usr/bin/x %U\n",
        "chain_command = /usr/bin/x %k %t\n",
        "chain_command = /usr/bin/x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
        "chain_command = /a\nchain_command = /b\nchain_command = /c\nchain_command = /d\nchain_command = /e\n",
    };
    const char *good = "chain_command = /usr/bin/sss_ssh_authorizedkeys %u\n"
                       "chain_command = /usr/local/sbin/ldap-keys  -u %u -f %f 100%% 1 2 3 4 5 6 7 8 9\n";
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(eic_config_parse("mem", good, strlen(good), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_chain_commands, 2);
    assert_string_equal(cfg.chain_commands[0], "/usr/bin/sss_ssh_authorizedkeys %u");
    assert_string_equal(cfg.chain_commands[1], "/usr/local/sbin/ldap-keys  -u %u -f %f 100%% 1 2 3 4 5 6 7 8 9");
    eic_config_free(&cfg);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (eic_config_parse("mem", bad[i], strlen(bad[i]), &cfg, err, sizeof(err)) != EINVAL) {
            fail_msg("bad chain_command accepted: '%s'", bad[i]);
        }
        assert_non_null(strstr(err, "chain_command"));
        assert_int_equal(cfg.n_chain_commands, 0);
        eic_config_free(&cfg);
    }
}

/* Every tests/data/config/bad-*.conf: EINVAL, the exact "path:line: reason" message it announces,
 * and the configuration left at the defaults (nothing of the file applied). */
static void test_bad_files(void **state)
{
    DIR *dir = opendir(CONFIG_DIR);
    struct dirent *de;
    size_t count = 0;

    (void)state;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        static const char marker[] = "# expect-error: ";
        struct eic_config cfg;
        char path[PATH_MAX];
        char first[512];
        char expected[PATH_MAX + 512];
        char err[512];
        FILE *f;
        int ret;

        if (strncmp(de->d_name, "bad-", 4) != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", CONFIG_DIR, de->d_name);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(first, sizeof(first), f));
        fclose(f);
        first[strcspn(first, "\n")] = '\0';
        assert_memory_equal(first, marker, sizeof(marker) - 1);
        snprintf(expected, sizeof(expected), "%s:%s", path, first + sizeof(marker) - 1);

        memset(err, 'x', sizeof(err));
        ret = eic_config_load(path, geteuid(), &cfg, err, sizeof(err));
        if (ret != EINVAL || strncmp(err, expected, strlen(expected)) != 0) {
            fail_msg("%s: returned %d, message '%s', expected EINVAL and '%s...'", de->d_name, ret, err, expected);
        }
        /* The message is about the line, not a copy of it. */
        assert_true(strlen(err) < strlen(path) + 200);
        assert_defaults(&cfg);
        eic_config_free(&cfg);
        count++;
    }
    closedir(dir);
    assert_true(count >= 40);
}

static void test_small_files(void **state)
{
    static const char text[] = "\n# c\nlog_level = info\nbogus = 1\n";
    struct eic_config cfg;
    char err[256];

    (void)state;
    assert_int_equal(eic_config_load(CONFIG_DIR "/empty.conf", geteuid(), &cfg, err, sizeof(err)), 0);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    assert_int_equal(eic_config_load(CONFIG_DIR "/comments-only.conf", geteuid(), &cfg, err, sizeof(err)), 0);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    assert_int_equal(eic_config_load(CONFIG_DIR "/no-final-newline.conf", geteuid(), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, LOG_WARNING);
    assert_int_equal(cfg.deadline_ms, 100);
    eic_config_free(&cfg);
    /* No error buffer at all is fine. */
    assert_int_equal(eic_config_parse("mem", "x", 1, &cfg, NULL, 0), EINVAL);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    /* Parsing from memory: the name given is the one in the message; line numbers count
     * blank and comment lines. */
    assert_int_equal(eic_config_parse("inline", text, strlen(text), &cfg, err, sizeof(err)),
                     EINVAL);
    assert_string_equal(err, "inline:4: unknown key 'bogus'");
    eic_config_free(&cfg);
    /* A short error buffer gets a truncated, terminated message. */
    assert_int_equal(eic_config_parse("inline", "bogus = 1", 9, &cfg, err, 10), EINVAL);
    assert_string_equal(err, "inline:1:");
    eic_config_free(&cfg);
}

static void test_missing_file(void **state)
{
    struct eic_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(eic_config_load(CONFIG_DIR "/does-not-exist.conf", geteuid(), &cfg, err, sizeof(err)), ENOENT);
    assert_string_equal(err, CONFIG_DIR "/does-not-exist.conf: No such file or directory");
    assert_defaults(&cfg);
    eic_config_free(&cfg);
}

static void test_nul_byte(void **state)
{
    static const char text[] = "log_level = debug\nlog_file = /tmp/a\0b\n";
    char path[PATH_MAX];
    char expected[PATH_MAX + 64];
    struct eic_config cfg;
    char err[512];

    snprintf(path, sizeof(path), "%s/nul.conf", (char *)*state);
    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), EINVAL);
    snprintf(expected, sizeof(expected), "%s:2: NUL byte in line", path);
    assert_string_equal(err, expected);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
}

static void test_line_length(void **state)
{
    char path[PATH_MAX];
    char expected[PATH_MAX + 64];
    struct eic_config cfg;
    char err[512];
    char *text = malloc(3 * 4096);
    size_t len;

    assert_non_null(text);
    snprintf(path, sizeof(path), "%s/long.conf", (char *)*state);
    /* Exactly 4096 bytes of comment, then exactly 4096 bytes of setting: both fine. */
    memset(text, '#', 4096);
    text[4096] = '\n';
    len = 4097;
    memcpy(text + len, "ca_file = /", 11);
    memset(text + len + 11, 'a', 4096 - 11);
    len += 4096;
    text[len++] = '\n';
    write_file(path, text, len);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), 0);
    assert_int_equal(strlen(cfg.ca_file), 4096 - 10);
    eic_config_free(&cfg);

    /* One byte more on line 2 (even a blank, which trimming would remove) is an error, and the
     * message does not repeat the line. */
    text[len - 1] = ' ';
    text[len++] = '\n';
    write_file(path, text, len);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), EINVAL);
    snprintf(expected, sizeof(expected), "%s:2: line longer than 4096 bytes", path);
    assert_string_equal(err, expected);
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    free(text);
}

static void test_file_size(void **state)
{
    char path[PATH_MAX];
    struct eic_config cfg;
    char err[512];
    char *text = malloc(EIC_CONFIG_MAX_SIZE + 1);

    assert_non_null(text);
    snprintf(path, sizeof(path), "%s/size.conf", (char *)*state);
    /* EIC_CONFIG_MAX_SIZE bytes of 64-byte comment lines: accepted. */
    for (size_t i = 0; i < EIC_CONFIG_MAX_SIZE; i += 64) {
        memset(text + i, '#', 63);
        text[i + 63] = '\n';
    }
    write_file(path, text, EIC_CONFIG_MAX_SIZE);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), 0);
    eic_config_free(&cfg);
    /* One byte more: EMSGSIZE, from the file and from memory. */
    text[EIC_CONFIG_MAX_SIZE] = '\n';
    write_file(path, text, EIC_CONFIG_MAX_SIZE + 1);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), EMSGSIZE);
    assert_non_null(strstr(err, ": larger than 262144 bytes"));
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    assert_int_equal(eic_config_parse("mem", text, EIC_CONFIG_MAX_SIZE + 1, &cfg, err, sizeof(err)), EMSGSIZE);
    assert_string_equal(err, "mem: larger than 262144 bytes");
    assert_defaults(&cfg);
    eic_config_free(&cfg);
    free(text);
}

/* Symlinks are followed (config management links /etc files); what is opened must be a
 * regular file, and a FIFO must not block the reader. */
static void test_file_types(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    char expected[PATH_MAX + 64];
    struct eic_config cfg;
    char err[512];

    snprintf(path, sizeof(path), "%s/link.conf", dir);
    assert_int_equal(symlink(CONFIG_DIR "/all-keys.conf", path), 0);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    eic_config_free(&cfg);

    assert_int_equal(eic_config_load(dir, geteuid(), &cfg, err, sizeof(err)), EINVAL);
    snprintf(expected, sizeof(expected), "%s: not a regular file", dir);
    assert_string_equal(err, expected);
    assert_defaults(&cfg);
    eic_config_free(&cfg);

    snprintf(path, sizeof(path), "%s/fifo.conf", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), EINVAL);
    snprintf(expected, sizeof(expected), "%s: not a regular file", path);
    assert_string_equal(err, expected);
    eic_config_free(&cfg);

    assert_int_equal(eic_config_load("/dev/null", geteuid(), &cfg, err, sizeof(err)), EINVAL);
    eic_config_free(&cfg);
}

/* The file decides who may log in: one that others than root (or the given owner) could have
 * written is not believed, and nothing of it is applied. */
static void test_untrusted_file(void **state)
{
    static const char text[] = "log_level = debug\n";
    const char *dir = *state;
    char path[PATH_MAX];
    char link_path[PATH_MAX];
    char expected[PATH_MAX + 96];
    struct eic_config cfg;
    char err[512];
    static const mode_t bad_modes[] = {0664, 0646, 0666};

    snprintf(path, sizeof(path), "%s/untrusted.conf", dir);
    snprintf(expected, sizeof(expected), "%s must be owned by root and writable by root only; refusing to use it",
             path);
    write_file(path, text, sizeof(text) - 1);
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        assert_int_equal(chmod(path, bad_modes[i]), 0);
        assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), EPERM);
        assert_string_equal(err, expected);
        assert_defaults(&cfg);
        eic_config_free(&cfg);
    }
    /* What is checked is the file finally opened, not a link to it. */
    snprintf(link_path, sizeof(link_path), "%s/link-to-untrusted.conf", dir);
    assert_int_equal(symlink(path, link_path), 0);
    assert_int_equal(eic_config_load(link_path, geteuid(), &cfg, err, sizeof(err)), EPERM);
    eic_config_free(&cfg);

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(eic_config_load(path, geteuid(), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    eic_config_free(&cfg);

    if (geteuid() != 0) {
        return; /* the ownership cases need chown */
    }
    /* Another user's file: refused when only root will do, believed when that user is named. */
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(eic_config_load(path, 0, &cfg, err, sizeof(err)), EPERM);
    assert_string_equal(err, expected);
    eic_config_free(&cfg);
    assert_int_equal(eic_config_load(path, 65534, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    eic_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sample_config),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test_setup_teardown(test_untrusted_file, make_tmpdir, remove_tmpdir),
        cmocka_unit_test(test_each_log_level),
        cmocka_unit_test(test_int_limits),
        cmocka_unit_test(test_endpoint_rule),
        cmocka_unit_test(test_chain_command),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_small_files),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test_setup_teardown(test_nul_byte, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_line_length, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_file_size, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_file_types, make_tmpdir, remove_tmpdir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
