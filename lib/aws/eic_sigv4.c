/* AWS Signature Version 4, header form. The canonicalisation follows botocore's SigV4Auth
 * (the signer of the AWS CLI) for non-S3 services, because the emulator must accept what
 * the real AWS CLI sends and the client must be accepted by real AWS:
 *
 *   - URI: dot segments and empty segments removed (botocore's remove_dot_segments), then
 *     the wire path is percent-encoded once more, keeping only unreserved characters and
 *     '/' ("%20" on the wire becomes "%2520" in the canonical request);
 *   - query: pairs split on '&' and at the first '=', decoded (form rules: '+' is a space,
 *     which is how botocore puts a space on the wire), re-encoded with RFC 3986 rules
 *     (unreserved kept, everything else %XX upper case), sorted by key then value;
 *   - headers: names lower-cased, values trimmed with inner whitespace runs collapsed to one
 *     space, sorted by name; a repeated name gives one line with the values joined by ','
 *     in the order they were given.
 */
#include "eic_sigv4.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "eic_buf.h"
#include "eic_codec.h"

/* Caps: a signed request is small; anything larger is a mistake or an attack. */
#define SIGV4_MAX_TEXT (1024 * 1024)   /* canonical request, path, query */
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_AUTH_LEN 4096        /* Authorization header value */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* RFC 7230 tchar: what a header field name may be made of. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int uri_encode(struct eic_buf *out, const char *in, size_t len, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    int ret = 0;

    for (size_t i = 0; i < len && ret == 0; i++) {
        unsigned char c = (unsigned char)in[i];

        if (is_unreserved(c) || (keep_slash && c == '/')) {
            ret = eic_buf_append(out, &in[i], 1);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 0x0f]};

            ret = eic_buf_append(out, esc, sizeof(esc));
        }
    }
    return ret;
}

/* Percent-decode a query component into out; '+' stands for a space (form encoding, as
 * Python's urlencode writes it). A '%' not followed by two hex digits is malformed. */
static int query_decode(struct eic_buf *out, const char *in, size_t len)
{
    int ret = 0;

    for (size_t i = 0; i < len && ret == 0; i++) {
        char c = in[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3 || (hi = eic_hex_digit_value((unsigned char)in[i + 1])) < 0 ||
                (lo = eic_hex_digit_value((unsigned char)in[i + 2])) < 0) {
                return EBADMSG;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        ret = eic_buf_append(out, &c, 1);
    }
    return ret;
}

/* botocore's remove_dot_segments: "." and empty segments dropped, ".." pops one, the leading
 * '/' kept, a trailing '/' kept unless nothing is left. Then encoded again (keeping '/'). */
static int append_canonical_uri(struct eic_buf *out, const char *path)
{
    const char **segs = NULL;
    size_t *seg_lens = NULL;
    size_t n_segs = 0;
    size_t len;
    int ret;

    if (path == NULL || path[0] == '\0') {
        return eic_buf_append_str(out, "/");
    }
    len = strlen(path);
    if (len > SIGV4_MAX_TEXT) {
        return EMSGSIZE;
    }
    /* At most len/2+1 non-empty segments fit in len bytes. */
    segs = calloc(len / 2 + 1, sizeof(*segs));
    seg_lens = calloc(len / 2 + 1, sizeof(*seg_lens));
    if (segs == NULL || seg_lens == NULL) {
        ret = ENOMEM;
        goto done;
    }
    for (size_t start = 0; start <= len;) {
        const char *slash = memchr(path + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - path) : len;
        size_t seg_len = end - start;

        if (seg_len == 2 && memcmp(path + start, "..", 2) == 0) {
            if (n_segs > 0) {
                n_segs--;
            }
        } else if (seg_len > 0 && !(seg_len == 1 && path[start] == '.')) {
            segs[n_segs] = path + start;
            seg_lens[n_segs] = seg_len;
            n_segs++;
        }
        start = end + 1;
    }
    ret = path[0] == '/' ? eic_buf_append_str(out, "/") : 0;
    for (size_t i = 0; i < n_segs && ret == 0; i++) {
        if (i > 0) {
            ret = eic_buf_append_str(out, "/");
        }
        if (ret == 0) {
            ret = uri_encode(out, segs[i], seg_lens[i], false);
        }
    }
    if (ret == 0 && path[len - 1] == '/' && n_segs > 0) {
        ret = eic_buf_append_str(out, "/");
    }
done:
    free(segs);
    free(seg_lens);
    return ret;
}

struct query_pair {
    char *key;   /* RFC 3986-encoded */
    char *value; /* RFC 3986-encoded */
};

static int compare_pairs(const void *a, const void *b)
{
    const struct query_pair *pa = a;
    const struct query_pair *pb = b;
    int c = strcmp(pa->key, pb->key);

    return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Decode then re-encode one component, so that any wire spelling of a character ("%7e",
 * "~", "%7E") gives the same canonical text. */
static int recode_component(const char *in, size_t len, char **out)
{
    struct eic_buf decoded, encoded;
    int ret;

    eic_buf_init(&decoded, SIGV4_MAX_TEXT);
    eic_buf_init(&encoded, SIGV4_MAX_TEXT);
    ret = query_decode(&decoded, in, len);
    if (ret == 0) {
        ret = uri_encode(&encoded, decoded.data ? decoded.data : "", decoded.len, false);
    }
    if (ret == 0) {
        *out = eic_buf_steal(&encoded);
        ret = *out ? 0 : ENOMEM;
    }
    eic_buf_free(&decoded);
    eic_buf_free(&encoded);
    return ret;
}

static int append_canonical_query(struct eic_buf *out, const char *query)
{
    struct query_pair *pairs = NULL;
    size_t n_pairs = 0;
    size_t len, max_pairs;
    int ret = 0;

    if (query == NULL || query[0] == '\0') {
        return 0;
    }
    len = strlen(query);
    if (len > SIGV4_MAX_TEXT) {
        return EMSGSIZE;
    }
    max_pairs = len / 2 + 1; /* pairs are separated by '&' and not empty */
    pairs = calloc(max_pairs, sizeof(*pairs));
    if (pairs == NULL) {
        return ENOMEM;
    }
    for (size_t start = 0; start < len && ret == 0;) {
        const char *amp = memchr(query + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + start, '=', end - start);
        size_t key_end = eq ? (size_t)(eq - query) : end;

        /* An empty pair ("a=1&&b=2") carries nothing; it is skipped. */
        if (end > start) {
            ret = recode_component(query + start, key_end - start, &pairs[n_pairs].key);
            if (ret == 0) {
                ret = eq ? recode_component(eq + 1, end - key_end - 1, &pairs[n_pairs].value)
                         : recode_component("", 0, &pairs[n_pairs].value);
            }
            n_pairs++;
        }
        start = end + 1;
    }
    if (ret != 0) {
        goto done;
    }
    qsort(pairs, n_pairs, sizeof(*pairs), compare_pairs);
    for (size_t i = 0; i < n_pairs && ret == 0; i++) {
        ret = eic_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value);
    }
done:
    for (size_t i = 0; i < n_pairs; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
    return ret;
}

struct canon_header {
    char *name;  /* lower case */
    char *value; /* trimmed, runs collapsed */
    size_t index; /* position in the request: keeps repeated names in their given order */
};

static int compare_headers(const void *a, const void *b)
{
    const struct canon_header *ha = a;
    const struct canon_header *hb = b;
    int c = strcmp(ha->name, hb->name);

    if (c != 0) {
        return c;
    }
    return ha->index < hb->index ? -1 : ha->index > hb->index;
}

static int canon_header_init(const struct eic_sigv4_header *in, size_t index, struct canon_header *out)
{
    size_t name_len, value_len, n = 0;
    bool pending_space = false;

    out->index = index;
    if (in->name == NULL || in->value == NULL) {
        return EINVAL;
    }
    name_len = strlen(in->name);
    value_len = strlen(in->value);
    if (name_len == 0 || name_len > SIGV4_MAX_TEXT || value_len > SIGV4_MAX_TEXT) {
        return EINVAL;
    }
    out->name = malloc(name_len + 1);
    out->value = malloc(value_len + 1);
    if (out->name == NULL || out->value == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)in->name[i];

        /* A name outside the token alphabet could forge canonical lines (':' or '\n'). */
        if (!is_tchar(c)) {
            return EINVAL;
        }
        out->name[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out->name[name_len] = '\0';
    /* Whitespace includes CR and LF, so a value can never add a line of its own. */
    for (size_t i = 0; i < value_len; i++) {
        unsigned char c = (unsigned char)in->value[i];

        if (is_space(c)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space) {
            out->value[n++] = ' ';
            pending_space = false;
        }
        out->value[n++] = (char)c;
    }
    out->value[n] = '\0';
    return 0;
}

/* Appends "name:value\n" lines and fills *signed_headers ("a;b;c"). */
static int append_canonical_headers(struct eic_buf *out, const struct eic_sigv4_request *req,
                                    char **signed_headers)
{
    struct canon_header *hdrs = NULL;
    struct eic_buf names;
    bool have_host = false, have_date = false;
    int ret = 0;

    eic_buf_init(&names, SIGV4_MAX_TEXT);
    *signed_headers = NULL;
    if (req->n_headers == 0 || req->n_headers > SIGV4_MAX_HEADERS || req->headers == NULL) {
        return EINVAL;
    }
    hdrs = calloc(req->n_headers, sizeof(*hdrs));
    if (hdrs == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < req->n_headers && ret == 0; i++) {
        ret = canon_header_init(&req->headers[i], i, &hdrs[i]);
    }
    if (ret != 0) {
        goto done;
    }
    qsort(hdrs, req->n_headers, sizeof(*hdrs), compare_headers);
    for (size_t i = 0; i < req->n_headers && ret == 0; i++) {
        bool same_as_previous = i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0;
        bool last_of_name = i + 1 == req->n_headers || strcmp(hdrs[i].name, hdrs[i + 1].name) != 0;

        if (same_as_previous) {
            ret = eic_buf_printf(out, ",%s", hdrs[i].value);
        } else {
            ret = eic_buf_printf(out, "%s:%s", hdrs[i].name, hdrs[i].value);
            if (ret == 0) {
                ret = eic_buf_printf(&names, "%s%s", names.len ? ";" : "", hdrs[i].name);
            }
            have_host = have_host || strcmp(hdrs[i].name, "host") == 0;
            have_date = have_date || strcmp(hdrs[i].name, "x-amz-date") == 0;
        }
        if (ret == 0 && last_of_name) {
            ret = eic_buf_append_str(out, "\n");
        }
    }
    if (ret == 0 && req->date_in_query) {
        char *date = NULL;

        have_date = eic_sigv4_query_get(req->query, "X-Amz-Date", &date) == 0 && date[0] != '\0';
        free(date);
    }
    if (ret == 0 && (!have_host || !have_date)) {
        /* Without them a signature could be replayed to another host or at another time. */
        ret = EINVAL;
    }
    if (ret == 0) {
        *signed_headers = eic_buf_steal(&names);
        ret = *signed_headers ? 0 : ENOMEM;
    }
done:
    for (size_t i = 0; i < req->n_headers; i++) {
        free(hdrs[i].name);
        free(hdrs[i].value);
    }
    free(hdrs);
    eic_buf_free(&names);
    return ret;
}

static bool method_ok(const char *method)
{
    if (method == NULL || method[0] == '\0' || strlen(method) > 32) {
        return false;
    }
    for (const char *p = method; *p; p++) {
        if (!is_tchar((unsigned char)*p)) {
            return false;
        }
    }
    return true;
}

/* The canonical request, and optionally the signed header list. */
static int build_canonical_request(const struct eic_sigv4_request *req, char **out, char **signed_headers)
{
    struct eic_buf cr;
    char *names = NULL;
    char body_hash[2 * EIC_SHA256_LEN + 1];
    int ret;

    *out = NULL;
    if (req == NULL || !method_ok(req->method) || (req->body == NULL && req->body_len > 0)) {
        return EINVAL;
    }
    eic_buf_init(&cr, 4 * SIGV4_MAX_TEXT);
    /* Methods are case-sensitive tokens; botocore upper-cases, so does this. */
    for (const char *p = req->method; *p; p++) {
        char c = *p >= 'a' && *p <= 'z' ? (char)(*p - ('a' - 'A')) : *p;

        ret = eic_buf_append(&cr, &c, 1);
        if (ret != 0) {
            goto done;
        }
    }
    ret = eic_buf_append_str(&cr, "\n");
    if (ret == 0) {
        ret = append_canonical_uri(&cr, req->path);
    }
    if (ret == 0) {
        ret = eic_buf_append_str(&cr, "\n");
    }
    if (ret == 0) {
        ret = append_canonical_query(&cr, req->query);
    }
    if (ret == 0) {
        ret = eic_buf_append_str(&cr, "\n");
    }
    if (ret == 0) {
        ret = append_canonical_headers(&cr, req, &names);
    }
    if (ret == 0) {
        ret = eic_sha256_hex(req->body ? req->body : "", req->body_len, body_hash);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&cr, "\n%s\n%s", names, body_hash);
    }
    if (ret != 0) {
        goto done;
    }
    *out = eic_buf_steal(&cr);
    if (*out == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (signed_headers != NULL) {
        *signed_headers = names;
        names = NULL;
    }
done:
    free(names);
    eic_buf_free(&cr);
    return ret;
}

int eic_sigv4_canonical_request(const struct eic_sigv4_request *req, char **out)
{
    return build_canonical_request(req, out, NULL);
}

/* A scope component: non-empty, and nothing that could change how the scope splits. */
static bool scope_part_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

static int check_scope(const struct eic_sigv4_scope *scope)
{
    long long t;

    if (scope == NULL || scope->amz_date == NULL || eic_sigv4_parse_amz_date(scope->amz_date, &t) != 0 ||
        !scope_part_ok(scope->region) || !scope_part_ok(scope->service)) {
        return EINVAL;
    }
    return 0;
}

static int build_string_to_sign(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                                char **out, char **signed_headers)
{
    char *cr = NULL;
    char cr_hash[2 * EIC_SHA256_LEN + 1];
    struct eic_buf sts;
    int ret;

    *out = NULL;
    ret = check_scope(scope);
    if (ret != 0) {
        return ret;
    }
    eic_buf_init(&sts, 4096);
    ret = build_canonical_request(req, &cr, signed_headers);
    if (ret == 0) {
        ret = eic_sha256_hex(cr, strlen(cr), cr_hash);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&sts, EIC_SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", scope->amz_date,
                             scope->amz_date, scope->region, scope->service, cr_hash);
    }
    if (ret == 0) {
        *out = eic_buf_steal(&sts);
        ret = *out ? 0 : ENOMEM;
    }
    if (ret != 0 && signed_headers != NULL) {
        free(*signed_headers);
        *signed_headers = NULL;
    }
    free(cr);
    eic_buf_free(&sts);
    return ret;
}

int eic_sigv4_string_to_sign(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                             char **out)
{
    return build_string_to_sign(req, scope, out, NULL);
}

static int hmac_str(const unsigned char *key, size_t key_len, const char *msg, unsigned char out[EIC_SHA256_LEN])
{
    return eic_hmac_sha256(key, key_len, msg, strlen(msg), out);
}

static int compute_signature(const char *sts, const struct eic_sigv4_scope *scope, const char *secret,
                             char signature_hex[65])
{
    unsigned char key[EIC_SHA256_LEN];
    unsigned char mac[EIC_SHA256_LEN];
    char date[9];
    char *k_secret = NULL;
    size_t secret_len;
    int ret;

    if (secret == NULL || secret[0] == '\0' || (secret_len = strlen(secret)) > 1024) {
        return EINVAL;
    }
    memcpy(date, scope->amz_date, 8);
    date[8] = '\0';
    k_secret = malloc(secret_len + 5);
    if (k_secret == NULL) {
        return ENOMEM;
    }
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, secret_len + 1);
    ret = hmac_str((unsigned char *)k_secret, secret_len + 4, date, key);
    if (ret == 0) {
        ret = hmac_str(key, sizeof(key), scope->region, key);
    }
    if (ret == 0) {
        ret = hmac_str(key, sizeof(key), scope->service, key);
    }
    if (ret == 0) {
        ret = hmac_str(key, sizeof(key), "aws4_request", key);
    }
    if (ret == 0) {
        ret = hmac_str(key, sizeof(key), sts, mac);
    }
    if (ret == 0) {
        eic_hex_encode(mac, sizeof(mac), signature_hex, false);
    }
    /* The derived key is as good as the secret for a day: do not leave it behind. */
    OPENSSL_cleanse(k_secret, secret_len + 4);
    OPENSSL_cleanse(key, sizeof(key));
    free(k_secret);
    return ret;
}

int eic_sigv4_signature(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                        const char *secret_access_key, char signature_hex[65])
{
    char *sts = NULL;
    int ret;

    signature_hex[0] = '\0';
    ret = build_string_to_sign(req, scope, &sts, NULL);
    if (ret == 0) {
        ret = compute_signature(sts, scope, secret_access_key, signature_hex);
    }
    free(sts);
    return ret;
}

static bool access_key_ok(const char *akid)
{
    if (akid == NULL || akid[0] == '\0' || strlen(akid) > 128) {
        return false;
    }
    for (const char *p = akid; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

int eic_sigv4_authorization(const struct eic_sigv4_request *req, const struct eic_sigv4_scope *scope,
                            const char *access_key_id, const char *secret_access_key, char **out)
{
    char *sts = NULL;
    char *signed_headers = NULL;
    char signature[65];
    struct eic_buf auth;
    int ret;

    *out = NULL;
    if (!access_key_ok(access_key_id)) {
        return EINVAL;
    }
    eic_buf_init(&auth, SIGV4_MAX_AUTH_LEN);
    ret = build_string_to_sign(req, scope, &sts, &signed_headers);
    if (ret == 0) {
        ret = compute_signature(sts, scope, secret_access_key, signature);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&auth,
                             EIC_SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
                                                 "Signature=%s",
                             access_key_id, scope->amz_date, scope->region, scope->service, signed_headers,
                             signature);
    }
    if (ret == 0) {
        *out = eic_buf_steal(&auth);
        ret = *out ? 0 : ENOMEM;
    }
    free(sts);
    free(signed_headers);
    eic_buf_free(&auth);
    return ret;
}

/* ---- Authorization header parser ----
 *
 * Accepted grammar (what botocore and the AWS SDKs send):
 *   "AWS4-HMAC-SHA256" 1*SP part *( "," *SP part )
 *   part = "Credential=" AKID "/" YYYYMMDD "/" region "/" service "/aws4_request"
 *        | "SignedHeaders=" name *( ";" name )      lower case, strictly increasing
 *        | "Signature=" 64 lower-case hex digits
 * Each part exactly once, in any order; nothing else, nothing after. The value is copied
 * into storage and split there, so no pointer ever leaves the copy. */

static bool all_chars(const char *s, bool (*ok)(unsigned char))
{
    if (*s == '\0') {
        return false;
    }
    for (; *s; s++) {
        if (!ok((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_scope_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_' || c == '.';
}

static bool is_akid_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

static bool is_lower_tchar(unsigned char c)
{
    return is_tchar(c) && !(c >= 'A' && c <= 'Z');
}

static int parse_credential(char *cred, struct eic_sigv4_auth *out)
{
    char *parts[5];
    size_t n = 0;
    char *p = cred;

    for (;;) {
        char *slash = strchr(p, '/');

        if (n == 5) {
            return EBADMSG; /* a sixth part */
        }
        parts[n++] = p;
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
        p = slash + 1;
    }
    if (n != 5 || !all_chars(parts[0], is_akid_char) || strlen(parts[0]) > 128 || strlen(parts[1]) != 8 ||
        !all_chars(parts[1], is_digit) || !all_chars(parts[2], is_scope_char) || strlen(parts[2]) > 64 ||
        !all_chars(parts[3], is_scope_char) || strlen(parts[3]) > 64 || strcmp(parts[4], "aws4_request") != 0) {
        return EBADMSG;
    }
    out->access_key_id = parts[0];
    out->date = parts[1];
    out->region = parts[2];
    out->service = parts[3];
    return 0;
}

static int check_signed_headers(const char *list)
{
    const char *prev = NULL;
    size_t prev_len = 0;
    const char *p = list;

    if (*p == '\0') {
        return EBADMSG;
    }
    for (;;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);

        if (len == 0) {
            return EBADMSG;
        }
        for (size_t i = 0; i < len; i++) {
            if (!is_lower_tchar((unsigned char)p[i])) {
                return EBADMSG;
            }
        }
        if (prev != NULL) {
            /* Strictly increasing: sorted and no name twice. */
            size_t common = prev_len < len ? prev_len : len;
            int c = memcmp(prev, p, common);

            if (c > 0 || (c == 0 && prev_len >= len)) {
                return EBADMSG;
            }
        }
        prev = p;
        prev_len = len;
        if (semi == NULL) {
            return 0;
        }
        p = semi + 1;
    }
}

int eic_sigv4_parse_authorization(const char *value, struct eic_sigv4_auth *out)
{
    static const char algorithm[] = EIC_SIGV4_ALGORITHM " ";
    char *p;
    bool have_cred = false, have_headers = false, have_sig = false;
    size_t len;
    int ret;

    memset(out, 0, sizeof(*out));
    if (value == NULL) {
        return EBADMSG;
    }
    len = strnlen(value, SIGV4_MAX_AUTH_LEN + 1);
    if (len > SIGV4_MAX_AUTH_LEN || strncmp(value, algorithm, sizeof(algorithm) - 1) != 0) {
        return EBADMSG;
    }
    out->storage = strdup(value);
    if (out->storage == NULL) {
        return ENOMEM;
    }
    p = out->storage + sizeof(algorithm) - 1;
    while (*p == ' ') {
        p++;
    }
    for (;;) {
        char *comma = strchr(p, ',');
        char *eq;

        if (comma != NULL) {
            *comma = '\0';
        }
        eq = strchr(p, '=');
        if (eq == NULL) {
            ret = EBADMSG;
            goto done;
        }
        *eq = '\0';
        if (strcmp(p, "Credential") == 0 && !have_cred) {
            have_cred = true;
            ret = parse_credential(eq + 1, out);
        } else if (strcmp(p, "SignedHeaders") == 0 && !have_headers) {
            have_headers = true;
            out->signed_headers = eq + 1;
            ret = check_signed_headers(eq + 1);
        } else if (strcmp(p, "Signature") == 0 && !have_sig) {
            have_sig = true;
            out->signature = eq + 1;
            ret = strlen(eq + 1) == 64 && all_chars(eq + 1, is_lower_hex) ? 0 : EBADMSG;
        } else {
            ret = EBADMSG; /* unknown or repeated part */
        }
        if (ret != 0 || comma == NULL) {
            break;
        }
        p = comma + 1;
        while (*p == ' ') {
            p++;
        }
    }
    if (ret == 0 && !(have_cred && have_headers && have_sig)) {
        ret = EBADMSG;
    }
done:
    if (ret != 0) {
        eic_sigv4_auth_free(out);
    }
    return ret;
}

void eic_sigv4_auth_free(struct eic_sigv4_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    free(auth->storage);
    memset(auth, 0, sizeof(*auth));
}

/* Write v (0 <= v < 10^n) as exactly n decimal digits. */
static void put_digits(char *out, size_t n, int v)
{
    for (size_t i = n; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
}

void eic_sigv4_format_amz_date(long long unix_time, char out[EIC_SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    time_t t = (time_t)unix_time;

    /* A time that cannot be written in four digits gives a value parse_amz_date refuses
     * (month 00), rather than a truncated one that would mean another time. */
    if ((long long)t != unix_time || gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
        tm.tm_year > 9999 - 1900) {
        memcpy(out, "00000000T000000Z", EIC_SIGV4_AMZ_DATE_LEN + 1);
        return;
    }
    memcpy(out, "YYYYMMDDTHHMMSSZ", EIC_SIGV4_AMZ_DATE_LEN + 1);
    put_digits(out, 4, tm.tm_year + 1900);
    put_digits(out + 4, 2, tm.tm_mon + 1);
    put_digits(out + 6, 2, tm.tm_mday);
    put_digits(out + 9, 2, tm.tm_hour);
    put_digits(out + 11, 2, tm.tm_min);
    put_digits(out + 13, 2, tm.tm_sec);
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil),
 * so that parsing does not depend on timegm() or the size of time_t. */
static long long days_from_civil(int y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int eic_sigv4_parse_amz_date(const char *value, long long *unix_time)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, month, day, hour, min, sec, mdays;

    if (value == NULL || strnlen(value, EIC_SIGV4_AMZ_DATE_LEN + 1) != EIC_SIGV4_AMZ_DATE_LEN ||
        value[8] != 'T' || value[15] != 'Z') {
        return EBADMSG;
    }
    year = digits_value(value, 4);
    month = digits_value(value + 4, 2);
    day = digits_value(value + 6, 2);
    hour = digits_value(value + 9, 2);
    min = digits_value(value + 11, 2);
    sec = digits_value(value + 13, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
        sec < 0 || sec > 59) {
        return EBADMSG;
    }
    mdays = month_days[month - 1];
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) {
        mdays = 29;
    }
    if (day > mdays) {
        return EBADMSG;
    }
    *unix_time = days_from_civil(year, month, day) * 86400LL + hour * 3600LL + min * 60LL + sec;
    return 0;
}

/* ---- Query-string signing ---- */

static int append_param(struct eic_buf *out, const char *name, const char *value)
{
    int ret = eic_buf_printf(out, "%s%s=", out->len ? "&" : "", name);

    return ret == 0 ? uri_encode(out, value, strlen(value), false) : ret;
}

int eic_sigv4_presign_query(const struct eic_sigv4_presign *p, const struct eic_sigv4_scope *scope, char **out)
{
    struct eic_sigv4_header host = {"host", p->host};
    struct eic_sigv4_request req = {.method = p->method, .path = p->path, .headers = &host, .n_headers = 1,
                                    .body = "", .body_len = 0, .date_in_query = true};
    struct eic_buf q;
    char credential[512];
    char expires[24];
    char signature[65];
    int ret;

    *out = NULL;
    if (!access_key_ok(p->access_key_id) || p->expires < 1 || p->expires > 604800 || p->host == NULL ||
        check_scope(scope) != 0 ||
        (size_t)snprintf(credential, sizeof(credential), "%s/%.8s/%s/%s/aws4_request", p->access_key_id,
                         scope->amz_date, scope->region, scope->service) >= sizeof(credential)) {
        return EINVAL;
    }
    snprintf(expires, sizeof(expires), "%ld", p->expires);
    eic_buf_init(&q, SIGV4_MAX_TEXT);
    ret = p->query != NULL && p->query[0] != '\0' ? eic_buf_append_str(&q, p->query) : 0;
    /* botocore's order: the operation's parameters, then these, then the signature. */
    if (ret == 0) {
        ret = append_param(&q, "X-Amz-Algorithm", EIC_SIGV4_ALGORITHM);
    }
    if (ret == 0) {
        ret = append_param(&q, "X-Amz-Credential", credential);
    }
    if (ret == 0) {
        ret = append_param(&q, "X-Amz-Date", scope->amz_date);
    }
    if (ret == 0) {
        ret = append_param(&q, "X-Amz-Expires", expires);
    }
    if (ret == 0) {
        ret = append_param(&q, "X-Amz-SignedHeaders", "host");
    }
    if (ret == 0 && p->session_token != NULL) {
        ret = append_param(&q, "X-Amz-Security-Token", p->session_token);
    }
    if (ret == 0) {
        req.query = q.data;
        ret = eic_sigv4_signature(&req, scope, p->secret_access_key, signature);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&q, "&X-Amz-Signature=%s", signature);
    }
    if (ret == 0) {
        *out = eic_buf_steal(&q);
        ret = *out ? 0 : ENOMEM;
    }
    OPENSSL_cleanse(signature, sizeof(signature));
    eic_buf_free(&q);
    return ret;
}

enum presigned_param {
    P_ALGORITHM, P_CREDENTIAL, P_DATE, P_EXPIRES, P_SIGNED_HEADERS, P_SIGNATURE, P_TOKEN, P_COUNT,
};

static const char *const presigned_names[P_COUNT] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
    "X-Amz-Security-Token",
};

int eic_sigv4_parse_presigned(const char *query, struct eic_sigv4_presigned *out)
{
    char *values[P_COUNT] = {NULL};
    struct eic_buf unsigned_q;
    size_t len;
    char *end;
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (query == NULL || (len = strlen(query)) > SIGV4_MAX_TEXT) {
        return EBADMSG;
    }
    eic_buf_init(&unsigned_q, SIGV4_MAX_TEXT);
    for (size_t start = 0; start < len && ret == 0;) {
        const char *amp = memchr(query + start, '&', len - start);
        size_t stop = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + start, '=', stop - start);
        size_t key_end = eq ? (size_t)(eq - query) : stop;
        int which = -1;

        for (int i = 0; i < P_COUNT; i++) {
            if (key_end - start == strlen(presigned_names[i]) &&
                memcmp(query + start, presigned_names[i], key_end - start) == 0) {
                which = i;
            }
        }
        if (which >= 0) {
            struct eic_buf v;

            if (values[which] != NULL || eq == NULL) {
                ret = EBADMSG; /* which copy counts would be ambiguous */
                break;
            }
            eic_buf_init(&v, 8192);
            ret = query_decode(&v, eq + 1, stop - key_end - 1);
            values[which] = ret == 0 ? eic_buf_steal(&v) : NULL;
            eic_buf_free(&v);
            if (ret == 0 && values[which] == NULL) {
                values[which] = strdup("");
                ret = values[which] ? 0 : ENOMEM;
            }
            if (ret == EMSGSIZE) {
                ret = EBADMSG;
            }
        }
        if (ret == 0 && which != P_SIGNATURE && stop > start) {
            ret = eic_buf_printf(&unsigned_q, "%s%.*s", unsigned_q.len ? "&" : "", (int)(stop - start),
                                 query + start);
        }
        start = stop + 1;
    }
    if (ret == 0 && values[P_SIGNATURE] == NULL) {
        ret = ENOENT;
    }
    for (int i = 0; ret == 0 && i < P_COUNT; i++) {
        if (values[i] == NULL && i != P_TOKEN) {
            ret = EBADMSG;
        }
    }
    if (ret == 0 && strcmp(values[P_ALGORITHM], EIC_SIGV4_ALGORITHM) != 0) {
        ret = EBADMSG;
    }
    if (ret == 0) {
        errno = 0;
        out->expires = strtol(values[P_EXPIRES], &end, 10);
        if (errno != 0 || end == values[P_EXPIRES] || *end != '\0' || !is_digit((unsigned char)values[P_EXPIRES][0]) ||
            out->expires < 1 || out->expires > 604800) {
            ret = EBADMSG;
        }
    }
    if (ret == 0) {
        out->auth.storage = values[P_CREDENTIAL];
        values[P_CREDENTIAL] = NULL;
        ret = parse_credential(out->auth.storage, &out->auth);
    }
    if (ret == 0) {
        ret = check_signed_headers(values[P_SIGNED_HEADERS]);
    }
    if (ret == 0 && !(strlen(values[P_SIGNATURE]) == 64 && all_chars(values[P_SIGNATURE], is_lower_hex))) {
        ret = EBADMSG;
    }
    if (ret == 0) {
        out->auth.signed_headers = out->owned[0] = values[P_SIGNED_HEADERS];
        out->auth.signature = out->owned[1] = values[P_SIGNATURE];
        out->amz_date = out->owned[2] = values[P_DATE];
        out->security_token = out->owned[3] = values[P_TOKEN];
        values[P_SIGNED_HEADERS] = values[P_SIGNATURE] = values[P_DATE] = values[P_TOKEN] = NULL;
        out->unsigned_query = eic_buf_steal(&unsigned_q);
        if (out->unsigned_query == NULL) {
            out->unsigned_query = strdup("");
            ret = out->unsigned_query ? 0 : ENOMEM;
        }
    }
    for (int i = 0; i < P_COUNT; i++) {
        free(values[i]);
    }
    eic_buf_free(&unsigned_q);
    if (ret != 0) {
        eic_sigv4_presigned_free(out);
    }
    return ret;
}

void eic_sigv4_presigned_free(struct eic_sigv4_presigned *p)
{
    if (p == NULL) {
        return;
    }
    eic_sigv4_auth_free(&p->auth);
    for (size_t i = 0; i < sizeof(p->owned) / sizeof(p->owned[0]); i++) {
        free(p->owned[i]);
    }
    free(p->unsigned_query);
    memset(p, 0, sizeof(*p));
}

int eic_sigv4_query_get(const char *query, const char *name, char **value)
{
    size_t len = query != NULL ? strlen(query) : 0;
    size_t name_len = strlen(name);
    int ret = ENOENT;

    *value = NULL;
    for (size_t start = 0; start < len;) {
        const char *amp = memchr(query + start, '&', len - start);
        size_t stop = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + start, '=', stop - start);
        size_t key_end = eq ? (size_t)(eq - query) : stop;

        if (key_end - start == name_len && memcmp(query + start, name, name_len) == 0) {
            struct eic_buf v;

            if (*value != NULL) {
                ret = EBADMSG;
                break;
            }
            eic_buf_init(&v, SIGV4_MAX_TEXT);
            ret = eq ? query_decode(&v, eq + 1, stop - key_end - 1) : 0;
            if (ret == 0) {
                *value = v.data ? eic_buf_steal(&v) : strdup("");
                ret = *value ? 0 : ENOMEM;
            }
            eic_buf_free(&v);
            if (ret != 0) {
                break;
            }
        }
        start = stop + 1;
    }
    if (ret != 0) {
        free(*value);
        *value = NULL;
    }
    return ret;
}
