/* SSH public keys in the two text forms people paste: OpenSSH's one-line form and RFC 4716.
 *
 * The key itself is the SSH wire-format blob (RFC 4253 §6.6): a sequence of
 *   string  = uint32 big-endian length, then that many bytes
 *   mpint   = a string holding a two's complement big-endian integer (RFC 4251 §5)
 * beginning with the type name:
 *   ssh-rsa              string "ssh-rsa", mpint e, mpint n
 *   ssh-ed25519          string "ssh-ed25519", string key (32 bytes)
 *   ecdsa-sha2-<curve>   string type, string <curve>, string Q (uncompressed point, 0x04 X Y)
 * Every length is checked against what is left before anything is read, and a blob must end
 * exactly where its last field ends: trailing bytes would let two different blobs (and so two
 * fingerprints) stand for the same key.
 */
#include "eic_sshkey.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "eic_buf.h"
#include "eic_codec.h"

#define SSHKEY_MAX_TEXT (64 * 1024)     /* a 16384-bit RSA key is ~2.8 KiB of base64 */
#define SSHKEY_MAX_TYPE_LEN 64
#define SSHKEY_MAX_RSA_BITS 16384       /* OpenSSH's and OpenSSL's limit */
#define SSHKEY_MAX_COMMENT 1024         /* RFC 4716 §3.3: header values up to 1024 bytes */
#define RFC4716_BEGIN "---- BEGIN SSH2 PUBLIC KEY ----"
#define RFC4716_END "---- END SSH2 PUBLIC KEY ----"
#define RFC4716_MAX_TAG 64

struct reader {
    const unsigned char *p;
    size_t left;
};

/* string: a uint32 length and that many bytes, never past the end of the blob. */
static int read_string(struct reader *r, const unsigned char **data, size_t *len)
{
    uint32_t n;

    if (r->left < 4) {
        return EBADMSG;
    }
    n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    if (n > r->left - 4) {
        return EBADMSG;
    }
    *data = r->p + 4;
    *len = n;
    r->p += 4 + (size_t)n;
    r->left -= 4 + (size_t)n;
    return 0;
}

/* A positive mpint, in its minimal encoding (RFC 4251 §5: no unnecessary leading zero byte),
 * of at most max_bits. Returns its size in bits via *bits. */
static int read_positive_mpint(struct reader *r, unsigned int max_bits, unsigned int *bits, BIGNUM **out)
{
    const unsigned char *d;
    size_t len;
    BIGNUM *bn;
    int ret;

    ret = read_string(r, &d, &len);
    if (ret != 0) {
        return ret;
    }
    if (len == 0 || (d[0] & 0x80) != 0 || (d[0] == 0 && (len == 1 || (d[1] & 0x80) == 0)) ||
        len > max_bits / 8 + 1) {
        return EBADMSG; /* zero, negative, non-minimal or too large */
    }
    bn = BN_bin2bn(d, (int)len, NULL);
    if (bn == NULL) {
        return ENOMEM;
    }
    if ((unsigned int)BN_num_bits(bn) > max_bits) {
        BN_free(bn);
        return EBADMSG;
    }
    *bits = (unsigned int)BN_num_bits(bn);
    if (out != NULL) {
        *out = bn;
    } else {
        BN_free(bn);
    }
    return 0;
}

static int parse_rsa(struct reader *r, unsigned int *bits)
{
    BIGNUM *e = NULL;
    unsigned int e_bits = 0;
    int ret;

    ret = read_positive_mpint(r, SSHKEY_MAX_RSA_BITS, &e_bits, &e);
    if (ret == 0) {
        /* A public exponent is odd and at least 3; anything else is no RSA key. */
        ret = BN_is_odd(e) && !BN_is_one(e) ? 0 : EBADMSG;
    }
    if (ret == 0) {
        ret = read_positive_mpint(r, SSHKEY_MAX_RSA_BITS, bits, NULL);
    }
    if (ret == 0 && e_bits > *bits) {
        ret = EBADMSG;
    }
    BN_free(e);
    return ret;
}

static int parse_ed25519(struct reader *r, unsigned int *bits)
{
    const unsigned char *pk;
    size_t len;
    int ret;

    ret = read_string(r, &pk, &len);
    if (ret == 0 && len != 32) {
        ret = EBADMSG;
    }
    *bits = 256;
    return ret;
}

static const struct {
    const char *type;
    const char *curve;
    int nid;
    unsigned int bits;
} ecdsa_curves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", NID_X9_62_prime256v1, 256},
    {"ecdsa-sha2-nistp384", "nistp384", NID_secp384r1, 384},
    {"ecdsa-sha2-nistp521", "nistp521", NID_secp521r1, 521},
};

static int parse_ecdsa(struct reader *r, size_t curve_index, unsigned int *bits)
{
    const unsigned char *curve, *q;
    size_t curve_len, q_len;
    size_t coord_len = (ecdsa_curves[curve_index].bits + 7) / 8;
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    int ret;

    ret = read_string(r, &curve, &curve_len);
    if (ret == 0 && (curve_len != strlen(ecdsa_curves[curve_index].curve) ||
                     memcmp(curve, ecdsa_curves[curve_index].curve, curve_len) != 0)) {
        ret = EBADMSG;
    }
    if (ret == 0) {
        ret = read_string(r, &q, &q_len);
    }
    if (ret == 0 && (q_len != 1 + 2 * coord_len || q[0] != 0x04)) {
        ret = EBADMSG;
    }
    if (ret != 0) {
        return ret;
    }
    /* The point must lie on the curve (oct2point checks it). */
    group = EC_GROUP_new_by_curve_name(ecdsa_curves[curve_index].nid);
    point = group ? EC_POINT_new(group) : NULL;
    if (point == NULL) {
        ret = ENOMEM;
    } else if (EC_POINT_oct2point(group, point, q, q_len, NULL) != 1) {
        ret = EBADMSG;
    }
    EC_POINT_free(point);
    EC_GROUP_free(group);
    *bits = ecdsa_curves[curve_index].bits;
    return ret;
}

static bool printable_token(const char *s, size_t len)
{
    if (len == 0 || len > SSHKEY_MAX_TYPE_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Check the blob and fill type, type_name and bits. expected_type (may be NULL): the type
 * name written in front of the blob, which must be the one inside it. */
static int parse_blob(const unsigned char *blob, size_t blob_len, const char *expected_type,
                      size_t expected_len, struct eic_sshkey *key)
{
    struct reader r = {blob, blob_len};
    const unsigned char *type;
    size_t type_len;
    int ret;

    ret = read_string(&r, &type, &type_len);
    if (ret != 0) {
        return ret;
    }
    if (!printable_token((const char *)type, type_len) ||
        (expected_type != NULL && (type_len != expected_len || memcmp(type, expected_type, type_len) != 0))) {
        return EBADMSG;
    }
    key->type_name = strndup((const char *)type, type_len);
    if (key->type_name == NULL) {
        return ENOMEM;
    }
    key->type = EIC_SSHKEY_OTHER;
    key->bits = 0;
    if (strcmp(key->type_name, "ssh-rsa") == 0) {
        key->type = EIC_SSHKEY_RSA;
        ret = parse_rsa(&r, &key->bits);
    } else if (strcmp(key->type_name, "ssh-ed25519") == 0) {
        key->type = EIC_SSHKEY_ED25519;
        ret = parse_ed25519(&r, &key->bits);
    } else {
        for (size_t i = 0; i < sizeof(ecdsa_curves) / sizeof(ecdsa_curves[0]); i++) {
            if (strcmp(key->type_name, ecdsa_curves[i].type) == 0) {
                key->type = EIC_SSHKEY_ECDSA;
                ret = parse_ecdsa(&r, i, &key->bits);
                break;
            }
        }
        if (key->type == EIC_SSHKEY_OTHER) {
            /* Not ours to understand (dss, sk-*, certificates): only its type is checked. */
            return 0;
        }
    }
    if (ret == 0 && r.left != 0) {
        ret = EBADMSG;
    }
    return ret;
}

static int take_blob(const char *b64, size_t b64_len, struct eic_sshkey *key)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    int ret;

    ret = eic_base64_decode(b64, b64_len, &blob, &blob_len);
    if (ret != 0) {
        return ret == ENOMEM ? ENOMEM : EBADMSG;
    }
    if (blob_len == 0) {
        free(blob);
        return EBADMSG;
    }
    key->blob = blob;
    key->blob_len = blob_len;
    return 0;
}

/* Comments end up in one-line formats (authorized_keys, key records): no control characters. */
static int set_comment(struct eic_sshkey *key, const char *text, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (len > SSHKEY_MAX_COMMENT) {
        return EBADMSG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return EBADMSG;
        }
    }
    key->comment = strndup(text, len);
    return key->comment ? 0 : ENOMEM;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int eic_sshkey_parse_openssh(const char *line, size_t len, struct eic_sshkey *key)
{
    size_t start = 0, end = len, type_end, b64_start, b64_end, comment_start;
    int ret;

    memset(key, 0, sizeof(*key));
    if (line == NULL || len > SSHKEY_MAX_TEXT || memchr(line, '\0', len) != NULL) {
        return EBADMSG;
    }
    while (start < end && is_ws(line[start])) {
        start++;
    }
    while (end > start && is_ws(line[end - 1])) {
        end--;
    }
    /* One line: a line break inside would smuggle a second key or record line. */
    if (memchr(line + start, '\n', end - start) != NULL || memchr(line + start, '\r', end - start) != NULL) {
        return EBADMSG;
    }
    type_end = start;
    while (type_end < end && !is_blank(line[type_end])) {
        type_end++;
    }
    b64_start = type_end;
    while (b64_start < end && is_blank(line[b64_start])) {
        b64_start++;
    }
    b64_end = b64_start;
    while (b64_end < end && !is_blank(line[b64_end])) {
        b64_end++;
    }
    comment_start = b64_end;
    while (comment_start < end && is_blank(line[comment_start])) {
        comment_start++;
    }
    if (!printable_token(line + start, type_end - start) || b64_end == b64_start) {
        return EBADMSG;
    }
    ret = take_blob(line + b64_start, b64_end - b64_start, key);
    if (ret == 0) {
        ret = parse_blob(key->blob, key->blob_len, line + start, type_end - start, key);
    }
    if (ret == 0) {
        ret = set_comment(key, line + comment_start, end - comment_start);
    }
    if (ret != 0) {
        eic_sshkey_free(key);
    }
    return ret;
}

/* Next line of text[*pos..len): sets *line and *line_len (without its CR, LF or CRLF) and
 * advances *pos. Returns false at the end of the text. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *line_len)
{
    size_t i = *pos;

    if (i >= len) {
        return false;
    }
    *line = text + i;
    while (i < len && text[i] != '\n' && text[i] != '\r') {
        i++;
    }
    *line_len = i - *pos;
    if (i < len && text[i] == '\r') {
        i++;
    }
    if (i < len && text[i] == '\n') {
        i++;
    }
    *pos = i;
    return true;
}

static size_t trim_right(const char *s, size_t len)
{
    while (len > 0 && is_blank(s[len - 1])) {
        len--;
    }
    return len;
}

static bool line_is(const char *line, size_t len, const char *what)
{
    len = trim_right(line, len);
    return len == strlen(what) && memcmp(line, what, len) == 0;
}

/* One header (RFC 4716 §3.3): "Tag: value", the value continued on the next line while a
 * line ends with '\'. Only Comment is used; a quoted value loses its quotes. */
static int read_header(const char *text, size_t len, size_t *pos, const char *first, size_t first_len,
                       struct eic_sshkey *key)
{
    const char *colon = memchr(first, ':', first_len);
    size_t tag_len = (size_t)(colon - first);
    const char *line = colon + 1;
    size_t line_len = first_len - tag_len - 1;
    struct eic_buf value;
    int ret = 0;

    if (tag_len == 0 || tag_len > RFC4716_MAX_TAG) {
        return EBADMSG;
    }
    for (size_t i = 0; i < tag_len; i++) {
        if ((unsigned char)first[i] <= 0x20 || (unsigned char)first[i] >= 0x7f) {
            return EBADMSG;
        }
    }
    eic_buf_init(&value, SSHKEY_MAX_COMMENT + 2);
    while (line_len > 0 && is_blank(*line)) {
        line++;
        line_len--;
    }
    for (;;) {
        bool continued = line_len > 0 && line[line_len - 1] == '\\';

        ret = eic_buf_append(&value, line, continued ? line_len - 1 : line_len);
        if (ret != 0 || !continued) {
            break;
        }
        if (!next_line(text, len, pos, &line, &line_len)) {
            ret = EBADMSG; /* continued past the end */
            break;
        }
    }
    if (ret == EMSGSIZE) {
        ret = EBADMSG;
    }
    if (ret == 0 && tag_len == 7 && strncasecmp(first, "Comment", 7) == 0 && key->comment == NULL) {
        const char *v = value.data ? value.data : "";
        size_t v_len = trim_right(v, value.len);

        if (v_len >= 2 && v[0] == '"' && v[v_len - 1] == '"') {
            v++;
            v_len -= 2;
        }
        ret = set_comment(key, v, v_len);
    }
    eic_buf_free(&value);
    return ret;
}

static int parse_rfc4716(const char *text, size_t len, struct eic_sshkey *key)
{
    struct eic_buf body;
    const char *line;
    size_t line_len;
    size_t pos = 0;
    bool in_headers = true, ended = false;
    int ret = 0;

    eic_buf_init(&body, SSHKEY_MAX_TEXT);
    if (!next_line(text, len, &pos, &line, &line_len) || !line_is(line, line_len, RFC4716_BEGIN)) {
        ret = EBADMSG;
        goto done;
    }
    while (next_line(text, len, &pos, &line, &line_len)) {
        if (line_is(line, line_len, RFC4716_END)) {
            ended = true;
            break;
        }
        if (memchr(line, ':', line_len) != NULL) {
            /* Headers come first; base64 never holds a ':'. */
            ret = in_headers ? read_header(text, len, &pos, line, line_len, key) : EBADMSG;
        } else {
            in_headers = false;
            ret = eic_buf_append(&body, line, line_len);
        }
        if (ret != 0) {
            goto done;
        }
    }
    if (!ended || body.len == 0) {
        ret = EBADMSG;
        goto done;
    }
    /* Only blank space may follow the END line. */
    for (size_t i = pos; i < len; i++) {
        if (!is_ws(text[i])) {
            ret = EBADMSG;
            goto done;
        }
    }
    ret = take_blob(body.data, body.len, key);
    if (ret == 0) {
        ret = parse_blob(key->blob, key->blob_len, NULL, 0, key);
    }
done:
    if (ret == EMSGSIZE) {
        ret = EBADMSG;
    }
    eic_buf_free(&body);
    return ret;
}

int eic_sshkey_parse_any(const char *text, size_t len, struct eic_sshkey *key)
{
    size_t start = 0;
    int ret;

    memset(key, 0, sizeof(*key));
    if (text == NULL || len > SSHKEY_MAX_TEXT || memchr(text, '\0', len) != NULL) {
        return EBADMSG;
    }
    while (start < len && is_ws(text[start])) {
        start++;
    }
    if (len - start >= strlen(RFC4716_BEGIN) && memcmp(text + start, RFC4716_BEGIN, strlen(RFC4716_BEGIN)) == 0) {
        ret = parse_rfc4716(text + start, len - start, key);
        if (ret != 0) {
            eic_sshkey_free(key);
        }
        return ret;
    }
    return eic_sshkey_parse_openssh(text + start, len - start, key);
}

int eic_sshkey_fingerprint(const struct eic_sshkey *key, char out[64])
{
    unsigned char digest[EIC_SHA256_LEN];
    char *b64 = NULL;
    size_t n;
    int ret;

    out[0] = '\0';
    if (key == NULL || key->blob == NULL) {
        return EINVAL;
    }
    ret = eic_sha256(key->blob, key->blob_len, digest);
    if (ret == 0) {
        ret = eic_base64_encode(digest, sizeof(digest), &b64);
    }
    if (ret != 0) {
        return ret;
    }
    /* ssh-keygen prints the base64 without its '=' padding. */
    n = strlen(b64);
    while (n > 0 && b64[n - 1] == '=') {
        n--;
    }
    memcpy(out, "SHA256:", 7);
    memcpy(out + 7, b64, n); /* 43 characters for 32 bytes: fits in 64 */
    out[7 + n] = '\0';
    free(b64);
    return 0;
}

int eic_sshkey_to_openssh(const struct eic_sshkey *key, char **line)
{
    struct eic_buf buf;
    char *b64 = NULL;
    int ret;

    *line = NULL;
    if (key == NULL || key->blob == NULL || key->type_name == NULL) {
        return EINVAL;
    }
    ret = eic_base64_encode(key->blob, key->blob_len, &b64);
    if (ret != 0) {
        return ret;
    }
    eic_buf_init(&buf, 2 * SSHKEY_MAX_TEXT);
    ret = eic_buf_printf(&buf, "%s %s%s%s", key->type_name, b64, key->comment ? " " : "",
                         key->comment ? key->comment : "");
    if (ret == 0) {
        *line = eic_buf_steal(&buf);
        ret = *line ? 0 : ENOMEM;
    }
    eic_buf_free(&buf);
    free(b64);
    return ret;
}

void eic_sshkey_free(struct eic_sshkey *key)
{
    if (key == NULL) {
        return;
    }
    free(key->type_name);
    free(key->blob);
    free(key->comment);
    memset(key, 0, sizeof(*key));
}
