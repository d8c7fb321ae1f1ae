/* The service: eic.socket installed, not masked, enabled (the wants/ link `systemctl enable`
 * makes, read from the files, so that it works in a chroot as on a running host), listening where
 * eic.conf's service_socket says; the tmpfiles.d entry for its directory, the directory itself when
 * it exists (a running host); the account cache directory. With --online: IMDS answers. */
#include "doctor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_buf.h"
#include "eic_imds.h"
#include "eic_time.h"

#define MAX_UNIT (64 * 1024)
#define ENABLE_FIX "systemctl enable eic.socket (in a chroot: systemctl --root=DIR enable eic.socket)"

/* Where systemd looks for a unit, most important first. */
static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", EIC_SYSTEMDUNITDIR,
                                        "/usr/lib/systemd/system", "/lib/systemd/system"};

/* The unit file systemd would use for name: 0 and its path, ENOENT, or ELNRNG when masked. */
static int find_unit(const struct doctor *d, const char *name, char *path, size_t path_len)
{
    for (size_t i = 0; i < sizeof(unit_dirs) / sizeof(unit_dirs[0]); i++) {
        struct stat st;
        char host[PATH_MAX];

        snprintf(path, path_len, "%s/%s", unit_dirs[i], name);
        if (doctor_stat(d, path, false, &st) != 0) {
            continue;
        }
        if (doctor_path(d, path, true, host, sizeof(host)) == 0 && strcmp(doctor_unroot(d, host), "/dev/null") == 0) {
            return ELNRNG;
        }
        return 0;
    }
    return ENOENT;
}

static bool has_systemd(const struct doctor *d)
{
    struct stat st;

    return doctor_stat(d, "/lib/systemd/systemd", true, &st) == 0 ||
           doctor_stat(d, "/usr/lib/systemd/systemd", true, &st) == 0;
}

static void check_units(struct doctor *d)
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    const char *sock = d->cfg.service_socket;
    size_t n = strlen(sock);
    const char *listen;
    int ret;

    if (!has_systemd(d)) {
        doctor_report(d, DOCTOR_WARN, "service", "start eicd --foreground from the init system (eicd(8))",
                      "no systemd: nothing starts eicd (eic-authorized-keys falls back to checking keys itself)");
        return;
    }
    ret = find_unit(d, "eic.service", path, sizeof(path));
    if (ret == ELNRNG) {
        doctor_report(d, DOCTOR_FAIL, "service", "systemctl unmask eic.service", "eic.service is masked");
        return;
    }
    ret = find_unit(d, "eic.socket", path, sizeof(path));
    if (ret != 0) {
        bool masked = ret == ELNRNG;

        doctor_report(d, DOCTOR_FAIL, "service", masked ? "systemctl unmask eic.socket" : "reinstall the eic package",
                      "eic.socket %s", masked ? "is masked" : "is not installed");
        return;
    }
    if (doctor_stat(d, "/etc/systemd/system/sockets.target.wants/eic.socket", true, &st) != 0) {
        doctor_report(d, DOCTOR_FAIL, "service", ENABLE_FIX, "eic.socket is not enabled: nothing starts eicd at boot");
        return;
    }
    /* The socket eic's clients ask must be the one systemd listens on. */
    ret = doctor_read(d, path, MAX_UNIT, &text, &len);
    listen = ret == 0 ? strstr(text, "\nListenStream=") : NULL;
    if (listen != NULL) {
        listen += strlen("\nListenStream=");
    }
    if (listen == NULL || strncmp(listen, sock, n) != 0 || (listen[n] != '\n' && listen[n] != '\0')) {
        doctor_report(d, DOCTOR_FAIL, "service", "make ListenStream= and service_socket the same path",
                      "%s does not listen on eic.conf's service_socket %s", path, d->cfg.service_socket);
    } else {
        doctor_report(d, DOCTOR_OK, "service", NULL, "eic.socket enabled, on %s", d->cfg.service_socket);
    }
    free(text);
}

/* The socket's directory: the tmpfiles.d entry that makes it at boot; the directory itself when it
 * exists (root's, 0755: the clients trust what answers there). */
static void check_runtime_dir(struct doctor *d)
{
    static const char *const tmpfiles[] = {"/etc/tmpfiles.d/eic.conf", "/usr/lib/tmpfiles.d/eic.conf"};
    char dir[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int ret = ENOENT;

    snprintf(dir, sizeof(dir), "%s", d->cfg.service_socket);
    *strrchr(dir, '/') = '\0';
    for (size_t i = 0; i < 2 && ret != 0; i++) {
        ret = doctor_read(d, tmpfiles[i], MAX_UNIT, &text, &len);
        if (ret == 0) {
            char want[PATH_MAX + 8];

            /* A line "d DIR ...", at the start of the file or of a line. */
            snprintf(want, sizeof(want), "\nd %s ", dir);
            ret = strncmp(text, want + 1, strlen(want + 1)) == 0 || strstr(text, want) != NULL ? 0 : ENOENT;
            free(text);
            text = NULL;
        }
    }
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "runtime-dir",
                      "reinstall the eic package (it ships /usr/lib/tmpfiles.d/eic.conf)",
                      "no tmpfiles.d entry makes %s at boot", dir);
        return;
    }
    ret = doctor_stat(d, dir, false, &st);
    if (ret == 0 && (!S_ISDIR(st.st_mode) || !doctor_root_only(&st))) {
        doctor_report(d, DOCTOR_FAIL, "runtime-dir", "chown root:root and chmod 0755 it",
                      "%s is not a directory of root's that only root may write", dir);
    } else {
        doctor_report(d, DOCTOR_OK, "runtime-dir", NULL, "%s made at boot (tmpfiles.d)", dir);
    }
}

static void check_cache_dir(struct doctor *d)
{
    const char *dir = d->cfg.cache_dir;
    struct stat st;
    int ret = doctor_stat(d, dir, true, &st);

    if (ret == ENOENT) {
        doctor_report(d, DOCTOR_WARN, "cache-dir", "install -d -m 0755 it (the eic package does)",
                      "%s is missing: eicd makes it at the first IAM-mapped account", dir);
    } else if (ret != 0 || !S_ISDIR(st.st_mode) || !doctor_root_only(&st)) {
        doctor_report(d, DOCTOR_FAIL, "cache-dir", "chown root:root and chmod go-w it",
                      "%s: %s: nss_eic and pam_eic refuse an account cache anyone but root may write", dir,
                      ret != 0 ? strerror(ret) : "not a directory of root's that only root may write");
    } else {
        doctor_report(d, DOCTOR_OK, "cache-dir", NULL, "%s", dir);
    }
}

void doctor_check_service(struct doctor *d)
{
    check_units(d);
    check_runtime_dir(d);
    check_cache_dir(d);
}

/* An instance-id from IMDS, with the IMDS client eicd uses. */
void doctor_check_imds(struct doctor *d)
{
    struct eic_imds_options opts = {
        .endpoint = d->cfg.imds_endpoint,
        .request_timeout_ms = d->cfg.imds_timeout_ms,
        .token_ttl = d->cfg.imds_token_ttl,
        .max_response = (size_t)d->cfg.imds_max_response,
    };
    struct eic_imds *imds = NULL;
    struct eic_buf body;
    int ret;

    eic_buf_init(&body, 4096);
    ret = eic_imds_new(&opts, &imds);
    if (ret == 0) {
        ret = eic_imds_get(imds, "/latest/meta-data/instance-id", eic_monotonic_ms() + (uint64_t)d->cfg.deadline_ms,
                           &body);
    }
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "imds", "check imds_endpoint in eic.conf and the instance's metadata options "
                      "(IMDS enabled, hop limit)", "%s: %s %s", d->cfg.imds_endpoint, eic_imds_strerror(ret),
                      imds != NULL ? eic_imds_last_error(imds) : "");
    } else {
        doctor_report(d, DOCTOR_OK, "imds", NULL, "%s answers: instance %.*s", d->cfg.imds_endpoint, (int)body.len,
                      body.data);
    }
    eic_imds_free(imds);
    eic_buf_free(&body);
}
