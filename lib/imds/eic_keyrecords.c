#include "eic_keyrecords.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_sshkey.h"

#define MAX_LINE 16384
#define MAX_SIGNED (64 * 1024)

struct line {
    const char *p;
    size_t len;
};

/* Split the next line off [*pos, end): returns false at the end of the body. The line excludes
 * its '\n'; a final line without '\n' still counts. */
static bool next_line(const char **pos, const char *end, struct line *out)
{
    const char *nl;

    if (*pos >= end) {
        return false;
    }
    nl = memchr(*pos, '\n', (size_t)(end - *pos));
    out->p = *pos;
    out->len = nl ? (size_t)(nl - *pos) : (size_t)(end - *pos);
    *pos = nl ? nl + 1 : end;
    return true;
}

static bool line_is(const struct line *l, const char *prefix)
{
    size_t n = strlen(prefix);

    return l->len >= n && memcmp(l->p, prefix, n) == 0;
}

static char *dup_value(const char *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* "#Name=value": the name is letters, digits, '-' and '_'; the value is printable ASCII. */
static bool split_field(const struct line *l, struct line *name, struct line *value)
{
    const char *eq = memchr(l->p, '=', l->len);

    if (l->len < 3 || l->p[0] != '#' || eq == NULL || eq == l->p + 1) {
        return false;
    }
    name->p = l->p + 1;
    name->len = (size_t)(eq - name->p);
    value->p = eq + 1;
    value->len = l->len - (size_t)(value->p - l->p);
    for (size_t i = 0; i < name->len; i++) {
        char c = name->p[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    for (size_t i = 0; i < value->len; i++) {
        if ((unsigned char)value->p[i] < 0x20 || (unsigned char)value->p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool name_is(const struct line *name, const char *want)
{
    return name->len == strlen(want) && memcmp(name->p, want, name->len) == 0;
}

/* Decimal seconds, digits only, no sign, no overflow. */
static bool parse_timestamp(const struct line *value, long long *out)
{
    long long v = 0;

    if (value->len == 0 || value->len > 18) {
        return false;
    }
    for (size_t i = 0; i < value->len; i++) {
        if (value->p[i] < '0' || value->p[i] > '9') {
            return false;
        }
        v = v * 10 + (value->p[i] - '0');
    }
    *out = v;
    return true;
}

static int verify_pss(EVP_PKEY *key, const struct eic_buf *signed_bytes, const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (md == NULL) {
        return ENOMEM;
    }
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1) {
        ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signed_bytes->data, signed_bytes->len) == 1;
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? 0 : EACCES;
}

static void set(struct eic_record_verdict *v, enum eic_record_status status, const char *detail)
{
    v->status = status;
    v->detail = detail;
}

/* Judge one record (lines[0..n)). Fills v; returns ENOMEM only, a bad record is a verdict. */
static int judge_record(const struct line *lines, size_t n, const struct eic_keyrecords_context *ctx,
                        struct eic_record_verdict *v)
{
    struct eic_buf signed_bytes;
    struct eic_buf signature_b64;
    struct eic_sshkey key;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    size_t key_idx = 0;
    bool have_instance = false;
    bool have_timestamp = false;
    bool instance_ok = false;
    int ret = 0;

    memset(&key, 0, sizeof(key));
    eic_buf_init(&signed_bytes, MAX_SIGNED);
    eic_buf_init(&signature_b64, MAX_SIGNED);
    set(v, EIC_RECORD_MALFORMED, "malformed record");

    while (key_idx < n && lines[key_idx].len > 0 && lines[key_idx].p[0] == '#') {
        key_idx++;
    }
    if (key_idx > EIC_KEYRECORDS_MAX_FIELDS) {
        set(v, EIC_RECORD_MALFORMED, "too many fields");
        goto done;
    }
    if (key_idx == n || !line_is(&lines[key_idx], "ssh")) {
        set(v, EIC_RECORD_MALFORMED, "no key line after the fields");
        goto done;
    }
    if (key_idx + 1 == n) {
        set(v, EIC_RECORD_MALFORMED, "no signature after the key line");
        goto done;
    }

    for (size_t i = 0; i < key_idx; i++) {
        struct line name;
        struct line value;

        if (!split_field(&lines[i], &name, &value)) {
            set(v, EIC_RECORD_MALFORMED, "malformed field line");
            goto done;
        }
        if (name_is(&name, "Timestamp")) {
            if (have_timestamp || !parse_timestamp(&value, &v->expires)) {
                set(v, EIC_RECORD_MALFORMED, "bad or repeated #Timestamp");
                goto done;
            }
            have_timestamp = true;
        } else if (name_is(&name, "Instance")) {
            if (have_instance) {
                set(v, EIC_RECORD_MALFORMED, "repeated #Instance");
                goto done;
            }
            have_instance = true;
            instance_ok = value.len == strlen(ctx->instance_id) && memcmp(value.p, ctx->instance_id, value.len) == 0;
        } else if (name_is(&name, "Caller") || name_is(&name, "Request")) {
            char **slot = name_is(&name, "Caller") ? &v->caller : &v->request_id;

            if (*slot != NULL) {
                set(v, EIC_RECORD_MALFORMED, "repeated #Caller or #Request");
                goto done;
            }
            *slot = dup_value(value.p, value.len);
            if (*slot == NULL) {
                ret = ENOMEM;
                goto done;
            }
        }
        /* Any other field is kept in the signed bytes only (forward compatibility). */
    }

    for (size_t i = 0; i <= key_idx; i++) {
        if ((ret = eic_buf_append(&signed_bytes, lines[i].p, lines[i].len)) != 0 ||
            (ret = eic_buf_append(&signed_bytes, "\n", 1)) != 0) {
            if (ret == EMSGSIZE) {
                ret = 0;
                set(v, EIC_RECORD_MALFORMED, "record too large");
            }
            goto done;
        }
    }
    for (size_t i = key_idx + 1; i < n; i++) {
        if ((ret = eic_buf_append(&signature_b64, lines[i].p, lines[i].len)) != 0) {
            if (ret == EMSGSIZE) {
                ret = 0;
                set(v, EIC_RECORD_MALFORMED, "signature too large");
            }
            goto done;
        }
    }

    if (!have_timestamp) {
        set(v, EIC_RECORD_NO_TIMESTAMP, "no #Timestamp");
        goto done;
    }
    if (!have_instance) {
        set(v, EIC_RECORD_NO_INSTANCE, "no #Instance");
        goto done;
    }
    ret = eic_sshkey_parse_openssh(lines[key_idx].p, lines[key_idx].len, &key);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0 || eic_sshkey_fingerprint(&key, v->fingerprint) != 0) {
        ret = 0;
        v->fingerprint[0] = '\0';
        set(v, EIC_RECORD_BAD_KEY, "key line is not a valid SSH public key");
        goto done;
    }
    /* The key is printed without its comment: the comment is free text and sshd needs none. */
    free(key.comment);
    key.comment = NULL;
    ret = eic_sshkey_to_openssh(&key, &v->key);
    if (ret != 0) {
        goto done;
    }
    /* Cheapest test first: with sshd's %f only one key can matter, so no signature is checked
     * for the others. */
    if (ctx->fingerprint != NULL && strcmp(ctx->fingerprint, v->fingerprint) != 0) {
        set(v, EIC_RECORD_FINGERPRINT_MISMATCH, "fingerprint does not match");
        goto done;
    }
    if (eic_base64_decode(signature_b64.data, signature_b64.len, &sig, &sig_len) != 0 || sig_len == 0) {
        set(v, EIC_RECORD_BAD_SIGNATURE, "signature is not valid base64");
        goto done;
    }
    ret = verify_pss(ctx->signer_key, &signed_bytes, sig, sig_len);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0) {
        ret = 0;
        set(v, EIC_RECORD_BAD_SIGNATURE, "signature does not verify");
        goto done;
    }
    if (!instance_ok) {
        set(v, EIC_RECORD_WRONG_INSTANCE, "#Instance is not this instance");
        goto done;
    }
    if (v->expires <= ctx->now) {
        set(v, EIC_RECORD_EXPIRED, "record has expired");
        goto done;
    }
    set(v, EIC_RECORD_ACCEPTED, "accepted");
done:
    free(sig);
    eic_sshkey_free(&key);
    eic_buf_free(&signed_bytes);
    eic_buf_free(&signature_b64);
    return ret;
}

static void verdict_clear(struct eic_record_verdict *v)
{
    free(v->key);
    free(v->caller);
    free(v->request_id);
    memset(v, 0, sizeof(*v));
}

int eic_keyrecords_verify(const char *body, size_t len, const struct eic_keyrecords_context *ctx,
                          struct eic_record_verdict **verdicts, size_t *n_verdicts)
{
    const char *pos = body;
    const char *end = body + len;
    struct line *lines = NULL;
    struct eic_record_verdict *out = NULL;
    size_t n_out = 0;
    size_t n_lines = 0;
    struct line l;
    bool more = true;
    int ret = 0;

    *verdicts = NULL;
    *n_verdicts = 0;
    lines = calloc(EIC_KEYRECORDS_MAX_FIELDS + 64, sizeof(*lines));
    out = calloc(EIC_KEYRECORDS_MAX + 1, sizeof(*out));
    if (lines == NULL || out == NULL) {
        ret = ENOMEM;
        goto done;
    }
    /* Records are runs of non-blank lines; a run ends at a blank line or the end of the body. */
    while (more) {
        bool overlong = false;

        n_lines = 0;
        while ((more = next_line(&pos, end, &l)) && l.len > 0) {
            if (l.len > MAX_LINE || n_lines == EIC_KEYRECORDS_MAX_FIELDS + 64) {
                overlong = true;
                continue;
            }
            lines[n_lines++] = l;
        }
        if (n_lines == 0 && !overlong) {
            continue;
        }
        if (n_out == EIC_KEYRECORDS_MAX) {
            set(&out[n_out++], EIC_RECORD_TOO_MANY, "too many records; the rest are ignored");
            break;
        }
        if (overlong) {
            set(&out[n_out++], EIC_RECORD_MALFORMED, "record has an overlong line or too many lines");
            continue;
        }
        ret = judge_record(lines, n_lines, ctx, &out[n_out++]);
        if (ret != 0) {
            goto done;
        }
        if (out[n_out - 1].status == EIC_RECORD_FINGERPRINT_MISMATCH) {
            /* Not the key sshd asks about: no verdict, and not counted against the cap, so that
             * keys pushed by others cannot crowd this one out. */
            verdict_clear(&out[--n_out]);
        }
    }
    *verdicts = out;
    *n_verdicts = n_out;
    out = NULL;
done:
    if (out != NULL) {
        eic_keyrecords_free(out, n_out);
    }
    free(lines);
    return ret;
}

void eic_keyrecords_free(struct eic_record_verdict *verdicts, size_t n_verdicts)
{
    if (verdicts == NULL) {
        return;
    }
    for (size_t i = 0; i < n_verdicts; i++) {
        verdict_clear(&verdicts[i]);
    }
    free(verdicts);
}

const char *eic_record_status_name(enum eic_record_status status)
{
    switch (status) {
    case EIC_RECORD_ACCEPTED:
        return "accepted";
    case EIC_RECORD_MALFORMED:
        return "malformed";
    case EIC_RECORD_NO_TIMESTAMP:
        return "no-timestamp";
    case EIC_RECORD_NO_INSTANCE:
        return "no-instance";
    case EIC_RECORD_BAD_KEY:
        return "bad-key";
    case EIC_RECORD_BAD_SIGNATURE:
        return "bad-signature";
    case EIC_RECORD_WRONG_INSTANCE:
        return "wrong-instance";
    case EIC_RECORD_EXPIRED:
        return "expired";
    case EIC_RECORD_FINGERPRINT_MISMATCH:
        return "fingerprint-mismatch";
    case EIC_RECORD_TOO_MANY:
        return "too-many";
    }
    return "unknown";
}
