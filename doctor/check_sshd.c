/* sshd's effective configuration, as sshd itself computes it (sshd -T, run inside the root), and
 * the AuthorizedKeysCommand it names: eic's program with eic's arguments, a user that exists, is
 * not root and is the one eicd answers, and a path sshd will run (root-owned, writable by root
 * only, every directory up to / too: sshd's own rule). */
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/pem.h>

#include "eic_buf.h"
#include "eic_time.h"
#include "eic_util.h"

#define SSHD_PATH "/usr/sbin/sshd"
#define SSHD_OUTPUT_MAX (256 * 1024)
#define SSHD_TIMEOUT_MS 10000
#define AKC_LINE EIC_AKC_PATH " -- %u %f"
#define AKC_FIX "AuthorizedKeysCommand " AKC_LINE " (the eic package's /etc/ssh/sshd_config.d/eic.conf)"

/* The child: a mount namespace of its own, the root, and a tmpfs on /run that only this process
 * sees, with the privilege separation directory and a throwaway host key: sshd -T insists on both,
 * and an image has neither until it boots (pipelines remove host keys before sealing). Then
 * sshd -T with an empty environment. */
#define HOSTKEY "/run/eic-doctor-hostkey"
#define CHROOT_EXIT 125
static void run_sshd_child(const struct doctor *d, int out_fd, int null_fd, const char *key, size_t key_len)
{
    static char *const argv[] = {"sshd", "-T", "-o", "HostKey=" HOSTKEY, NULL};
    static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    int fd;

    if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
        _exit(126);
    }
    if (unshare(CLONE_NEWNS) != 0) {
        fprintf(stderr, "eic-doctor: no mount namespace for sshd -T: %s\n", strerror(errno));
        _exit(126);
    }
    /* Private, so that the tmpfs below never shows on the host. Inside a chroot whose root is not a
     * mount point that cannot be done (EINVAL): the caller says to run from outside with --root. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        _exit(errno == EINVAL ? CHROOT_EXIT : 126);
    }
    if (d->root[0] != '\0' && (chroot(d->root) != 0 || chdir("/") != 0)) {
        fprintf(stderr, "eic-doctor: chroot %s: %s\n", d->root, strerror(errno));
        _exit(126);
    }
    if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0 || mkdir("/run/sshd", 0755) != 0 ||
        (fd = open(HOSTKEY, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
        eic_write_all(fd, key, key_len) != 0) {
        fprintf(stderr, "eic-doctor: cannot prepare /run for sshd -T: %s\n", strerror(errno));
        _exit(126);
    }
    close(fd);
    execve(SSHD_PATH, argv, envp);
    fprintf(stderr, "eic-doctor: cannot run %s: %s\n", SSHD_PATH, strerror(errno));
    _exit(127);
}

/* A throwaway host key (PEM, PKCS#8 P-256) into out. */
static int make_host_key(struct eic_buf *out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len;
    int ret = ENOMEM;

    if (key != NULL && bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1 &&
        (len = BIO_get_mem_data(bio, &pem)) > 0) {
        ret = eic_buf_append(out, pem, (size_t)len);
    }
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ret;
}

/* Run sshd -T; its output (stdout and stderr) into out. Returns 0 when it exited 0. */
static int run_sshd_t(const struct doctor *d, struct eic_buf *out)
{
    uint64_t deadline = eic_monotonic_ms() + SSHD_TIMEOUT_MS;
    int fds[2] = {-1, -1};
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct eic_buf key;
    int status = 0;
    int ret = 0;
    pid_t pid;

    eic_buf_init(&key, 4096);
    ret = make_host_key(&key);
    if (ret != 0) {
        eic_buf_append_str(out, "cannot make a host key for sshd -T");
        goto done;
    }
    if (null_fd < 0 || pipe2(fds, O_CLOEXEC) != 0) {
        ret = errno;
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        ret = errno;
        goto done;
    }
    if (pid == 0) {
        run_sshd_child(d, fds[1], null_fd, key.data, key.len);
    }
    close(fds[1]);
    fds[1] = -1;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        char chunk[4096];
        ssize_t n;
        int left = (int)eic_ms_left(deadline);
        int ready = left > 0 ? poll(&p, 1, left) : 0;

        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            kill(pid, SIGKILL);
            eic_buf_append_str(out, "sshd -T did not finish in 10 s");
            ret = ETIMEDOUT;
            break;
        }
        n = eic_read_retry(fds[0], chunk, sizeof(chunk));
        if (n <= 0) {
            break;
        }
        if (eic_buf_append(out, chunk, (size_t)n) != 0) {
            kill(pid, SIGKILL);
            ret = EMSGSIZE;
            break;
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (ret == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        ret = WIFEXITED(status) && WEXITSTATUS(status) == CHROOT_EXIT ? EXDEV : EPROTO;
    }
done:
    eic_buf_append(out, "", 1); /* fails only when full: the caller checks the NUL */
    eic_buf_free(&key);
    if (null_fd >= 0) {
        close(null_fd);
    }
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    return ret;
}

/* The value of a "key value" line of sshd -T's output, into val; false when absent. */
static bool sshd_value(const char *text, const char *key, char *val, size_t val_len)
{
    size_t klen = strlen(key);

    for (const char *line = text; *line != '\0'; line += strcspn(line, "\n"), line += *line == '\n') {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            const char *v = line + klen + 1;
            size_t n = strcspn(v, "\n");

            snprintf(val, val_len, "%.*s", (int)n, v);
            return true;
        }
    }
    return false;
}

/* What sshd printed, its lines joined with "; ", without the complaints about the image's own host
 * keys (an image has none before it boots; sshd -T runs with a throwaway one). */
static void sshd_error(const char *text, char *out, size_t out_len)
{
    size_t used = 0;

    out[0] = '\0';
    for (const char *line = text; *line != '\0' && used + 1 < out_len;) {
        size_t n = strcspn(line, "\n");

        if (n > 0 && strncmp(line, "Unable to load host key", 23) != 0) {
            int w = snprintf(out + used, out_len - used, "%s%.*s", used > 0 ? "; " : "", (int)n, line);

            used += w > 0 ? (size_t)w : 0;
        }
        line += n;
        line += *line == '\n';
    }
}

/* The command line: eic's path, optionally -c ABSOLUTE, then "--", %u and %f. */
static void check_akc_command(struct doctor *d)
{
    char words[8][1024];
    size_t n = 0;
    const char *p = d->sshd.akc;
    size_t i = 1;

    while (*p != '\0' && n < 8) {
        size_t len = strcspn(p, " ");

        snprintf(words[n++], sizeof(words[0]), "%.*s", (int)len, p);
        p += len;
        p += strspn(p, " ");
    }
    if (n == 0 || strcmp(words[0], EIC_AKC_PATH) != 0) {
        doctor_report(d, DOCTOR_FAIL, "sshd", AKC_FIX, "sshd's AuthorizedKeysCommand is '%s', not eic's", d->sshd.akc);
        return;
    }
    if (i + 1 < n && strcmp(words[i], "-c") == 0 && words[i + 1][0] == '/') {
        i += 2;
    }
    if (i + 1 >= n || strcmp(words[i], "--") != 0 || strcmp(words[i + 1], "%u") != 0 || n > i + 3 ||
        (n == i + 3 && strcmp(words[i + 2], "%f") != 0)) {
        doctor_report(d, DOCTOR_FAIL, "sshd", AKC_FIX,
                      "AuthorizedKeysCommand '%s': eic-authorized-keys takes [-c CONFIG] -- %%u [%%f] (without --, a "
                      "user name starting with '-' is read as an option)", d->sshd.akc);
        return;
    }
    if (n == i + 2) {
        doctor_report(d, DOCTOR_WARN, "sshd", AKC_FIX,
                      "AuthorizedKeysCommand without %%f: every offered key costs a fetch from IMDS and pam_eic "
                      "cannot tell which key logged in");
        return;
    }
    doctor_report(d, DOCTOR_OK, "sshd", NULL, "AuthorizedKeysCommand %s", d->sshd.akc);
}

static void check_akc_user(struct doctor *d)
{
    const char *user = d->sshd.akc_user;
    const char *fix = "AuthorizedKeysCommandUser eic (adduser --system --group --no-create-home eic)";
    uid_t uid = 0;
    int ret = strcmp(user, "none") == 0 ? ENOENT : doctor_find_user(d, user, &uid);

    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "akc-user", fix,
                      "AuthorizedKeysCommandUser %s: not in /etc/passwd (%s): sshd runs no AuthorizedKeysCommand", user,
                      strerror(ret));
    } else if (uid == 0) {
        doctor_report(d, DOCTOR_FAIL, "akc-user", fix, "AuthorizedKeysCommandUser %s is uid 0: the command must run "
                      "unprivileged", user);
    } else if (strcmp(user, d->cfg.authorized_keys_user) != 0) {
        doctor_report(d, DOCTOR_FAIL, "akc-user",
                      "make sshd's AuthorizedKeysCommandUser and eic.conf's authorized_keys_user the same",
                      "AuthorizedKeysCommandUser %s is not eic.conf's authorized_keys_user %s: eicd does not answer it",
                      user, d->cfg.authorized_keys_user);
    } else {
        doctor_report(d, DOCTOR_OK, "akc-user", NULL, "AuthorizedKeysCommandUser %s (uid %u)", user, (unsigned int)uid);
    }
}

/* path and every directory above it: root-owned, writable by root only (sshd's safe_path). */
static int check_safe_path(struct doctor *d, const char *path, char *why, size_t why_len)
{
    char host[PATH_MAX];
    struct stat st;
    char *slash;
    int ret = doctor_path(d, path, true, host, sizeof(host));

    if (ret == 0 && stat(host, &st) != 0) {
        ret = errno;
    }
    if (ret != 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(ret));
        return ret;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & S_IXUSR) == 0) {
        snprintf(why, why_len, "%s is not an executable file", path);
        return EINVAL;
    }
    /* Walk up the resolved path, in the image. */
    for (;;) {
        if (!doctor_root_only(&st)) {
            snprintf(why, why_len, "%s is not owned by root or is writable by group or others (mode %04o, uid %u): "
                     "sshd refuses to run it", doctor_unroot(d, host), (unsigned int)(st.st_mode & 07777),
                     (unsigned int)st.st_uid);
            return EPERM;
        }
        if (strcmp(host, "/") == 0 || strcmp(host, d->root) == 0) {
            return 0; /* up to the root, which is / inside the image */
        }
        slash = strrchr(host, '/');
        *(slash == host ? slash + 1 : slash) = '\0';
        if (stat(host, &st) != 0) {
            snprintf(why, why_len, "%s: %s", doctor_unroot(d, host), strerror(errno));
            return errno;
        }
    }
}

static void check_akc_files(struct doctor *d)
{
    char why[PATH_MAX + 200];

    if (check_safe_path(d, EIC_AKC_PATH, why, sizeof(why)) != 0 ||
        check_safe_path(d, EIC_AKC_VERIFY_PATH, why, sizeof(why)) != 0) {
        doctor_report(d, DOCTOR_FAIL, "akc", "chown root:root and chmod go-w the file and its directories "
                      "(or reinstall the eic package)", "%s", why);
        return;
    }
    doctor_report(d, DOCTOR_OK, "akc", NULL, "%s and its fallback are root's, writable by root only", EIC_AKC_PATH);
}

void doctor_check_sshd(struct doctor *d)
{
    struct eic_buf out;
    const char *text;
    char val[64];
    char err[512];
    int ret;

    eic_buf_init(&out, SSHD_OUTPUT_MAX);
    ret = run_sshd_t(d, &out);
    text = out.len > 0 && out.data[out.len - 1] == '\0' ? out.data : "";
    if (ret == EXDEV) {
        doctor_report(d, DOCTOR_WARN, "sshd", "run eic-doctor --root DIR from outside the chroot",
                      "sshd -T not run: / is not a mount point (inside a chroot?), so no private /run for it");
        eic_buf_free(&out);
        check_akc_files(d);
        return;
    }
    if (ret != 0) {
        sshd_error(text, err, sizeof(err));
        doctor_report(d, DOCTOR_FAIL, "sshd", "make sshd -T run in the image (openssh-server installed, /dev mounted)",
                      "sshd -T failed: %s", err[0] != '\0' ? err : strerror(ret));
        eic_buf_free(&out);
        check_akc_files(d);
        return;
    }
    d->sshd.known = true;
    sshd_value(text, "authorizedkeyscommand", d->sshd.akc, sizeof(d->sshd.akc));
    sshd_value(text, "authorizedkeyscommanduser", d->sshd.akc_user, sizeof(d->sshd.akc_user));
    d->sshd.use_pam = sshd_value(text, "usepam", val, sizeof(val)) && strcmp(val, "yes") == 0;
    if (sshd_value(text, "pubkeyauthentication", val, sizeof(val)) && strcmp(val, "no") == 0) {
        doctor_report(d, DOCTOR_FAIL, "sshd", "PubkeyAuthentication yes",
                      "sshd -T: pubkeyauthentication no: no key logs in");
    } else {
        check_akc_command(d);
    }
    check_akc_user(d);
    check_akc_files(d);
    eic_buf_free(&out);
}
