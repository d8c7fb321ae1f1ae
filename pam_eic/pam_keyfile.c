#include "pam_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eic_sha256.h"
#include "eic_util.h"

#define MAX_FILE_SIZE (1024 * 1024)
#define MAX_KEYS 16 /* login keys looked for (sshd's SSH_AUTH_INFO_0 has one per method) */
#define MAX_KEY_TEXT (64 * 1024) /* "type base64 [comment]": a 16384-bit RSA key is ~2.8 KiB of base64 */
#define MAX_KEY_TYPE 64          /* OpenSSH's longest key type name has 44 bytes */

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

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Length of the word at s[0..len): up to the first blank. */
static size_t word_length(const char *s, size_t len)
{
    size_t n = 0;

    while (n < len && !is_blank(s[n])) {
        n++;
    }
    return n;
}

/* Could s[0..len) be the key type word of a key line (ssh-ed25519, ecdsa-sha2-nistp256,
 * sk-ssh-ed25519@openssh.com, ...)? Printable ASCII, no blanks, not too long. Whether it is the
 * key's type is for the blob to say (blob_has_type). */
static bool looks_like_key_type(const char *s, size_t len)
{
    if (len == 0 || len > MAX_KEY_TYPE) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Does the key blob start with the key type as an SSH string (RFC 4251 section 5: a uint32
 * length, big-endian, then the bytes), and is that type the word written in front of it? sshd
 * refuses a line whose word and blob disagree, so such a line must not count as listing the key. */
static bool blob_has_type(const uint8_t *blob, size_t blob_len, const char *type, size_t type_len)
{
    uint32_t name_len;

    if (blob_len < 4) {
        return false;
    }
    name_len = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
    /* Compared with type_len first: the length in the blob is not trusted to fit in it. */
    return name_len == type_len && type_len <= blob_len - 4 && memcmp(blob + 4, type, type_len) == 0;
}

int pam_eic_key_fingerprint(const char *line, size_t len, char fp[64])
{
    size_t type_len, b64_start, b64_len;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int ret;

    fp[0] = '\0';
    if (len > MAX_KEY_TEXT) {
        ret = EINVAL;
        goto done;
    }
    type_len = word_length(line, len);
    if (!looks_like_key_type(line, type_len)) {
        ret = EINVAL;
        goto done;
    }
    b64_start = type_len;
    while (b64_start < len && is_blank(line[b64_start])) {
        b64_start++;
    }
    b64_len = word_length(line + b64_start, len - b64_start);
    if (b64_len == 0) {
        ret = EINVAL;
        goto done;
    }
    ret = eic_base64_decode_libc(line + b64_start, b64_len, &blob, &blob_len);
    if (ret != 0) {
        goto done;
    }
    if (!blob_has_type(blob, blob_len, line, type_len)) {
        ret = EINVAL;
        goto done;
    }
    ret = eic_ssh_fingerprint_libc(line + b64_start, b64_len, fp);
done:
    if (ret != 0) {
        fp[0] = '\0';
    }
    free(blob);
    return ret;
}

/* Where the key starts after the options token at the start of line[0..len): options are one
 * token that may hold double-quoted blanks (command="a b") and backslash-escaped quotes in them,
 * followed by blanks. */
static size_t skip_options(const char *line, size_t len)
{
    bool quoted = false;
    size_t i = 0;

    for (; i < len && (quoted || !is_blank(line[i])); i++) {
        if (line[i] == '\\' && i + 1 < len) {
            i++;
        } else if (line[i] == '"') {
            quoted = !quoted;
        }
    }
    while (i < len && is_blank(line[i])) {
        i++;
    }
    return i;
}

/* The fingerprint of the key on one authorized_keys line (no blanks in front), or "" when there is
 * none. A line is "[options] type base64 [comment]": when it does not start with a key, its first
 * token is taken as options and skipped, once. */
static void line_fingerprint(const char *line, size_t len, char fp[64])
{
    size_t key_start;

    fp[0] = '\0';
    /* Blanks and the CR of a CRLF line at the end are not part of the base64 of a key without a
     * comment. */
    while (len > 0 && (is_blank(line[len - 1]) || line[len - 1] == '\r')) {
        len--;
    }
    if (pam_eic_key_fingerprint(line, len, fp) == 0) {
        return;
    }
    if (memmem(line, len, "cert-authority", 14) != NULL) {
        return; /* the key there is a CA's: sshd accepts certificates it signed, not the key itself */
    }
    key_start = skip_options(line, len);
    if (key_start < len) {
        pam_eic_key_fingerprint(line + key_start, len - key_start, fp);
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
