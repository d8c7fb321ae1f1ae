/* /etc/eic/eic.conf: "key = value" lines, '#' comments, blank lines ignored.
 * Every bad line is an error naming file:line; unknown keys are rejected (a typo
 * must never silently weaken a security setting). */
#ifndef EIC_CONFIG_H
#define EIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "eic_cache.h"
#include "eic_mapping.h"

/* The configure-time sysconfdir (Makefile.am passes it; /etc for a /usr install), so that the
 * compiled-in default is where `make install` puts the file. */
#ifdef SYSCONFDIR
#define EIC_CONFIG_DEFAULT_PATH SYSCONFDIR "/eic/eic.conf"
#else
#define EIC_CONFIG_DEFAULT_PATH "/etc/eic/eic.conf"
#endif
#define EIC_CONFIG_MAX_SIZE (256 * 1024)

struct eic_config {
    /* IMDS */
    char *imds_endpoint;         /* "http://169.254.169.254"; must be http:// + an IP literal [+ :port] */
    long imds_timeout_ms;        /* per request, default 1000, 1..60000 */
    long imds_token_ttl;         /* seconds, default 21600, 1..21600 */
    long imds_max_response;      /* bytes, default 1 MiB, 1024..16 MiB */
    /* eic-authorized-keys */
    long deadline_ms;            /* whole AuthorizedKeysCommand run, default 5000, 100..60000 */
    char *ca_file;               /* trust anchors (PEM); NULL: system default store */
    char *ca_path;               /* hashed CA directory; NULL: system default */
    /* logging */
    char *log_file;              /* NULL: syslog authpriv */
    int log_level;               /* LOG_INFO by default; "debug" | "info" | "notice" | "warning" | "error" */
    /* IAM-mapped accounts (nss_eic, pam_eic, the account cache) */
    uid_t uid_min;               /* UIDs/GIDs given to mapped accounts: default 2010000000..2109999999, both */
    uid_t uid_max;               /*   in 1000..4294967294, uid_min < uid_max, at least 100 IDs */
    char *cache_dir;             /* account cache directory, default /var/lib/eic (absolute) */
    char *home_base;             /* home directories are HOME_BASE/NAME; default /home (absolute, no ':') */
    char *shell;                 /* login shell, default /bin/bash (absolute, no ':') */
    long negative_cache_ttl;     /* seconds a miss is remembered, default 15, 0..3600 (0: not at all) */
    /* the service (eicd) */
    char *service_socket;        /* its UNIX socket, default /run/eic/eicd.sock (absolute) */
    char *authorized_keys_user;  /* sshd's AuthorizedKeysCommandUser, who may ask for keys; default "eic" */
    /* "[map GLOB]" / "[deny GLOB]" sections, in file order (eic_mapping.h) */
    struct eic_mapping mapping;
};

/* Fill cfg with the defaults (no file read). */
int eic_config_defaults(struct eic_config *cfg);
/* Defaults, then the file at path (NULL: EIC_CONFIG_DEFAULT_PATH). The configuration decides who
 * may log in, so the file is believed only when it is a regular file owned by root (or by owner:
 * pass 0 when only root will do) that no one else may write. Returns 0; ENOENT when the file is
 * missing (cfg keeps the defaults, which are safe); EPERM for a file not trusted that way, and
 * EINVAL for a bad one ("path:line: reason"), both explained in err, with nothing of the file
 * applied; ENOMEM; EMSGSIZE for a file over EIC_CONFIG_MAX_SIZE. */
int eic_config_load(const char *path, uid_t owner, struct eic_config *cfg, char *err, size_t err_len);
/* Parse from memory (same rules; name is used in messages). */
int eic_config_parse(const char *name, const char *text, size_t len, struct eic_config *cfg, char *err,
                     size_t err_len);
/* cfg is an output of the three functions above: whatever they return, it holds a complete
 * configuration (the defaults at least) to be released with eic_config_free(); it is not freed
 * on entry, so free it before loading into the same struct again. */
void eic_config_free(struct eic_config *cfg);

/* The IMDS endpoint rule shared by the config parser and the IMDS client: "http://" + an IPv4
 * dotted quad or a bracketed IPv6 literal + an optional ":port" (1..65535), nothing else (no host
 * name, so no DNS; no path, user info, query or trailing '/'). Returns 0 or EINVAL. It lives here,
 * not in eic_imds.c, so that code reading the config never links libcurl. */
int eic_config_check_endpoint(const char *endpoint);


#endif
