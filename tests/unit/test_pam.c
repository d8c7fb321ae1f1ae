/* Unit tests for pam_eic.so, driven through libpam: pam_start_confdir() loads a service file from a
 * temporary directory that stacks the built module (PAM_EIC_MODULE) with the arguments a case
 * needs. Every hook and every module argument is exercised, every error path must fail.
 *
 * Service file of each case (pam_debug.so is the sentinel that turns "pam_eic said PAM_IGNORE" into
 * PAM_TRY_AGAIN, a code pam_eic never returns, so that the test sees the module's own answer):
 *   account [success=done ignore=ignore default=die] MODULE ARGS
 *   account [default=die] pam_debug.so acct=try_again
 *   session [success=done ignore=ignore default=die] MODULE ARGS
 *   session [default=die] pam_debug.so open_session=try_again close_session=try_again
 *
 * Accounts: getpwnam() inside the module has to see IAM-mapped accounts with the UIDs the account
 * cache gave them, without touching the system's /etc/passwd or nsswitch.conf. The test uses
 * nss_wrapper (Debian's libnss-wrapper): LD_PRELOAD=libnss_wrapper.so with NSS_WRAPPER_PASSWD and
 * NSS_WRAPPER_GROUP pointing at files the test writes. When started without it, the program sets
 * these and re-executes itself; tests/integration/test_pam.sh sets them itself to run it under
 * valgrind.
 *
 * IMDS: the real emulator (EIC_EMULATOR_PATH) on a free loopback port, keys pushed with the real
 * client (EIC_CLIENT_PATH) as alice of tests/data/worlds/mapped.json; SSH_AUTH_INFO_0 is set with
 * pam_putenv as sshd does. The module asks the real service (EICD_PATH, `eicd --foreground`, with
 * the same fake accounts) on its socket; eicd reads a symlink that each case points at the case's
 * configuration. Needs root (the config must be root's, the cache is written as root). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <security/pam_appl.h>

#include "eic_cache_writer.h"
#include "eic_time.h"
#include "unit_support.h"

#define NSS_WRAPPER_LIB "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
#define READY_TIMEOUT_MS 60000
#define WORLD TEST_DATA_DIR "/worlds/mapped.json"
#define ALICE_ARN "arn:aws:iam::111122223333:user/alice"
#define INSTANCE "i-0123456789abcdef0"

static char top[] = "/tmp/eic-test-pam.XXXXXX";
static char confdir[256];      /* PAM service files */
static char module[256];       /* PAM_EIC_MODULE, through a symlink in top (see setup) */
static char verify[256];       /* EIC_VERIFY_PATH, the same way */
static char cache_dir[256];
static char home_base[256];
static char skel[256];
static char log_path[256];     /* the module's log_file */
static char audit_path[256];
static char cfg_allow[256];    /* rules that map alice and the m* accounts to themselves */
static char cfg_deny[256];     /* the same plus a deny rule for alice */
static char cfg_other[256];    /* alice maps to another name */
static char cfg_norule[256];   /* no rule for alice */
static char cfg_bad[256];      /* unknown key: unusable */
static char cfg_gw[256];       /* group-writable: untrusted */
static char cfg_noimds[256];   /* IMDS on a closed port */
static char key_pushed[256];   /* public key files (ssh-keygen) */
static char key_other[256];
static char emu_url[128];
static pid_t emu_pid;
static char eicd_conf[256];    /* what eicd reads: a symlink to the configuration of the case */
static char eicd_sock[100];  /* sockaddr_un.sun_path is 108 bytes */
static pid_t eicd_pid;
static bool have_root;
static uid_t uid_of[8];             /* cache UIDs of the mapped accounts, by index in mapped[] */

static const char *const mapped[] = {"alice", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};

/* ---- small helpers ---- */

static void write_file(const char *path, mode_t mode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void write_file(const char *path, mode_t mode, const char *fmt, ...)
{
    va_list ap;
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t cap = 0, len = 0;

    if (f == NULL) {
        return strdup("");
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap * 2 + 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static bool file_has(const char *path, const char *needle)
{
    char *text = read_all(path);
    bool found = strstr(text, needle) != NULL;

    if (!found) {
        print_message("# %s does not contain '%s'\n", path, needle);
    }
    free(text);
    return found;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Run argv (NULL-terminated) with extra environment entries; returns the exit status. */
static int run(const char *const *argv, const char *const *env)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (fd >= 0) {
            dup2(fd, STDIN_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            putenv((char *)env[i]);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* "publickey TYPE BASE64" from an OpenSSH .pub file, as sshd writes SSH_AUTH_INFO_0. */
static void auth_info(const char *pub, char *out, size_t len)
{
    char *text = read_all(pub);
    char *sp1 = strchr(text, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

    assert_non_null(sp2);
    *sp2 = '\0';
    snprintf(out, len, "SSH_AUTH_INFO_0=publickey %s\n", text);
    free(text);
}

static void fingerprint_of(const char *pub, char *out, size_t len)
{
    char cmd[PATH_MAX + 64];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "ssh-keygen -lf '%s'", pub);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%*d %127s", out), 1);
    (void)len;
    pclose(p);
}

static void push(const char *os_user, const char *pub)
{
    char keyarg[PATH_MAX + 16];
    const char *argv[] = {EIC_CLIENT_PATH, "send-ssh-public-key", "--endpoint-url", emu_url, "--region",
                          "us-east-1", "--instance-id", INSTANCE, "--instance-os-user", os_user,
                          "--ssh-public-key", keyarg, NULL};
    const char *env[] = {"AWS_ACCESS_KEY_ID=AKIAEICDEMOALICE0001", "AWS_SECRET_ACCESS_KEY=eic-demo-secret-alice",
                         NULL};

    snprintf(keyarg, sizeof(keyarg), "file://%s", pub);
    assert_int_equal(run(argv, env), 0);
}

/* ---- PAM driving ---- */

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    (void)n;
    (void)msg;
    (void)resp;
    (void)data;
    return PAM_CONV_ERR; /* pam_eic never converses */
}

static const struct pam_conv conversation = {conv, NULL};

static void write_service(const char *args)
{
    char path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/eic-test", confdir);
    write_file(path, 0644,
               "account [success=done ignore=ignore default=die] %s %s\n"
               "account [default=die] pam_debug.so acct=try_again\n"
               "session [success=done ignore=ignore default=die] %s %s\n"
               "session [default=die] pam_debug.so open_session=try_again close_session=try_again\n",
               module, args, module, args);
}

/* A handle for user whose service stacks pam_eic with args. */
static pam_handle_t *start(const char *user, const char *args)
{
    pam_handle_t *pamh = NULL;

    write_service(args);
    assert_int_equal(pam_start_confdir("eic-test", user, &conversation, confdir, &pamh), PAM_SUCCESS);
    assert_int_equal(pam_set_item(pamh, PAM_RHOST, "192.0.2.10"), PAM_SUCCESS);
    return pamh;
}

/* PAM_TRY_AGAIN comes from the sentinel: pam_eic returned PAM_IGNORE. */
static int mod(int ret)
{
    return ret == PAM_TRY_AGAIN ? PAM_IGNORE : ret;
}

static int account(const char *user, const char *args)
{
    pam_handle_t *pamh = start(user, args);
    int ret = mod(pam_acct_mgmt(pamh, 0));

    pam_end(pamh, ret);
    return ret;
}

/* Open (with SSH_AUTH_INFO_0 = info when not NULL) and, when it succeeded, close. */
static int open_close(const char *user, const char *args, const char *info, int *close_ret)
{
    pam_handle_t *pamh = start(user, args);
    int ret;

    if (info != NULL) {
        assert_int_equal(pam_putenv(pamh, info), PAM_SUCCESS);
    }
    ret = mod(pam_open_session(pamh, 0));
    if (close_ret != NULL) {
        *close_ret = ret == PAM_SUCCESS || ret == PAM_IGNORE ? mod(pam_close_session(pamh, 0)) : -1;
    }
    pam_end(pamh, ret);
    return ret;
}

static char args_buf[8192];

/* eicd answers from cfg from now on (it reads its configuration at every request). */
static void eicd_use(const char *cfg)
{
    if (unlink(eicd_conf) != 0) {
        assert_int_equal(errno, ENOENT);
    }
    assert_int_equal(symlink(cfg, eicd_conf), 0);
}

/* "config=CFG audit_log=AUDIT " + extra; eicd reads CFG too, as it reads the module's on a host. */
static const char *args_with(const char *cfg, const char *extra)
{
    eicd_use(cfg);
    snprintf(args_buf, sizeof(args_buf), "config=%s audit_log=%s skel=%s verify=%s %s", cfg, audit_path, skel, verify,
             extra);
    return args_buf;
}

/* The last audit record, parsed (caller json_object_put()s it). */
static json_object *last_audit(void)
{
    char *text = read_all(audit_path);
    char *line, *last = NULL;
    json_object *obj;

    for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        last = line;
    }
    assert_non_null(last);
    obj = json_tokener_parse(last);
    assert_non_null(obj);
    free(text);
    return obj;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
        return NULL;
    }
    return json_object_get_string(v);
}

static long long jint(json_object *o, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static bool jbool(json_object *o, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_boolean));
    return json_object_get_boolean(v);
}

/* ---- setup ---- */

static const char *env_or_empty(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "";
}

static void emu_start(void)
{
    char ready[PATH_MAX + 16], state[PATH_MAX + 16], elog[PATH_MAX + 16], listen[] = "127.0.0.1:0";
    uint64_t until;

    snprintf(ready, sizeof(ready), "%s/emu-ready", top);
    snprintf(state, sizeof(state), "%s/emu-state", top);
    snprintf(elog, sizeof(elog), "%s/emu.log", top);
    emu_pid = fork();
    assert_true(emu_pid >= 0);
    if (emu_pid == 0) {
        int fd = open(elog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        unsetenv("LD_PRELOAD"); /* the emulator needs no fake accounts */
        execl(EIC_EMULATOR_PATH, EIC_EMULATOR_PATH, "--listen", listen, "--ready-file", ready, "--state-dir", state,
              "--config", WORLD, (char *)NULL);
        _exit(127);
    }
    until = eic_monotonic_ms() + READY_TIMEOUT_MS;
    while (eic_monotonic_ms() < until) {
        FILE *f = fopen(ready, "re");

        if (f != NULL) {
            char line[96];
            bool got = fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') != NULL;

            fclose(f);
            if (got) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(emu_url, sizeof(emu_url), "http://%s", line);
                return;
            }
        }
        assert_int_not_equal(waitpid(emu_pid, NULL, WNOHANG), emu_pid);
        sleep_ms(20);
    }
    fail_msg("emulator not ready");
}

/* eicd, as the package runs it without systemd; the fake accounts (nss_wrapper) are inherited. */
static void eicd_start(void)
{
    char out[PATH_MAX + 16];
    uint64_t until;

    snprintf(out, sizeof(out), "%s/eicd.out", top);
    eicd_pid = fork();
    assert_true(eicd_pid >= 0);
    if (eicd_pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(EICD_PATH, EICD_PATH, "--config", eicd_conf, "--foreground", "--socket", eicd_sock, (char *)NULL);
        _exit(127);
    }
    until = eic_monotonic_ms() + READY_TIMEOUT_MS;
    while (eic_monotonic_ms() < until) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool up;

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", eicd_sock);
        up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (up) {
            return;
        }
        assert_int_not_equal(waitpid(eicd_pid, NULL, WNOHANG), eicd_pid);
        sleep_ms(20);
    }
    fail_msg("eicd not ready");
}

static void eicd_stop(void)
{
    if (eicd_pid > 0) {
        kill(eicd_pid, SIGTERM);
        waitpid(eicd_pid, NULL, 0);
        eicd_pid = 0;
    }
}

static void write_config(const char *path, const char *rules, const char *endpoint)
{
    write_file(path, 0644,
               "imds_endpoint = %s\nimds_timeout_ms = 5000\nca_file = %s/emu-state/ca.pem\nlog_file = %s\n"
               "cache_dir = %s\nhome_base = %s\nservice_socket = %s\n%s\n",
               endpoint, top, log_path, cache_dir, home_base, eicd_sock, rules);
}

#define ALLOW_RULES "[map arn:aws:iam::111122223333:user/*]\nname = {user}\n"

static int setup(void **state)
{
    char path[PATH_MAX + 32], cache_passwd[PATH_MAX + 32], cache_group[PATH_MAX + 32];
    struct eic_cache_range range = {200000, 299999, NULL, NULL};
    FILE *pw, *gr;

    (void)state;
    have_root = geteuid() == 0;
    if (!have_root) {
        return 0;
    }
    assert_non_null(mkdtemp(top));
    assert_int_equal(chmod(top, 0755), 0); /* parent of home_base: checked by nothing, but tidy */
    snprintf(confdir, sizeof(confdir), "%s/pam.d", top);
    /* libpam splits a service line at white space and the module path cannot be quoted, and the
     * checkout's path (hence PAM_EIC_MODULE) may have a space: the service files name a symlink. */
    snprintf(module, sizeof(module), "%s/pam_eic.so", top);
    assert_int_equal(symlink(PAM_EIC_MODULE, module), 0);
    /* The module runs it with an empty environment, as it must; here it needs the fake accounts
     * (and, in the ASan suite, the sanitizer's options), as this process has them. */
    snprintf(verify, sizeof(verify), "%s/eic-authorized-keys-verify", top);
    write_file(verify, 0755,
               "#!/bin/sh\nexec env LD_PRELOAD='%s' NSS_WRAPPER_PASSWD='%s' NSS_WRAPPER_GROUP='%s' ASAN_OPTIONS='%s' "
               "UBSAN_OPTIONS='%s' '%s' \"$@\"\n",
               env_or_empty("LD_PRELOAD"), env_or_empty("NSS_WRAPPER_PASSWD"), env_or_empty("NSS_WRAPPER_GROUP"),
               env_or_empty("ASAN_OPTIONS"), env_or_empty("UBSAN_OPTIONS"), EIC_VERIFY_PATH);
    snprintf(cache_dir, sizeof(cache_dir), "%s/cache", top);
    snprintf(home_base, sizeof(home_base), "%s/home", top);
    snprintf(skel, sizeof(skel), "%s/skel", top);
    snprintf(log_path, sizeof(log_path), "%s/pam.log", top);
    snprintf(audit_path, sizeof(audit_path), "%s/audit/audit.log", top);
    snprintf(eicd_conf, sizeof(eicd_conf), "%s/eicd.conf", top);
    snprintf(eicd_sock, sizeof(eicd_sock), "%s/eicd.sock", top);
    assert_int_equal(mkdir(confdir, 0755), 0);
    assert_int_equal(mkdir(cache_dir, 0755), 0);
    assert_int_equal(mkdir(home_base, 0755), 0);
    snprintf(path, sizeof(path), "%s/badhome", top);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(chmod(path, 0777), 0); /* world-writable parent: no home is created there */

    /* Skeleton: a file, a nested directory with a file, a symlink (skipped). */
    assert_int_equal(mkdir(skel, 0755), 0);
    snprintf(path, sizeof(path), "%s/.bashrc", skel);
    write_file(path, 0644, "# skel bashrc\n");
    snprintf(path, sizeof(path), "%s/.config", skel);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof(path), "%s/.config/app.conf", skel);
    write_file(path, 0600, "x = 1\n");
    snprintf(path, sizeof(path), "%s/link", skel);
    assert_int_equal(symlink("/etc/shadow", path), 0);

    /* The cache: mapped accounts, allocated against empty local files. */
    snprintf(cache_passwd, sizeof(cache_passwd), "%s/cache-passwd", top);
    snprintf(cache_group, sizeof(cache_group), "%s/cache-group", top);
    write_file(cache_passwd, 0644, "root:x:0:0:root:/root:/bin/bash\n");
    write_file(cache_group, 0644, "root:x:0:\n");
    range.passwd_file = cache_passwd;
    range.group_file = cache_group;
    for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++) {
        char arn[128];
        struct eic_cache_new_user nu = {mapped[i], arn, NULL, 0, home_base, "/bin/bash", false};

        snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%s", mapped[i]);
        assert_int_equal(eic_cache_add_user(cache_dir, &range, &nu, &uid_of[i]), 0);
    }
    {
        /* carol: in the cache, but the passwd entry that resolves has another UID (a local account
         * of the same name): not IAM-mapped. */
        struct eic_cache_new_user nu = {"carol", "arn:aws:iam::111122223333:user/carol", NULL, 0, home_base,
                                        "/bin/bash", false};
        uid_t uid;

        assert_int_equal(eic_cache_add_user(cache_dir, &range, &nu, &uid), 0);
    }

    /* The accounts getpwnam() sees (nss_wrapper). */
    pw = fopen(getenv("NSS_WRAPPER_PASSWD"), "we");
    gr = fopen(getenv("NSS_WRAPPER_GROUP"), "we");
    assert_non_null(pw);
    assert_non_null(gr);
    fprintf(pw, "root:x:0:0:root:/root:/bin/bash\nlocaluser:x:1500:1500::/home/localuser:/bin/sh\n"
                "eicuser:x:1501:1501::/home/eicuser:/bin/sh\ncarol:x:1600:1600::/home/carol:/bin/sh\n");
    fprintf(gr, "root:x:0:\nlocaluser:x:1500:\neicuser:x:1501:\ncarol:x:1600:\n");
    for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++) {
        /* m7's home is under a world-writable directory */
        fprintf(pw, "%s:*:%lu:%lu::%s/%s/%s:/bin/bash\n", mapped[i], (unsigned long)uid_of[i],
                (unsigned long)uid_of[i], top, i == 7 ? "badhome" : "home", mapped[i]);
        fprintf(gr, "%s:x:%lu:\n", mapped[i], (unsigned long)uid_of[i]);
    }
    assert_int_equal(fclose(pw), 0);
    assert_int_equal(fclose(gr), 0);

    /* Keys. */
    snprintf(key_pushed, sizeof(key_pushed), "%s/key-pushed", top);
    snprintf(key_other, sizeof(key_other), "%s/key-other", top);
    {
        const char *kg1[] = {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_pushed, NULL};
        const char *kg2[] = {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_other, NULL};

        assert_int_equal(run(kg1, NULL), 0);
        assert_int_equal(run(kg2, NULL), 0);
    }
    strcat(key_pushed, ".pub");
    strcat(key_other, ".pub");

    emu_start();
    snprintf(cfg_allow, sizeof(cfg_allow), "%s/allow.conf", top);
    snprintf(cfg_deny, sizeof(cfg_deny), "%s/deny.conf", top);
    snprintf(cfg_other, sizeof(cfg_other), "%s/other.conf", top);
    snprintf(cfg_norule, sizeof(cfg_norule), "%s/norule.conf", top);
    snprintf(cfg_bad, sizeof(cfg_bad), "%s/bad.conf", top);
    snprintf(cfg_gw, sizeof(cfg_gw), "%s/gw.conf", top);
    snprintf(cfg_noimds, sizeof(cfg_noimds), "%s/noimds.conf", top);
    write_config(cfg_allow, ALLOW_RULES, emu_url);
    write_config(cfg_deny, "[deny arn:aws:iam::111122223333:user/alice]\n\n" ALLOW_RULES, emu_url);
    write_config(cfg_other, "[map arn:aws:iam::111122223333:user/alice]\nname = x-{user}\n\n" ALLOW_RULES, emu_url);
    write_config(cfg_norule, "[map arn:aws:iam::111122223333:user/m*]\nname = {user}\n", emu_url);
    write_config(cfg_bad, "imds_timout_ms = 5\n" ALLOW_RULES, emu_url);
    write_config(cfg_gw, ALLOW_RULES, emu_url);
    assert_int_equal(chmod(cfg_gw, 0664), 0);
    write_config(cfg_noimds, ALLOW_RULES, "http://127.0.0.1:1");
    eicd_use(cfg_allow);
    eicd_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    eicd_stop();
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
    }
    if (have_root && getenv("EIC_TEST_KEEP") == NULL) {
        unit_remove_tree(top);
    }
    if (getenv("EIC_TEST_PAM_NSS_DIR") != NULL) {
        unit_remove_tree(getenv("EIC_TEST_PAM_NSS_DIR"));
    }
    return 0;
}

#define NEED_ROOT()                                                                                                    \
    do {                                                                                                               \
        (void)state;                                                                                                   \
        if (!have_root) {                                                                                              \
            skip();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* ---- module arguments ---- */

static const char *const bad_args[] = {
    "bogus",                      /* unknown */
    "debug=1",                    /* unknown (debug takes no value) */
    "config=etc/eic.conf",        /* relative */
    "config=/etc/../eic.conf",    /* not clean */
    "audit_log=audit.log",        /* relative */
    "audit_log=/var//log/x",      /* not clean */
    "skel=",                      /* empty */
    "max_session=0",              /* out of range */
    "max_session=31536001",
    "max_session=-5",
    "max_session=10s",
    "max_session=",
    "eic_only=",
    "eic_only=-bad",
    "eic_only=a,,b",
    "eic_only=a,",
    "eic_only=user@host",
    "home_mode=700",              /* no leading 0 */
    "home_mode=0777",             /* group/world-writable */
    "home_mode=0720",
    "home_mode=04700",            /* set-id */
    "home_mode=0500",             /* owner cannot write */
    "home_mode=0789",
    "max_session=5 max_session=6", /* twice */
    "config=/x config=/y",
    "authorized_keys=",           /* empty */
    "authorized_keys=a,,b",
    "authorized_keys=a,",
    "authorized_keys=/k/%x",      /* unknown token */
    "authorized_keys=/k/%",
    "authorized_keys=../k",       /* not clean */
    "authorized_keys=a,b,c,d,e",  /* more than 4 */
};

static void test_bad_args_fail_closed(void **state)
{
    char args[512];

    NEED_ROOT();
    for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
        int close_ret = 0;
        pam_handle_t *pamh;

        /* config= first, so the complaint goes to the test's log file (a bad config= itself is
         * given alone: twice would be refused for that reason instead) */
        if (strncmp(bad_args[i], "config=", 7) == 0) {
            snprintf(args, sizeof(args), "%s", bad_args[i]);
        } else {
            snprintf(args, sizeof(args), "config=%s %s", cfg_allow, bad_args[i]);
        }
        print_message("# bad argument: %s\n", bad_args[i]);
        /* account: for a local and for a mapped user */
        assert_int_equal(account("localuser", args), PAM_SERVICE_ERR);
        assert_int_equal(account("alice", args), PAM_SERVICE_ERR);
        /* session open */
        assert_int_equal(open_close("localuser", args, NULL, NULL), PAM_SERVICE_ERR);
        assert_int_equal(open_close("m1", args, NULL, NULL), PAM_SERVICE_ERR);
        /* session close */
        pamh = start("m1", args);
        close_ret = mod(pam_close_session(pamh, 0));
        pam_end(pamh, close_ret);
        assert_int_equal(close_ret, PAM_SERVICE_ERR);
    }
    assert_true(file_has(log_path, "unknown module argument 'bogus'; refusing"));
    assert_true(file_has(log_path, "malformed module argument 'home_mode=0777'; refusing"));
    assert_true(file_has(log_path, "module argument max_session given twice"));
}

static void test_good_args_accepted(void **state)
{
    NEED_ROOT();
    assert_int_equal(account("localuser", args_with(cfg_allow, "debug max_session=31536000 eic_only=ec2-user,admin "
                                                               "home_mode=0750")),
                     PAM_IGNORE);
    assert_int_equal(account("alice", args_with(cfg_allow, "max_session=1 home_mode=0700 eic_only=x")), PAM_SUCCESS);
    assert_int_equal(account("localuser", args_with(cfg_allow, "authorized_keys=/srv/keys/%u,.ssh/authorized_keys,"
                                                               "%h/.ssh/k%%")),
                     PAM_IGNORE);
    /* defaults: /etc/eic/eic.conf (absent here: built-in defaults, no rules) */
    assert_int_equal(account("localuser", ""), PAM_IGNORE);
}

/* ---- account ---- */

static void test_account_local_ignored(void **state)
{
    NEED_ROOT();
    assert_int_equal(account("localuser", args_with(cfg_allow, "")), PAM_IGNORE);
    assert_int_equal(account("root", args_with(cfg_allow, "")), PAM_IGNORE);
    /* carol is in the cache, but the account that resolves has another UID: a local account */
    assert_int_equal(account("carol", args_with(cfg_allow, "")), PAM_IGNORE);
}

static void test_account_unknown_user(void **state)
{
    NEED_ROOT();
    assert_int_equal(account("no-such-user", args_with(cfg_allow, "")), PAM_USER_UNKNOWN);
}

static void test_account_mapped_allowed(void **state)
{
    NEED_ROOT();
    assert_int_equal(account("alice", args_with(cfg_allow, "")), PAM_SUCCESS);
    assert_int_equal(account("m1", args_with(cfg_allow, "")), PAM_SUCCESS);
}

static void test_account_deny_rule(void **state)
{
    char needle[PATH_MAX + 128];

    NEED_ROOT();
    assert_int_equal(account("alice", args_with(cfg_deny, "")), PAM_PERM_DENIED);
    /* the deny rule is the section at line 8 of the file (7 settings before it) */
    snprintf(needle, sizeof(needle), "IAM-mapped account alice refused: principal " ALICE_ARN
             " denied by the deny rule at %s:8", cfg_deny);
    assert_true(file_has(log_path, needle));
    /* others under the same config are unaffected */
    assert_int_equal(account("m1", args_with(cfg_deny, "")), PAM_SUCCESS);
}

static void test_account_maps_elsewhere_or_no_rule(void **state)
{
    char needle[PATH_MAX + 128];

    NEED_ROOT();
    assert_int_equal(account("alice", args_with(cfg_other, "")), PAM_PERM_DENIED);
    snprintf(needle, sizeof(needle), "principal " ALICE_ARN " maps to another account by the map rule at %s:8",
             cfg_other);
    assert_true(file_has(log_path, needle));
    assert_int_equal(account("alice", args_with(cfg_norule, "")), PAM_PERM_DENIED);
    assert_true(file_has(log_path, "principal " ALICE_ARN " no matching rule"));
    assert_int_equal(account("m2", args_with(cfg_norule, "")), PAM_SUCCESS);
}

static uint64_t cache_generation(void)
{
    struct eic_cache *c = NULL;
    uint64_t generation;

    assert_int_equal(eic_cache_open(cache_dir, &c), 0);
    generation = eic_cache_generation(c);
    eic_cache_close(c);
    return generation;
}

/* m5's supplementary groups in the cache (what nss_eic's initgroups hands out) and the members
 * of the eic-managed group eic-test-ops. */
static void m5_groups(size_t *n_groups, gid_t *first_group, size_t *ops_members, gid_t *ops_gid)
{
    struct eic_cache *c = NULL;
    struct eic_cached_user u;
    struct eic_cached_group g;

    assert_int_equal(eic_cache_open(cache_dir, &c), 0);
    assert_int_equal(eic_cache_user_by_name(c, "m5", &u), 0);
    assert_int_equal(eic_cache_group_by_name(c, "eic-test-ops", &g), 0);
    *n_groups = u.n_groups;
    *first_group = u.n_groups > 0 ? u.groups[0] : (gid_t)-1;
    *ops_members = g.n_members;
    *ops_gid = g.gid;
    eic_cache_close(c);
}

/* The account step brings an existing account's groups in line with the rule that gives it now:
 * a group the rule adds is given, a group it no longer names is taken away (the cache is written
 * only when the account is first looked up, so nothing else would ever take it away). Nothing is
 * written when nothing changed; an account whose groups cannot be brought in line is refused. */
static void test_account_groups_follow_the_rule(void **state)
{
    char cfg_groups[PATH_MAX + 32], lock[PATH_MAX + 32], saved[PATH_MAX + 32], needle[PATH_MAX + 256];
    size_t n_groups, ops_members;
    gid_t first_group, ops_gid;
    uint64_t generation;

    NEED_ROOT();
    snprintf(cfg_groups, sizeof(cfg_groups), "%s/groups.conf", top);
    write_config(cfg_groups, "[map arn:aws:iam::111122223333:user/m5]\nname = {user}\ngroups = eic-test-ops\n\n"
                 ALLOW_RULES, emu_url);
    assert_int_equal(account("m5", args_with(cfg_groups, "")), PAM_SUCCESS);
    m5_groups(&n_groups, &first_group, &ops_members, &ops_gid);
    assert_int_equal(n_groups, 1);
    assert_int_equal(first_group, ops_gid);
    assert_int_equal(ops_members, 1);
    generation = cache_generation();
    /* the same rule again: no new version (a write per login would be a regression) */
    assert_int_equal(account("m5", args_with(cfg_groups, "")), PAM_SUCCESS);
    assert_int_equal(cache_generation(), generation);

    /* the rule stops naming the group: m5 loses it at this account step */
    assert_int_equal(account("m5", args_with(cfg_allow, "")), PAM_SUCCESS);
    m5_groups(&n_groups, &first_group, &ops_members, &ops_gid);
    assert_int_equal(n_groups, 0);
    assert_int_equal(ops_members, 0);
    assert_int_equal(cache_generation(), generation + 1);
    snprintf(needle, sizeof(needle), "account cache: m5 (uid %lu) groups now none (were eic-test-ops(%lu))",
             (unsigned long)uid_of[5], (unsigned long)ops_gid);
    assert_true(file_has(log_path, needle));
    assert_int_equal(account("m5", args_with(cfg_allow, "")), PAM_SUCCESS);
    assert_int_equal(cache_generation(), generation + 1);

    /* the cache cannot be locked (its lock file is a directory): an account already in line gets
     * in (that needs no lock), one that would get a group is refused, not let in as it was */
    snprintf(lock, sizeof(lock), "%s/accounts.lock", cache_dir);
    snprintf(saved, sizeof(saved), "%s/accounts.lock.saved", cache_dir);
    assert_int_equal(rename(lock, saved), 0);
    assert_int_equal(mkdir(lock, 0700), 0);
    assert_int_equal(account("m5", args_with(cfg_allow, "")), PAM_SUCCESS);
    assert_int_equal(account("m5", args_with(cfg_groups, "")), PAM_PERM_DENIED);
    assert_int_equal(rmdir(lock), 0);
    assert_int_equal(rename(saved, lock), 0);
    /* eicd writes the cache and logs it (it names the file it reads) */
    snprintf(needle, sizeof(needle), "IAM-mapped account m5 refused: its groups and shell cannot be brought in line "
             "with the map rule at %s:8", eicd_conf);
    assert_true(file_has(log_path, needle));
    assert_true(file_has(log_path, "IAM-mapped account m5 refused by eicd: Permission denied"));
    m5_groups(&n_groups, &first_group, &ops_members, &ops_gid);
    assert_int_equal(n_groups, 0);

    /* Without eicd, the only writer of the cache: an account in line gets in as it is; one that a
     * rule would change is refused, and nothing is written. */
    eicd_stop();
    generation = cache_generation();
    assert_int_equal(account("m5", args_with(cfg_allow, "")), PAM_SUCCESS);
    assert_int_equal(account("m5", args_with(cfg_groups, "")), PAM_PERM_DENIED);
    assert_int_equal(cache_generation(), generation);
    snprintf(needle, sizeof(needle), "IAM-mapped account m5 refused: its groups or shell must be brought in line "
             "with the map rule at %s:8, and only eicd may write the account cache", cfg_groups);
    assert_true(file_has(log_path, needle));
    assert_true(file_has(log_path, "eicd does not answer on"));
    /* a revoked account needs no service to be refused */
    assert_int_equal(account("alice", args_with(cfg_deny, "")), PAM_PERM_DENIED);
    eicd_start();
    assert_int_equal(account("m5", args_with(cfg_groups, "")), PAM_SUCCESS);
    assert_int_equal(cache_generation(), generation + 1);
}

/* An unusable configuration leaves only the built-in defaults, so the account cache is looked up in
 * the default /var/lib/eic. The child runs fn in a private mount namespace with a tmpfs on /var/lib
 * and the test's cache bound on /var/lib/eic, so nothing of the host is touched. Returns fn's
 * value, or -1 when namespaces are not available here. */
static int with_default_cache(int (*fn)(const char *cfg), const char *cfg)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755") != 0 || mkdir("/var/lib/eic", 0755) != 0 ||
            mount(cache_dir, "/var/lib/eic", "none", MS_BIND, NULL) != 0) {
            _exit(255);
        }
        _exit(fn(cfg));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static int account_alice(const char *cfg)
{
    return account("alice", args_with(cfg, ""));
}

static int account_local(const char *cfg)
{
    return account("localuser", args_with(cfg, ""));
}

static int session_m1(const char *cfg)
{
    return open_close("m1", args_with(cfg, ""), NULL, NULL);
}

static int session_local(const char *cfg)
{
    return open_close("localuser", args_with(cfg, ""), NULL, NULL);
}

static int session_eic_only(const char *cfg)
{
    return open_close("eicuser", args_with(cfg, "eic_only=eicuser"), NULL, NULL);
}

static void test_unusable_config(void **state)
{
    const char *const cfgs[] = {cfg_bad, cfg_gw};

    NEED_ROOT();
    if (with_default_cache(account_local, cfg_allow) < 0) {
        print_message("# no mount namespaces here\n");
        skip();
    }
    for (size_t i = 0; i < 2; i++) {
        /* an unknown key, a group-writable file: mapped accounts fail closed (account and session),
         * local accounts are not eic's business and are not locked out */
        assert_int_equal(with_default_cache(account_alice, cfgs[i]), PAM_PERM_DENIED);
        assert_int_equal(with_default_cache(account_local, cfgs[i]), PAM_IGNORE);
        assert_int_equal(with_default_cache(session_m1, cfgs[i]), PAM_PERM_DENIED);
        assert_int_equal(with_default_cache(session_local, cfgs[i]), PAM_IGNORE);
        assert_int_equal(with_default_cache(session_eic_only, cfgs[i]), PAM_PERM_DENIED);
    }
    /* the same cache with a good config: alice is allowed (the namespace set-up is not what refuses) */
    assert_int_equal(with_default_cache(account_alice, cfg_allow), PAM_SUCCESS);
    /* (why the configuration was refused is logged to syslog: an unusable file names no log_file) */
}

/* ---- session ---- */

static void test_session_mapped_audit_env_home(void **state)
{
    char home[512], path[1024];
    pam_handle_t *pamh;
    json_object *rec;
    struct stat st;
    const char *env;

    NEED_ROOT();
    pamh = start("m1", args_with(cfg_allow, "home_mode=0750"));
    assert_int_equal(mod(pam_open_session(pamh, 0)), PAM_SUCCESS);

    rec = last_audit();
    assert_string_equal(jstr(rec, "event"), "session_open");
    assert_string_equal(jstr(rec, "user"), "m1");
    assert_int_equal(jint(rec, "uid"), uid_of[1]);
    assert_string_equal(jstr(rec, "principal"), "arn:aws:iam::111122223333:user/m1");
    assert_string_equal(jstr(rec, "request_id"), "-");
    assert_null(jstr(rec, "fingerprint"));
    assert_string_equal(jstr(rec, "rhost"), "192.0.2.10");
    assert_string_equal(jstr(rec, "service"), "eic-test");
    assert_int_equal(jint(rec, "pid"), getpid());
    assert_false(jbool(rec, "eic_key"));
    assert_true(llabs(jint(rec, "time") - (long long)time(NULL)) < 5);
    json_object_put(rec);
    assert_true(file_has(log_path, "session_open user=m1 uid="));

    env = pam_getenv(pamh, "EIC_PRINCIPAL");
    assert_non_null(env);
    assert_string_equal(env, "arn:aws:iam::111122223333:user/m1");
    assert_null(pam_getenv(pamh, "EIC_REQUEST_ID")); /* unknown without a pushed key */

    /* the home: from the skeleton, the user's, mode from home_mode; files the user's; the link not copied */
    snprintf(home, sizeof(home), "%s/m1", home_base);
    assert_int_equal(lstat(home, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, uid_of[1]);
    assert_int_equal(st.st_gid, uid_of[1]);
    assert_int_equal(st.st_mode & 07777, 0750);
    snprintf(path, sizeof(path), "%s/.bashrc", home);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_uid, uid_of[1]);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_true(file_has(path, "# skel bashrc"));
    snprintf(path, sizeof(path), "%s/.config", home);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, uid_of[1]);
    assert_int_equal(st.st_mode & 07777, 0750);
    snprintf(path, sizeof(path), "%s/.config/app.conf", home);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_uid, uid_of[1]);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/link", home);
    assert_int_equal(lstat(path, &st), -1);
    assert_true(file_has(log_path, "skeleton entry link is a symlink; not copied"));

    /* close: a record with the duration */
    sleep_ms(1100);
    assert_int_equal(mod(pam_close_session(pamh, 0)), PAM_SUCCESS);
    rec = last_audit();
    assert_string_equal(jstr(rec, "event"), "session_close");
    assert_string_equal(jstr(rec, "user"), "m1");
    assert_true(jint(rec, "duration") >= 1 && jint(rec, "duration") <= 5);
    json_object_put(rec);
    pam_end(pamh, PAM_SUCCESS);

    /* a second login leaves the existing home alone */
    snprintf(path, sizeof(path), "%s/mine", home);
    write_file(path, 0600, "kept\n");
    assert_int_equal(open_close("m1", args_with(cfg_allow, ""), NULL, NULL), PAM_SUCCESS);
    assert_true(file_has(path, "kept"));
    assert_int_equal(lstat(home, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
}

static void test_session_home_symlink_refused(void **state)
{
    char home[PATH_MAX + 64], target[PATH_MAX + 64];
    struct stat st;

    NEED_ROOT();
    /* m2's home path is a symlink someone planted (pointing at a root-owned directory) */
    snprintf(home, sizeof(home), "%s/m2", home_base);
    snprintf(target, sizeof(target), "%s/target", top);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, home), 0);
    assert_int_equal(open_close("m2", args_with(cfg_allow, ""), NULL, NULL), PAM_SESSION_ERR);
    assert_true(file_has(log_path, "is a symlink; refusing the session"));
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_uid, 0); /* not chowned through the link */
    assert_int_equal(st.st_mode & 07777, 0700);

    /* a regular file there: refused too */
    snprintf(home, sizeof(home), "%s/m3", home_base);
    write_file(home, 0644, "not a dir\n");
    assert_int_equal(open_close("m3", args_with(cfg_allow, ""), NULL, NULL), PAM_SESSION_ERR);
    assert_true(file_has(log_path, "exists and is not a directory"));

    /* a world-writable parent: not created */
    assert_int_equal(open_close("m7", args_with(cfg_allow, ""), NULL, NULL), PAM_SESSION_ERR);
    assert_true(file_has(log_path, "must be owned by root and not group- or world-writable"));
    snprintf(home, sizeof(home), "%s/badhome/m7", top);
    assert_int_equal(lstat(home, &st), -1);
}

static void test_session_local_ignored_but_audited(void **state)
{
    json_object *rec;
    int close_ret;

    NEED_ROOT();
    assert_int_equal(open_close("localuser", args_with(cfg_allow, ""), NULL, &close_ret), PAM_IGNORE);
    assert_int_equal(close_ret, PAM_IGNORE);
    rec = last_audit();
    assert_string_equal(jstr(rec, "event"), "session_close");
    assert_string_equal(jstr(rec, "user"), "localuser");
    assert_null(jstr(rec, "principal"));
    assert_false(jbool(rec, "eic_key"));
    json_object_put(rec);
    /* a deny rule ends mapped sessions even without the account step */
    assert_int_equal(open_close("alice", args_with(cfg_deny, ""), NULL, NULL), PAM_PERM_DENIED);
}

static void test_session_pushed_key_mapped(void **state)
{
    char info[4096], fp[128];
    pam_handle_t *pamh;
    json_object *rec;
    const char *rid;

    NEED_ROOT();
    push("alice", key_pushed);
    auth_info(key_pushed, info, sizeof(info));
    fingerprint_of(key_pushed, fp, sizeof(fp));
    pamh = start("alice", args_with(cfg_allow, ""));
    assert_int_equal(pam_putenv(pamh, info), PAM_SUCCESS);
    assert_int_equal(mod(pam_open_session(pamh, 0)), PAM_SUCCESS);
    rec = last_audit();
    assert_string_equal(jstr(rec, "event"), "session_open");
    assert_string_equal(jstr(rec, "user"), "alice");
    assert_string_equal(jstr(rec, "principal"), ALICE_ARN);
    assert_string_equal(jstr(rec, "fingerprint"), fp);
    assert_true(jbool(rec, "eic_key"));
    rid = jstr(rec, "request_id");
    assert_non_null(rid);
    assert_true(strlen(rid) > 8);
    assert_non_null(pam_getenv(pamh, "EIC_REQUEST_ID"));
    assert_string_equal(pam_getenv(pamh, "EIC_REQUEST_ID"), rid);
    assert_string_equal(pam_getenv(pamh, "EIC_PRINCIPAL"), ALICE_ARN);
    json_object_put(rec);
    assert_int_equal(mod(pam_close_session(pamh, 0)), PAM_SUCCESS);
    pam_end(pamh, PAM_SUCCESS);
}

static void test_session_local_user_with_pushed_key(void **state)
{
    char info[4096], fp[128];
    json_object *rec;

    NEED_ROOT();
    /* classic EC2 Instance Connect: a local account, a key pushed for it */
    push("eicuser", key_pushed);
    auth_info(key_pushed, info, sizeof(info));
    fingerprint_of(key_pushed, fp, sizeof(fp));
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, ""), info, NULL), PAM_SUCCESS);
    rec = last_audit();
    assert_string_equal(jstr(rec, "user"), "eicuser");
    assert_string_equal(jstr(rec, "principal"), ALICE_ARN);
    assert_string_equal(jstr(rec, "fingerprint"), fp);
    assert_true(jbool(rec, "eic_key"));
    json_object_put(rec);

    /* another key: a local login like any other (audited, not managed) */
    auth_info(key_other, info, sizeof(info));
    fingerprint_of(key_other, fp, sizeof(fp));
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, ""), info, NULL), PAM_IGNORE);
    rec = last_audit();
    assert_string_equal(jstr(rec, "fingerprint"), fp);
    assert_false(jbool(rec, "eic_key"));
    assert_null(jstr(rec, "principal"));
    json_object_put(rec);

    /* eicd not running: the AKC's fallback program checks the key, as a child of the module */
    eicd_stop();
    auth_info(key_pushed, info, sizeof(info));
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, ""), info, NULL), PAM_SUCCESS);
    rec = last_audit();
    assert_true(jbool(rec, "eic_key"));
    assert_string_equal(jstr(rec, "principal"), ALICE_ARN);
    json_object_put(rec);
    assert_true(file_has(log_path, "eicd does not answer on"));
    /* ... and when that cannot run either, this is a local login (audited, not managed); the local
     * user is not locked out */
    snprintf(args_buf, sizeof(args_buf), "config=%s audit_log=%s skel=%s verify=%s/none", cfg_allow, audit_path, skel,
             top);
    assert_int_equal(open_close("eicuser", args_buf, info, NULL), PAM_IGNORE);
    rec = last_audit();
    assert_false(jbool(rec, "eic_key"));
    json_object_put(rec);
    assert_true(file_has(log_path, "pushed keys of eicuser not checked: "));
    eicd_start();
}

/* A key the user logged in with from their own authorized_keys (sshd reads those before the
 * AuthorizedKeysCommand) is a local login: IMDS is not asked. Before, every local key login asked
 * IMDS here, and waited for its timeout when IMDS hung. */
static void test_session_key_from_authorized_keys(void **state)
{
    char info[4096], args[PATH_MAX + 64], keys[PATH_MAX], line[4096];
    char *pub = NULL, *pushed = NULL, *log = NULL;
    size_t mark;
    json_object *rec;

    NEED_ROOT();
    snprintf(keys, sizeof(keys), "%s/keys-eicuser", top);
    pub = read_all(key_other);
    pushed = read_all(key_pushed);
    /* a comment line, another key, then the login key after options with quoted blanks */
    snprintf(line, sizeof(line), "# keys\n%sfrom=\"127.0.0.1\",command=\"echo a b\" %s", pushed, pub);
    write_file(keys, 0644, "%s", line);
    snprintf(args, sizeof(args), "authorized_keys=/nonexistent/%%u,%s/keys-%%u", top);
    auth_info(key_other, info, sizeof(info));

    /* IMDS unreachable (cfg_noimds): nothing is asked, nothing is logged about it. */
    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    assert_int_equal(open_close("eicuser", args_with(cfg_noimds, args), info, NULL), PAM_IGNORE);
    log = read_all(log_path);
    if (strstr(log + mark, "active-keys/eicuser/") != NULL) {
        fail_msg("IMDS was asked about a key from authorized_keys:\n%s", log + mark);
    }
    free(log);
    rec = last_audit();
    assert_false(jbool(rec, "eic_key"));
    json_object_put(rec);

    /* Not in the file (the default files do not exist here): IMDS is asked, and says what it says. */
    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    assert_int_equal(open_close("eicuser", args_with(cfg_noimds, ""), info, NULL), PAM_IGNORE);
    log = read_all(log_path);
    assert_non_null(strstr(log + mark, "active-keys/eicuser/"));
    free(log);

    /* A file sshd's StrictModes would ignore (group-writable) is not believed either. */
    assert_int_equal(chmod(keys, 0664), 0);
    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    assert_int_equal(open_close("eicuser", args_with(cfg_noimds, args), info, NULL), PAM_IGNORE);
    log = read_all(log_path);
    assert_non_null(strstr(log + mark, "active-keys/eicuser/"));
    free(log);

    /* A cert-authority line names a CA key: sshd does not accept that key itself from it. */
    write_file(keys, 0644, "cert-authority %s", pub);
    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    assert_int_equal(open_close("eicuser", args_with(cfg_noimds, args), info, NULL), PAM_IGNORE);
    log = read_all(log_path);
    assert_non_null(strstr(log + mark, "active-keys/eicuser/"));
    free(log);
    free(pushed);
    free(pub);
}

/* sshd goes on with a session whose pam_open_session failed, so with SSH_AUTH_INFO_0 set (sshd is
 * the caller) a refusal ends the calling process. Run in a child; true when it died of SIGTERM
 * without returning from pam_open_session. */
static bool refused_and_ended(const char *user, const char *args, const char *info)
{
    int status;
    pid_t pid;

    write_service(args);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(open_close(user, args, info, NULL) & 0x7f);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
        print_message("# child status 0x%x (exit %d)\n", status, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return false;
    }
    return true;
}

/* A login with an OpenSSH certificate (TrustedUserCAKeys) is a local login too: Instance Connect
 * pushes plain keys only. Before, such a login asked IMDS, and waited for its timeout when IMDS
 * hung; an eic_only user is still refused (a certificate is never a valid pushed key). */
static void test_session_certificate_login(void **state)
{
    char ca[PATH_MAX], cert[PATH_MAX], info[8192];
    char *log = NULL;
    size_t mark;

    NEED_ROOT();
    snprintf(ca, sizeof(ca), "%s/user-ca", top);
    snprintf(cert, sizeof(cert), "%s/key-other-cert.pub", top);
    {
        const char *keygen[] = {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca, NULL};
        const char *sign[] = {"/usr/bin/ssh-keygen", "-q", "-s", ca, "-I", "test", "-n", "eicuser", key_other, NULL};

        assert_int_equal(run(keygen, NULL), 0);
        assert_int_equal(run(sign, NULL), 0);
    }
    auth_info(cert, info, sizeof(info));
    assert_non_null(strstr(info, "-cert-v01@openssh.com "));

    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    assert_int_equal(open_close("eicuser", args_with(cfg_noimds, ""), info, NULL), PAM_IGNORE);
    log = read_all(log_path);
    if (strstr(log + mark, "active-keys/eicuser/") != NULL) {
        fail_msg("IMDS was asked about a certificate login:\n%s", log + mark);
    }
    free(log);
    assert_true(refused_and_ended("eicuser", args_with(cfg_noimds, "eic_only=eicuser"), info));
}

/* A setuid-root host (sudo, su run by a user) has euid 0 but another real uid, and its invoker's
 * environment: pam_eic never asks IMDS there (libcurl would obey that environment), so a key in
 * SSH_AUTH_INFO_0, which sshd did not set there, does not count as pushed, even a valid one. The
 * mapped account's session opens with its cached principal; an eic_only user is refused. AT_SECURE
 * itself: a real setuid sudo in tests/integration/test_e2e_setuid.sh. */
static void test_session_not_plain_root(void **state)
{
    char info[4096], elog_path[PATH_MAX];
    json_object *rec;
    char *log = NULL, *elog = NULL;
    size_t mark, emu_mark;
    bool eic_only_refused;
    int ret;

    NEED_ROOT();
    push("alice", key_pushed);
    push("eicuser", key_pushed);
    auth_info(key_pushed, info, sizeof(info));
    snprintf(elog_path, sizeof(elog_path), "%s/emu.log", top);
    log = read_all(log_path);
    mark = strlen(log);
    free(log);
    elog = read_all(elog_path);
    emu_mark = strlen(elog);
    free(elog);

    assert_int_equal(setresuid(65534, 0, 0), 0);
    ret = open_close("alice", args_with(cfg_allow, ""), info, NULL);
    assert_int_equal(setresuid(0, 0, 0), 0);
    assert_int_equal(ret, PAM_SUCCESS);
    rec = last_audit();
    assert_string_equal(jstr(rec, "user"), "alice");
    assert_string_equal(jstr(rec, "principal"), ALICE_ARN);
    assert_false(jbool(rec, "eic_key"));
    json_object_put(rec);

    assert_int_equal(setresuid(65534, 0, 0), 0);
    eic_only_refused = refused_and_ended("eicuser", args_with(cfg_allow, "eic_only=eicuser"), info);
    assert_int_equal(setresuid(0, 0, 0), 0);
    assert_true(eic_only_refused);
    log = read_all(log_path);
    assert_non_null(strstr(log + mark, "pushed keys of alice not checked: not asked from a setuid or non-root "
                                       "process"));
    free(log);
    elog = read_all(elog_path);
    if (strstr(elog + emu_mark, " /latest/") != NULL) {
        fail_msg("IMDS was asked from a process whose real uid is not 0:\n%s", elog + emu_mark);
    }
    free(elog);

    /* The same session in a plain root process (sshd) counts the key. */
    assert_int_equal(open_close("alice", args_with(cfg_allow, ""), info, NULL), PAM_SUCCESS);
    rec = last_audit();
    assert_true(jbool(rec, "eic_key"));
    json_object_put(rec);
}

static void test_eic_only(void **state)
{
    char info[4096];

    NEED_ROOT();
    push("eicuser", key_pushed);
    auth_info(key_pushed, info, sizeof(info));
    /* a valid pushed key: allowed */
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, "eic_only=ec2-user,eicuser"), info, NULL),
                     PAM_SUCCESS);
    /* IMDS unreachable: cannot be checked, refused (and, sshd being the caller, ended) */
    assert_true(refused_and_ended("eicuser", args_with(cfg_noimds, "eic_only=eicuser"), info));
    assert_true(file_has(log_path, "eic_only user and its pushed keys cannot be checked"));
    assert_true(file_has(log_path, "session of eicuser refused; sshd would go on with it, so its process"));
    /* eicd not running: the AKC's fallback program (a child; the module never asks IMDS itself)
     * lets the key in; when it cannot run either, the key cannot be checked: refused */
    eicd_stop();
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, "eic_only=eicuser"), info, NULL), PAM_SUCCESS);
    snprintf(args_buf, sizeof(args_buf), "config=%s audit_log=%s skel=%s verify=%s/none eic_only=eicuser", cfg_allow,
             audit_path, skel, top);
    assert_true(refused_and_ended("eicuser", args_buf, info));
    assert_true(file_has(log_path, "pushed keys of eicuser not checked: "));
    eicd_start();
    /* a key that was never pushed (a stale authorized_keys line): refused */
    auth_info(key_other, info, sizeof(info));
    assert_true(refused_and_ended("eicuser", args_with(cfg_allow, "eic_only=eicuser"), info));
    assert_true(file_has(log_path, "eic_only user and the login key SHA256:"));
    /* keyboard-interactive (no public key): refused */
    assert_true(refused_and_ended("eicuser", args_with(cfg_allow, "eic_only=eicuser"),
                                  "SSH_AUTH_INFO_0=keyboard-interactive\n"));
    /* not from sshd (su, login: no SSH_AUTH_INFO_0): refused by the return code alone */
    assert_int_equal(open_close("eicuser", args_with(cfg_allow, "eic_only=eicuser"), NULL, NULL), PAM_PERM_DENIED);
    /* a user not in the list is not affected */
    assert_int_equal(open_close("localuser", args_with(cfg_allow, "eic_only=eicuser"), info, NULL), PAM_IGNORE);
}

static void test_sshd_refusal_ends_process(void **state)
{
    char info[4096];

    NEED_ROOT();
    auth_info(key_other, info, sizeof(info));
    /* a revoked mapped account, and a home that cannot be made, under sshd */
    assert_true(refused_and_ended("alice", args_with(cfg_deny, ""), info));
    assert_true(refused_and_ended("m7", args_with(cfg_allow, ""), info));
    /* a bad module argument too (fail closed) */
    assert_true(refused_and_ended("localuser", args_with(cfg_allow, "bogus"), info));
    /* local users whose session eic does not manage are never ended */
    assert_int_equal(open_close("localuser", args_with(cfg_allow, ""), info, NULL), PAM_IGNORE);
}

/* How many audit records have event and pid. */
static int audit_count(const char *event, long pid, long long *duration)
{
    char *text = read_all(audit_path);
    int count = 0;

    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_object *o = json_tokener_parse(line);

        if (o == NULL) {
            continue;
        }
        if (strcmp(jstr(o, "event"), event) == 0 && jint(o, "pid") == pid) {
            count++;
            if (duration != NULL) {
                *duration = jint(o, "duration");
            }
        }
        json_object_put(o);
    }
    free(text);
    return count;
}

/* A child stands in for sshd's per-connection process: it opens the session and then waits. */
static pid_t session_child(const char *user, bool ignore_term)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        pam_handle_t *pamh = NULL;

        if (pam_start_confdir("eic-test", user, &conversation, confdir, &pamh) != PAM_SUCCESS ||
            mod(pam_open_session(pamh, 0)) != PAM_SUCCESS) {
            _exit(3);
        }
        if (ignore_term) {
            signal(SIGTERM, SIG_IGN);
        }
        for (int i = 0; i < 60; i++) {
            sleep(1);
        }
        _exit(4); /* not ended by the watchdog */
    }
    return pid;
}

static int wait_child(pid_t pid, long max_ms, long *took_ms)
{
    uint64_t startms = eic_monotonic_ms();
    int status = 0;

    while (eic_monotonic_ms() - startms < (uint64_t)max_ms) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *took_ms = (long)(eic_monotonic_ms() - startms);
            return status;
        }
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    *took_ms = max_ms;
    return -1;
}

static void test_max_session_kills(void **state)
{
    long long duration = -1;
    long took = 0;
    pid_t pid;
    int status;

    NEED_ROOT();
    write_service(args_with(cfg_allow, "max_session=2"));
    pid = session_child("m4", false);
    status = wait_child(pid, 15000, &took);
    print_message("# session child ended after %ld ms, status 0x%x\n", took, status);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    assert_true(took >= 1000); /* not before its time (the open itself took some of the 2 s) */
    assert_int_equal(audit_count("session_open", pid, NULL), 1);
    assert_int_equal(audit_count("session_expired", pid, &duration), 1);
    assert_true(duration >= 2 && duration <= 10);
    assert_true(file_has(log_path, "reached max_session; ending it"));
}

static void test_max_session_sigkill(void **state)
{
    long took = 0;
    pid_t pid;
    int status;

    NEED_ROOT();
    write_service(args_with(cfg_allow, "max_session=1"));
    pid = session_child("m5", true);
    status = wait_child(pid, 20000, &took);
    print_message("# session child (ignoring SIGTERM) ended after %ld ms, status 0x%x\n", took, status);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(took >= 2500); /* SIGTERM at 1 s, SIGKILL 2 s later */
    assert_int_equal(audit_count("session_expired", pid, NULL), 1);
    assert_true(file_has(log_path, "ignored SIGTERM; sending SIGKILL"));
}

/* The watchdog's PID from the module's debug line "max_session watchdog PID ends session ...". */
static long watchdog_pid_from_log(long session_pid)
{
    char *text = read_all(log_path);
    char needle[64];
    long wd = 0;

    snprintf(needle, sizeof(needle), " ends session %ld ", session_pid);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *p = strstr(line, "max_session watchdog ");

        if (p != NULL && strstr(line, needle) != NULL) {
            wd = strtol(p + strlen("max_session watchdog "), NULL, 10);
        }
    }
    free(text);
    return wd;
}

static bool process_alive(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *p;
    bool alive = false;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (f == NULL) {
        return false;
    }
    if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL) {
        alive = p[2] != 'Z' && p[2] != 'X';
    }
    fclose(f);
    return alive;
}

static void test_close_stops_watchdog(void **state)
{
    pam_handle_t *pamh;
    long long duration = -1;
    long wd;
    bool gone = false;
    int closes;

    NEED_ROOT();
    closes = audit_count("session_close", (long)getpid(), NULL);
    pamh = start("m6", args_with(cfg_allow, "debug max_session=3600"));
    assert_int_equal(mod(pam_open_session(pamh, 0)), PAM_SUCCESS);
    wd = watchdog_pid_from_log((long)getpid());
    assert_true(wd > 0);
    assert_true(process_alive(wd));
    assert_int_equal(mod(pam_close_session(pamh, 0)), PAM_SUCCESS);
    pam_end(pamh, PAM_SUCCESS);
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !process_alive(wd);
        if (!gone) {
            sleep_ms(20);
        }
    }
    assert_true(gone);
    assert_int_equal(audit_count("session_close", (long)getpid(), &duration), closes + 1);
    assert_true(duration >= 0 && duration < 5);
    assert_int_equal(audit_count("session_expired", (long)getpid(), NULL), 0);
}

static void test_close_without_open(void **state)
{
    pam_handle_t *pamh;

    NEED_ROOT();
    pamh = start("m1", args_with(cfg_allow, ""));
    assert_int_equal(mod(pam_close_session(pamh, 0)), PAM_IGNORE);
    pam_end(pamh, PAM_SUCCESS);
}

static void test_audit_log_unsafe(void **state)
{
    char args[PATH_MAX * 2], link_path[PATH_MAX + 32], victim[PATH_MAX + 32];
    struct stat st;

    NEED_ROOT();
    /* a symlink at the audit log path: never followed; a managed session fails, a local one goes on */
    snprintf(link_path, sizeof(link_path), "%s/audit/link.log", top);
    snprintf(victim, sizeof(victim), "%s/victim", top);
    write_file(victim, 0644, "%s", "");
    assert_int_equal(symlink(victim, link_path), 0);
    snprintf(args, sizeof(args), "config=%s audit_log=%s skel=%s", cfg_allow, link_path, skel);
    assert_int_equal(open_close("m1", args, NULL, NULL), PAM_SESSION_ERR);
    assert_int_equal(open_close("localuser", args, NULL, NULL), PAM_IGNORE);
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_true(file_has(log_path, "cannot write the session_open audit record"));

    /* a log file others may write is no audit trail */
    snprintf(link_path, sizeof(link_path), "%s/audit/open.log", top);
    write_file(link_path, 0666, "%s", "");
    snprintf(args, sizeof(args), "config=%s audit_log=%s skel=%s", cfg_allow, link_path, skel);
    assert_int_equal(open_close("m1", args, NULL, NULL), PAM_SESSION_ERR);

    /* regression: a directory others may write (they could delete or replace the trail) was used */
    snprintf(link_path, sizeof(link_path), "%s/opendir", top);
    assert_int_equal(mkdir(link_path, 0777), 0);
    assert_int_equal(chmod(link_path, 01777), 0);
    snprintf(args, sizeof(args), "config=%s audit_log=%s/audit.log skel=%s", cfg_allow, link_path, skel);
    assert_int_equal(open_close("m1", args, NULL, NULL), PAM_SESSION_ERR);
    assert_int_equal(open_close("localuser", args, NULL, NULL), PAM_IGNORE);

    /* a new log: file 0600, directory 0700 */
    snprintf(link_path, sizeof(link_path), "%s/newdir/audit.log", top);
    snprintf(args, sizeof(args), "config=%s audit_log=%s skel=%s", cfg_allow, link_path, skel);
    assert_int_equal(open_close("m1", args, NULL, NULL), PAM_SUCCESS);
    assert_int_equal(stat(link_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(link_path, sizeof(link_path), "%s/newdir", top);
    assert_int_equal(stat(link_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

/* Re-executes the program under nss_wrapper when it is not already. */
static void ensure_nss_wrapper(char **argv)
{
    const char *preload = getenv("LD_PRELOAD");
    char dir[] = "/tmp/eic-test-pam-nss.XXXXXX";
    char path[sizeof(dir) + 16];

    if (preload != NULL && strstr(preload, "libnss_wrapper") != NULL && getenv("NSS_WRAPPER_PASSWD") != NULL &&
        getenv("NSS_WRAPPER_GROUP") != NULL) {
        return;
    }
    if (access(NSS_WRAPPER_LIB, R_OK) != 0) {
        printf("not ok 1 - %s missing (install libnss-wrapper)\n", NSS_WRAPPER_LIB);
        exit(1);
    }
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    setenv("LD_PRELOAD", NSS_WRAPPER_LIB, 1);
    setenv("EIC_TEST_PAM_NSS_DIR", dir, 1); /* removed by teardown */
    snprintf(path, sizeof(path), "%s/passwd", dir);
    setenv("NSS_WRAPPER_PASSWD", path, 1);
    snprintf(path, sizeof(path), "%s/group", dir);
    setenv("NSS_WRAPPER_GROUP", path, 1);
    execv("/proc/self/exe", argv);
    perror("execv");
    exit(1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args_fail_closed),
        cmocka_unit_test(test_good_args_accepted),
        cmocka_unit_test(test_account_local_ignored),
        cmocka_unit_test(test_account_unknown_user),
        cmocka_unit_test(test_account_mapped_allowed),
        cmocka_unit_test(test_account_deny_rule),
        cmocka_unit_test(test_account_maps_elsewhere_or_no_rule),
        cmocka_unit_test(test_account_groups_follow_the_rule),
        cmocka_unit_test(test_unusable_config),
        cmocka_unit_test(test_session_mapped_audit_env_home),
        cmocka_unit_test(test_session_home_symlink_refused),
        cmocka_unit_test(test_session_local_ignored_but_audited),
        cmocka_unit_test(test_session_pushed_key_mapped),
        cmocka_unit_test(test_session_local_user_with_pushed_key),
        cmocka_unit_test(test_session_key_from_authorized_keys),
        cmocka_unit_test(test_session_certificate_login),
        cmocka_unit_test(test_eic_only),
        cmocka_unit_test(test_session_not_plain_root),
        cmocka_unit_test(test_sshd_refusal_ends_process),
        cmocka_unit_test(test_max_session_kills),
        cmocka_unit_test(test_max_session_sigkill),
        cmocka_unit_test(test_close_stops_watchdog),
        cmocka_unit_test(test_close_without_open),
        cmocka_unit_test(test_audit_log_unsafe),
    };

    (void)argc;
    ensure_nss_wrapper(argv);
    return cmocka_run_group_tests(tests, setup, teardown);
}
