#include "pam_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eic_config.h"
#include "eic_metadata.h"

/* An absolute path, at most PAM_EIC_PATH_MAX - 1 bytes, printable ASCII without blanks (it ends up
 * in log lines), with no "." or ".." component and no "//" (what is written is what is used). */
bool pam_eic_valid_path(const char *p)
{
    size_t len = strlen(p);

    if (p[0] != '/' || len >= PAM_EIC_PATH_MAX) {
        return false;
    }
    for (const char *c = p; *c != '\0'; c++) {
        if (*c <= ' ' || *c >= 0x7f) {
            return false;
        }
    }
    for (const char *c = p; *c != '\0'; c++) {
        if (c[0] == '/' && (c[1] == '/' || (c[1] == '.' && (c[2] == '/' || c[2] == '\0')) ||
                            (c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0')))) {
            return false;
        }
    }
    return true;
}

/* Decimal, no sign, no blanks, within [min, max]. */
static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* "0NNN": a leading 0 and three octal digits, so that "700" (decimal-looking) is not guessed at. */
static bool parse_mode(const char *s, mode_t *out)
{
    mode_t m = 0;

    if (strlen(s) != 4 || s[0] != '0') {
        return false;
    }
    for (size_t i = 1; i < 4; i++) {
        if (s[i] < '0' || s[i] > '7') {
            return false;
        }
        m = (mode_t)(m * 8 + (mode_t)(s[i] - '0'));
    }
    /* Group or world write on a home directory lets others replace its files (.bashrc, .ssh). */
    if ((m & (S_IWGRP | S_IWOTH)) != 0 || (m & S_IRWXU) != S_IRWXU) {
        return false;
    }
    *out = m;
    return true;
}

static int parse_eic_only(const char *list, struct pam_eic_args *args)
{
    const char *p = list;

    if (*p == '\0') {
        return EINVAL;
    }
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char name[sizeof(args->eic_only[0])];

        if (len == 0 || len >= sizeof(name) || args->n_eic_only >= PAM_EIC_MAX_EIC_ONLY) {
            return EINVAL;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (!eic_valid_login_name(name)) {
            return EINVAL;
        }
        memcpy(args->eic_only[args->n_eic_only++], name, len + 1);
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return EINVAL; /* trailing comma */
            }
        }
    }
    return 0;
}

/* authorized_keys=: 1..PAM_EIC_MAX_AUTHORIZED_KEYS non-empty patterns of printable ASCII without
 * blanks, no "." or ".." component, and only %u, %h and %% tokens (what pam_keyfile.c expands). */
static bool valid_authorized_keys(const char *list)
{
    size_t n = 0;

    for (const char *p = list;; p++) {
        const char *end = p + strcspn(p, ",");
        size_t len = (size_t)(end - p);
        char path[PAM_EIC_PATH_MAX];

        if (len == 0 || len >= sizeof(path) || ++n > PAM_EIC_MAX_AUTHORIZED_KEYS) {
            return false;
        }
        for (const char *q = p; q < end; q++) {
            if (*q == '%' && (q + 1 == end || strchr("uh%", q[1]) == NULL)) {
                return false;
            }
            if (*q == '%') {
                q++;
            }
        }
        /* The same rules as any path argument, checked on it made absolute. */
        snprintf(path, sizeof(path), "%s%.*s", *p == '/' ? "" : "/", (int)len, p);
        if (!pam_eic_valid_path(path)) {
            return false;
        }
        if (*end == '\0') {
            return true;
        }
        p = end;
    }
}

int pam_eic_args_parse(int argc, const char **argv, struct pam_eic_args *args, char *err, size_t err_len)
{
    bool seen_config = false, seen_audit = false, seen_skel = false, seen_max = false, seen_only = false,
         seen_mode = false, seen_keys = false, seen_verify = false;
    int ret = 0;

    memset(args, 0, sizeof(*args));
    args->config = EIC_CONFIG_DEFAULT_PATH;
    args->audit_log = PAM_EIC_DEFAULT_AUDIT_LOG;
    args->skel = PAM_EIC_DEFAULT_SKEL;
    args->authorized_keys = PAM_EIC_DEFAULT_AUTHORIZED_KEYS;
    args->home_mode = PAM_EIC_DEFAULT_HOME_MODE;
    args->verify = PAM_EIC_DEFAULT_VERIFY;
    err[0] = '\0';

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        bool *seen = NULL;
        bool ok = false;

        if (a == NULL) {
            snprintf(err, err_len, "module argument %d is missing", i + 1);
            ret = EINVAL;
            goto done;
        }
        v = strchr(a, '=');
        if (strcmp(a, "debug") == 0) {
            args->debug = true;
            continue;
        }
        if (v == NULL) {
            goto unknown;
        }
        v++;
        if (strncmp(a, "config=", 7) == 0) {
            seen = &seen_config;
            ok = pam_eic_valid_path(v);
            if (ok && !seen_config) {
                args->config = v;
            }
        } else if (strncmp(a, "audit_log=", 10) == 0) {
            seen = &seen_audit;
            ok = pam_eic_valid_path(v) && strcmp(v, "/") != 0;
            args->audit_log = v;
        } else if (strncmp(a, "skel=", 5) == 0) {
            seen = &seen_skel;
            ok = pam_eic_valid_path(v);
            args->skel = v;
        } else if (strncmp(a, "max_session=", 12) == 0) {
            seen = &seen_max;
            ok = parse_long(v, 1, PAM_EIC_MAX_SESSION_LIMIT, &args->max_session);
        } else if (strncmp(a, "eic_only=", 9) == 0) {
            seen = &seen_only;
            ok = !seen_only && parse_eic_only(v, args) == 0;
        } else if (strncmp(a, "authorized_keys=", 16) == 0) {
            seen = &seen_keys;
            ok = valid_authorized_keys(v);
            args->authorized_keys = v;
        } else if (strncmp(a, "verify=", 7) == 0) {
            seen = &seen_verify;
            ok = pam_eic_valid_path(v);
            args->verify = v;
        } else if (strncmp(a, "home_mode=", 10) == 0) {
            seen = &seen_mode;
            ok = parse_mode(v, &args->home_mode);
        } else {
            goto unknown;
        }
        /* Twice is an error too: which one would win is exactly the kind of doubt to refuse. */
        if (*seen) {
            snprintf(err, err_len, "module argument %.*s given twice", (int)(v - a - 1), a);
            ret = EINVAL;
            goto done;
        }
        *seen = true;
        if (!ok) {
            snprintf(err, err_len, "malformed module argument '%.200s'", a);
            ret = EINVAL;
            goto done;
        }
        continue;
    unknown:
        snprintf(err, err_len, "unknown module argument '%.200s'", a);
        ret = EINVAL;
        goto done;
    }
done:
    return ret;
}

bool pam_eic_args_is_eic_only(const struct pam_eic_args *args, const char *user)
{
    for (size_t i = 0; i < args->n_eic_only; i++) {
        if (strcmp(args->eic_only[i], user) == 0) {
            return true;
        }
    }
    return false;
}
