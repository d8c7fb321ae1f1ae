/* eic.conf, with the parser every eic part uses (eic_config_load: owner and mode, every key, the
 * mapping rules), and what the parser cannot know: that a rule's groups exist in the image; and
 * the trust anchors the signer chain is verified against (eic_signer_load_anchors, as eicd). */
#include "doctor.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eic_signer.h"
#include "eic_util.h"

#define CONFIG_FIX \
    "correct it as the message says (eic.conf(5)); eicd, nss_eic and pam_eic refuse a file they cannot use"
#define MAX_BUNDLE (16 * 1024 * 1024)

void doctor_check_config(struct doctor *d)
{
    char host[PATH_MAX] = "";
    char err[1024];
    const char *why;
    int ret;

    ret = doctor_path(d, EIC_CONFIG_DEFAULT_PATH, true, host, sizeof(host));
    if (ret == 0) {
        ret = eic_config_load(host, 0, &d->cfg, err, sizeof(err));
    } else {
        eic_config_defaults(&d->cfg);
        snprintf(err, sizeof(err), "%s: %s", EIC_CONFIG_DEFAULT_PATH, strerror(ret));
    }
    /* The parser names the host path; the image's is the one to fix. */
    why = strstr(err, host) == err ? err + (doctor_unroot(d, host) - host) : err;
    if (ret == ENOENT) {
        doctor_report(d, DOCTOR_WARN, "config", "install it (the eic package ships it)",
                      "%s is missing: the defaults apply (no mapping rules)", EIC_CONFIG_DEFAULT_PATH);
        return;
    }
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "config", CONFIG_FIX, "%s", why);
        eic_config_free(&d->cfg);
        eic_config_defaults(&d->cfg);
        return;
    }
    doctor_report(d, DOCTOR_OK, "config", NULL, "%s parses (%zu mapping rules)", EIC_CONFIG_DEFAULT_PATH,
                  d->cfg.mapping.n_rules);

    /* A rule group the image does not have: the account is created without it, or pam_eic's account
     * step refuses the login (docs/PAM.md). */
    for (size_t i = 0; i < d->cfg.mapping.n_rules; i++) {
        const struct eic_rule *rule = &d->cfg.mapping.rules[i];

        for (size_t g = 0; g < rule->n_groups; g++) {
            ret = doctor_find_group(d, rule->groups[g]);
            if (ret != 0) {
                doctor_report(d, DOCTOR_FAIL, "mapping", "create the group (groupadd) or take it out of the rule",
                              "the map rule at %s:%u names group %s, which /etc/group does not have",
                              EIC_CONFIG_DEFAULT_PATH, rule->line, rule->groups[g]);
                return;
            }
        }
    }
    doctor_report(d, DOCTOR_OK, "mapping", NULL, "every group the rules name exists");
}

/* Count the certificates of a PEM file; refuse anything that is not one. */
static int read_certs(const char *host, int *total, int *current, char *why, size_t why_len)
{
    char *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    X509 *cert;
    time_t now = time(NULL);
    int ret = eic_read_file(host, 0, MAX_BUNDLE, &data, &len);

    if (ret != 0) {
        snprintf(why, why_len, "cannot read it: %s", strerror(ret));
        return ret;
    }
    bio = BIO_new_mem_buf(data, (int)len);
    ret = bio == NULL ? ENOMEM : 0;
    while (ret == 0 && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        (*total)++;
        if (X509_cmp_time(X509_get0_notAfter(cert), &now) > 0 && X509_cmp_time(X509_get0_notBefore(cert), &now) < 0) {
            (*current)++;
        }
        X509_free(cert);
    }
    ERR_clear_error();
    BIO_free(bio);
    free(data);
    return ret;
}

static void check_ca_file(struct doctor *d, const char *path, bool is_default)
{
    char host[PATH_MAX];
    char why[256] = "";
    X509_STORE *store = NULL;
    int total = 0, current = 0;
    const char *fix = is_default ? "install ca-certificates, or set ca_file in eic.conf"
                                 : "point ca_file at a PEM file of CA certificates (eic.conf(5))";
    int ret = doctor_path(d, path, true, host, sizeof(host));

    if (ret == 0) {
        ret = read_certs(host, &total, &current, why, sizeof(why));
    }
    if (ret == 0 && total == 0) {
        snprintf(why, sizeof(why), "no PEM certificate in it");
        ret = EINVAL;
    }
    /* What eicd does with it: the same loader, the same verdict. */
    if (ret == 0 && eic_signer_load_anchors(host, NULL, &store) != 0) {
        snprintf(why, sizeof(why), "OpenSSL cannot load it as trust anchors");
        ret = EINVAL;
    }
    X509_STORE_free(store);
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "anchors", fix, "%s%s: %s: no signer chain verifies, no key is let in",
                      is_default ? "the default trust store " : "", path, why);
    } else if (current == 0) {
        doctor_report(d, DOCTOR_FAIL, "anchors", fix, "%s: all %d certificates are expired or not yet valid", path,
                      total);
    } else {
        doctor_report(d, DOCTOR_OK, "anchors", NULL, "%s: %d certificates, %d current", path, total, current);
    }
}

/* A hashed directory: every HASH.N entry must be a certificate (OpenSSL reads them one by one,
 * at verification time). */
static void check_ca_path(struct doctor *d, const char *path)
{
    const char *fix = "point ca_path at a directory hashed with openssl rehash (eic.conf(5))";
    char host[PATH_MAX];
    struct dirent *e;
    DIR *dir = NULL;
    int total = 0, current = 0, bad = 0;
    char why[256];
    int ret = doctor_path(d, path, true, host, sizeof(host));

    if (ret == 0 && (dir = opendir(host)) == NULL) {
        ret = errno;
    }
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "anchors", fix, "ca_path %s: %s", path, strerror(ret));
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        char entry[PATH_MAX + 256];
        char entry_host[PATH_MAX];
        size_t n = strspn(e->d_name, "0123456789abcdef");
        int t = 0, c = 0;

        if (n != 8 || e->d_name[8] != '.') {
            continue;
        }
        snprintf(entry, sizeof(entry), "%s/%s", path, e->d_name);
        if (doctor_path(d, entry, true, entry_host, sizeof(entry_host)) != 0 ||
            read_certs(entry_host, &t, &c, why, sizeof(why)) != 0 || t == 0) {
            bad++;
        }
        total += t;
        current += c;
    }
    closedir(dir);
    if (bad > 0 || total == 0) {
        doctor_report(d, DOCTOR_FAIL, "anchors", fix,
                      "ca_path %s: %d hashed entries that are not certificates, %d that are", path, bad, total);
    } else if (current == 0) {
        doctor_report(d, DOCTOR_FAIL, "anchors", fix, "ca_path %s: all %d certificates are expired", path, total);
    } else {
        doctor_report(d, DOCTOR_OK, "anchors", NULL, "ca_path %s: %d certificates", path, total);
    }
}

void doctor_check_anchors(struct doctor *d)
{
    if (d->cfg.ca_file != NULL) {
        check_ca_file(d, d->cfg.ca_file, false);
    }
    if (d->cfg.ca_path != NULL) {
        check_ca_path(d, d->cfg.ca_path);
    }
    if (d->cfg.ca_file == NULL && d->cfg.ca_path == NULL) {
        /* OpenSSL's default store, as the image's OpenSSL would find it. */
        check_ca_file(d, X509_get_default_cert_file(), true);
    }
}
