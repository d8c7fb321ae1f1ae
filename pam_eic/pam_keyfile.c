#include "pam_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eic_sha256.h"
#include "eic_sshkey.h"
#include "eic_util.h"

#define MAX_FILE_SIZE (1024 * 1024)
#define MAX_KEYS 16 /* login keys looked for (sshd's SSH_AUTH_INFO_0 has one per method) */

/* Expand one pattern (len bytes; %u, %h, %% as sshd does; relative to the home directory).
 * Returns 0 or ENAMETOOLONG. */
static int expand(const char *pattern, size_t len, const struct passwd *pw, char *out, size_t out_len)
{
    size_t used = 0;
    int n;

    if (pattern[0] != '/') {
        n = snprintf(out, out_len, "%s/", pw->pw_dir);
        if (n < 0 || (size_t)n >= out_len) {
            return ENAMETOOLONG;
        }
        used = (size_t)n;
    }
    for (size_t i = 0; i < len; i++) {
        const char *piece = NULL;
        char one[2] = {pattern[i], '\0'};

        if (pattern[i] == '%' && i + 1 < len) {
            i++;
            piece = pattern[i] == 'u' ? pw->pw_name : pattern[i] == 'h' ? pw->pw_dir : "%";
        } else {
            piece = one;
        }
        n = snprintf(out + used, out_len - used, "%s", piece);
        if (n < 0 || (size_t)n >= out_len - used) {
            return ENAMETOOLONG;
        }
        used += (size_t)n;
    }
    return 0;
}

/* The whole file, NUL-terminated, or NULL (see pam_keyfile.h for what is refused). O_NONBLOCK:
 * a FIFO planted at the path must not block the login (it is then refused as not regular). */
static char *read_key_file(const char *path, uid_t owner)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != owner && st.st_uid != 0) ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size > MAX_FILE_SIZE) {
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = eic_read_retry(fd, buf + got, (size_t)st.st_size - got);

        if (r <= 0) {
            break; /* shrank while read: use what is there */
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

/* The fingerprint of the key on one authorized_keys line, or "" when there is none. A line is
 * "[options] type base64 [comment]"; options are one token that may hold double-quoted blanks
 * (command="a b"), so when the line does not start with a key, that token is skipped, once. */
static void line_fingerprint(const char *line, size_t len, char fp[64])
{
    struct eic_sshkey key;
    bool quoted = false;
    size_t i = 0;

    fp[0] = '\0';
    for (int attempt = 0; attempt < 2 && i < len; attempt++) {
        memset(&key, 0, sizeof(key));
        if (eic_sshkey_parse_openssh(line + i, len - i, &key) == 0) {
            if (eic_sshkey_fingerprint(&key, fp) != 0) {
                fp[0] = '\0';
            }
            eic_sshkey_free(&key);
            return;
        }
        eic_sshkey_free(&key);
        if (attempt == 0 && memmem(line, len, "cert-authority", 14) != NULL) {
            return; /* the key there is a CA's: sshd accepts certificates it signed, not the key itself */
        }
        for (; i < len && (quoted || (line[i] != ' ' && line[i] != '\t')); i++) {
            if (line[i] == '\\' && i + 1 < len) {
                i++;
            } else if (line[i] == '"') {
                quoted = !quoted;
            }
        }
        while (i < len && (line[i] == ' ' || line[i] == '\t')) {
            i++;
        }
    }
}

bool pam_eic_keys_in_authorized_keys(const struct pam_eic_args *args, const struct passwd *pw, char fps[][64],
                                     size_t n)
{
    bool listed[MAX_KEYS];
    size_t n_listed = 0;
    const char *p = args->authorized_keys;

    if (n == 0 || n > MAX_KEYS) {
        return false;
    }
    memset(listed, 0, sizeof(listed));
    while (n_listed < n && *p != '\0') {
        size_t plen = strcspn(p, ",");
        char path[PAM_EIC_PATH_MAX * 2];
        char *text = NULL;

        if (expand(p, plen, pw, path, sizeof(path)) == 0) {
            text = read_key_file(path, pw->pw_uid);
        }
        for (const char *line = text; line != NULL && *line != '\0' && n_listed < n;) {
            size_t llen = strcspn(line, "\n");
            size_t skip = strspn(line, " \t");
            char fp[64];

            if (skip < llen && line[skip] != '#') {
                line_fingerprint(line + skip, llen - skip, fp);
                for (size_t i = 0; i < n && fp[0] != '\0'; i++) {
                    if (!listed[i] && strcmp(fps[i], fp) == 0) {
                        listed[i] = true;
                        n_listed++;
                    }
                }
            }
            line += llen + (line[llen] == '\n');
        }
        free(text);
        p += plen + (p[plen] == ',');
    }
    return n_listed == n;
}

int pam_eic_key_fingerprint(const char *text, size_t len, char fp[64])
{
    size_t type_len = strcspn(text, " \t\n");
    size_t blob_len;
    const char *blob;

    fp[0] = '\0';
    if (type_len == 0 || type_len >= len) {
        return EINVAL;
    }
    blob = text + type_len + 1;
    blob_len = strcspn(blob, " \t\n");
    if (blob_len > len - type_len - 1) {
        blob_len = len - type_len - 1;
    }
    return eic_ssh_fingerprint_libc(blob, blob_len, fp) == 0 ? 0 : EINVAL;
}
