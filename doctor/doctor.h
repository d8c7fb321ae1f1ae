/* eic-doctor: is this host, or this image under --root, wired so that eic lets people in?
 * (docs/DOCTOR.md, eic-doctor(8)). One line per check; each check group lives in its own file
 * (check_*.c) and reads the installed system only through the helpers below, which resolve every
 * path inside the root as a chroot would, so an image's absolute symlinks point into the image. */
#ifndef EIC_DOCTOR_H
#define EIC_DOCTOR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "eic_config.h"

/* Where `make install` put the parts (Makemodule.am passes the configured paths). */
#ifndef EIC_LIBEXECDIR
#define EIC_LIBEXECDIR "/usr/libexec"
#endif
#ifndef EIC_LIBDIR
#define EIC_LIBDIR "/usr/lib"
#endif
#ifndef EIC_SYSTEMDUNITDIR
#define EIC_SYSTEMDUNITDIR "/lib/systemd/system"
#endif
#define EIC_AKC_PATH EIC_LIBEXECDIR "/eic/eic-authorized-keys"
#define EIC_AKC_VERIFY_PATH EIC_LIBEXECDIR "/eic/eic-authorized-keys-verify"

enum doctor_status {
    DOCTOR_OK,
    DOCTOR_WARN,
    DOCTOR_FAIL,
};

/* What sshd -T said (check_sshd.c), for the PAM checks. */
struct doctor_sshd {
    bool known;                 /* sshd -T answered */
    bool use_pam;
    char akc[1024];             /* authorizedkeyscommand */
    char akc_user[256];         /* authorizedkeyscommanduser */
};

struct doctor {
    char root[PATH_MAX];        /* "" for the running system, else the image's directory (no trailing '/') */
    bool quiet;                 /* problems only */
    bool json;                  /* one JSON object per line */
    bool online;                /* also ask IMDS */
    unsigned int n_fail;
    unsigned int n_warn;
    struct eic_config cfg;      /* the image's eic.conf, or the defaults when it cannot be used */
    struct doctor_sshd sshd;
};

/* Print one check's line: "ok|warn|FAIL  CHECK: WHAT[  fix: FIX]" (fix only for problems). */
void doctor_report(struct doctor *d, enum doctor_status st, const char *check, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The host path of the image path `path` (absolute), every symlink followed inside the root (the
 * last component too when follow). Returns 0, ENAMETOOLONG or ELOOP; a missing component is not
 * an error here (the caller's stat says ENOENT). */
int doctor_path(const struct doctor *d, const char *path, bool follow, char *out, size_t out_len);
/* stat/lstat of an image path; 0 or errno. */
int doctor_stat(const struct doctor *d, const char *path, bool follow, struct stat *st);
/* The whole regular file at an image path (at most max bytes), NUL-terminated; 0 or errno. */
int doctor_read(const struct doctor *d, const char *path, size_t max, char **data, size_t *len);
/* The image path without the root, for messages from code that was given a host path. */
const char *doctor_unroot(const struct doctor *d, const char *host_path);
/* Owned by root and writable by no one else (sshd's rule for the AuthorizedKeysCommand, eic's for its files)? */
bool doctor_root_only(const struct stat *st);
/* Does the image's /etc/passwd (/etc/group) have this name (and which uid)? 0, ENOENT or errno. */
int doctor_find_user(const struct doctor *d, const char *name, uid_t *uid);
int doctor_find_group(const struct doctor *d, const char *name);

/* The check groups, run in this order (the config first: the others use it). */
void doctor_check_config(struct doctor *d);
void doctor_check_anchors(struct doctor *d);
void doctor_check_sshd(struct doctor *d);
void doctor_check_nss(struct doctor *d);
void doctor_check_pam(struct doctor *d);
void doctor_check_service(struct doctor *d);
void doctor_check_imds(struct doctor *d);

#endif
