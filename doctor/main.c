/* eic-doctor [--root DIR] [--quiet] [--json] [--online]
 *
 * Checks, before an image is sealed or on a running instance, that eic is wired so that it lets
 * people in: eic.conf and its mapping rules (the parser eicd uses), the trust anchors, sshd's
 * effective configuration (sshd -T) and the AuthorizedKeysCommand, nsswitch.conf, the sshd PAM
 * stack, the service's units and directories; with --online, IMDS. One line per check, with the
 * fix for each problem (docs/DOCTOR.md).
 *
 * Exit status: 0 when no check failed (warnings allowed), 1 when one did, 2 for a usage error or
 * when it cannot run (not root, no such root). */
#include "doctor.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const status_words[] = {"ok", "warn", "FAIL"};

void doctor_report(struct doctor *d, enum doctor_status st, const char *check, const char *fix, const char *fmt, ...)
{
    char what[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (st == DOCTOR_FAIL) {
        d->n_fail++;
    } else if (st == DOCTOR_WARN) {
        d->n_warn++;
    }
    if (st == DOCTOR_OK && d->quiet) {
        return;
    }
    if (d->json) {
        json_object *o = json_object_new_object();

        if (o == NULL) {
            return;
        }
        json_object_object_add(o, "status", json_object_new_string(status_words[st]));
        json_object_object_add(o, "check", json_object_new_string(check));
        json_object_object_add(o, "what", json_object_new_string(what));
        if (st != DOCTOR_OK && fix != NULL) {
            json_object_object_add(o, "fix", json_object_new_string(fix));
        }
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return;
    }
    printf("%-4s  %s: %s", status_words[st], check, what);
    if (st != DOCTOR_OK && fix != NULL) {
        printf("  fix: %s", fix);
    }
    putchar('\n');
}

static void usage(FILE *out)
{
    fprintf(out, "usage: eic-doctor [--root DIR] [--quiet] [--json] [--online]\n"
                 "Check that eic is wired so that it lets people in; one line per check.\n"
                 "  --root DIR   check the system installed under DIR (an image, a chroot); sshd -T runs there\n"
                 "  --quiet      print problems only\n"
                 "  --json       one JSON object per line\n"
                 "  --online     also ask IMDS (on the instance, not on an image build host)\n"
                 "Exit status: 0 no check failed, 1 a check failed, 2 usage or cannot run.\n");
}

/* The root as given, made absolute and without a trailing '/'; "/" becomes "". */
static int set_root(struct doctor *d, const char *dir)
{
    char *real = realpath(dir, NULL);
    struct stat st;
    int ret = 0;

    if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ret = real == NULL ? errno : ENOTDIR;
        goto done;
    }
    if (strcmp(real, "/") == 0) {
        d->root[0] = '\0';
    } else if ((size_t)snprintf(d->root, sizeof(d->root), "%s", real) >= sizeof(d->root)) {
        ret = ENAMETOOLONG;
    }
done:
    free(real);
    return ret;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'}, {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},       {"online", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    struct doctor d;
    const char *root = "/";
    int c;
    int ret;

    memset(&d, 0, sizeof(d));
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 'q':
            d.quiet = true;
            break;
        case 'j':
            d.json = true;
            break;
        case 'o':
            d.online = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    /* Root only: the files checked are root's (eic.conf may be 0600), and sshd -T runs in a
     * mount namespace of its own. */
    if (geteuid() != 0) {
        fprintf(stderr, "eic-doctor: must run as root\n");
        return 2;
    }
    ret = set_root(&d, root);
    if (ret != 0) {
        fprintf(stderr, "eic-doctor: --root %s: %s\n", root, strerror(ret));
        return 2;
    }
    doctor_check_config(&d);
    doctor_check_anchors(&d);
    doctor_check_sshd(&d);
    doctor_check_nss(&d);
    doctor_check_pam(&d);
    doctor_check_service(&d);
    if (d.online) {
        doctor_check_imds(&d);
    }
    eic_config_free(&d.cfg);
    if (!d.json && !d.quiet) {
        printf("%u failed, %u warnings\n", d.n_fail, d.n_warn);
    }
    return d.n_fail > 0 ? 1 : 0;
}
