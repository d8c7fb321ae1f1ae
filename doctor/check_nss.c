/* nsswitch.conf: eic on the passwd and group lines (and on initgroups when the file has that
 * line), after files and reachable (no [NOTFOUND=return] before it), and last, where the eic
 * package puts it (docs/PACKAGING.md: every other source answers first); the module installed. */
#include "doctor.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSSWITCH "/etc/nsswitch.conf"
#define NSS_MODULE EIC_LIBDIR "/libnss_eic.so.2"
#define MAX_NSSWITCH (1024 * 1024)

/* The line "db: ..." of text (its sources after the colon), or NULL. */
static const char *find_line(const char *text, const char *db, size_t *len)
{
    size_t dlen = strlen(db);

    for (const char *line = text; *line != '\0';) {
        const char *p = line + strspn(line, " \t");
        size_t n = strcspn(line, "\n");

        if (strncmp(p, db, dlen) == 0 && (p[dlen] == ':' || isblank((unsigned char)p[dlen]))) {
            p += dlen + strspn(p + dlen, " \t");
            if (*p == ':') {
                p++;
                *len = (size_t)(line + n - p);
                const char *hash = memchr(p, '#', *len);
                if (hash != NULL) {
                    *len = (size_t)(hash - p);
                }
                return p;
            }
        }
        line += n;
        line += *line == '\n';
    }
    return NULL;
}

/* Does the action list "[...]" stop at NOTFOUND ("NOTFOUND=return", or "!STATUS=return" for
 * another status)? */
static bool stops_at_notfound(const char *action, size_t len)
{
    char buf[256];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%.*s", (int)len, action);
    for (char *item = strtok_r(buf, "[] \t", &save); item != NULL; item = strtok_r(NULL, "[] \t", &save)) {
        bool negated = item[0] == '!';
        char *eq = strchr(item, '=');

        if (eq == NULL || strcasecmp(eq + 1, "return") != 0) {
            continue;
        }
        *eq = '\0';
        if (negated ? strcasecmp(item + 1, "NOTFOUND") != 0 : strcasecmp(item, "NOTFOUND") == 0) {
            return true;
        }
    }
    return false;
}

static void check_db(struct doctor *d, const char *text, const char *db, bool required)
{
    const char *fix = "put eic last on the line, after files (the eic package does: /usr/share/eic/maint-functions.sh)";
    char check[32];
    bool files = false, stop = false, eic = false, after_eic = false;
    const char *p;
    size_t len = 0;

    snprintf(check, sizeof(check), "nsswitch %s", db);
    p = find_line(text, db, &len);
    if (p == NULL) {
        if (required) {
            doctor_report(d, DOCTOR_FAIL, check, fix, "no %s: line in " NSSWITCH ": eic accounts do not resolve", db);
        }
        return;
    }
    for (const char *end = p + len; p < end;) {
        size_t n;

        p += strspn(p, " \t");
        if (p >= end) {
            break;
        }
        if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(end - p));

            n = close != NULL ? (size_t)(close - p) + 1 : (size_t)(end - p);
            if (!eic && stops_at_notfound(p, n)) {
                stop = true;
            }
        } else {
            n = strcspn(p, " \t[");
            n = n > (size_t)(end - p) ? (size_t)(end - p) : n;
            if (n == 5 && strncmp(p, "files", 5) == 0) {
                if (eic) {
                    doctor_report(d, DOCTOR_FAIL, check, fix, "eic comes before files: every local name waits for eic");
                    return;
                }
                files = true;
            } else if (n == 3 && strncmp(p, "eic", 3) == 0) {
                if (stop) {
                    doctor_report(d, DOCTOR_FAIL, check, fix, "a [NOTFOUND=return] before eic: eic is never asked");
                    return;
                }
                eic = true;
            } else if (eic) {
                after_eic = true;
            }
        }
        p += n;
    }
    if (!eic) {
        doctor_report(d, DOCTOR_FAIL, check, fix, "eic is not on the %s: line: IAM-mapped accounts do not resolve", db);
    } else if (!files) {
        doctor_report(d, DOCTOR_FAIL, check, "put files first on the line",
                      "files is not on the %s: line: root and sshd's own user do not resolve", db);
    } else if (after_eic) {
        doctor_report(d, DOCTOR_WARN, check, fix, "a source after eic: eicd checks it before creating an account, "
                      "but it answers after eic");
    } else {
        doctor_report(d, DOCTOR_OK, check, NULL, "files ... eic");
    }
}

void doctor_check_nss(struct doctor *d)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int ret = doctor_read(d, NSSWITCH, MAX_NSSWITCH, &text, &len);

    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "nsswitch passwd", "install the eic package's lines (configs/nsswitch.conf)",
                      NSSWITCH ": %s", strerror(ret));
    } else {
        check_db(d, text, "passwd", true);
        check_db(d, text, "group", true);
        check_db(d, text, "initgroups", false);
    }
    free(text);
    ret = doctor_stat(d, NSS_MODULE, true, &st);
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "nss-module", "reinstall the eic package",
                      NSS_MODULE ": %s: glibc skips eic, IAM-mapped accounts do not resolve", strerror(ret));
    } else if (!doctor_root_only(&st)) {
        doctor_report(d, DOCTOR_FAIL, "nss-module", "chown root:root and chmod go-w it",
                      NSS_MODULE " is writable by others than root: every process loads it");
    } else {
        doctor_report(d, DOCTOR_OK, "nss-module", NULL, NSS_MODULE);
    }
}
