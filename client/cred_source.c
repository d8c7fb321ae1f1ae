#include "cred_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void eic_cred_free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

int eic_cred_set(struct eic_credentials *out, const char *ak, const char *sk, const char *token, time_t expiration,
                 const char *source)
{
    memset(out, 0, sizeof(*out));
    out->access_key_id = strdup(ak);
    out->secret_access_key = strdup(sk);
    out->session_token = token != NULL ? strdup(token) : NULL;
    if (out->access_key_id == NULL || out->secret_access_key == NULL || (token != NULL && out->session_token == NULL)) {
        eic_credentials_free(out);
        return ENOMEM;
    }
    out->expiration = expiration;
    snprintf(out->source, sizeof(out->source), "%s", source);
    return 0;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int eic_cred_parse_time(const char *text, time_t *out)
{
    struct tm tm;
    const char *p = text;
    long offset = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strlen(p) < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
        p[13] != ':' || p[16] != ':') {
        return EINVAL;
    }
    tm.tm_year = digits(p, 4) - 1900;
    tm.tm_mon = digits(p + 5, 2) - 1;
    tm.tm_mday = digits(p + 8, 2);
    tm.tm_hour = digits(p + 11, 2);
    tm.tm_min = digits(p + 14, 2);
    tm.tm_sec = digits(p + 17, 2);
    if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
        tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60) {
        return EINVAL;
    }
    p += 19;
    if (*p == '.') { /* a fraction of a second: the whole second counts */
        p++;
        if (*p < '0' || *p > '9') {
            return EINVAL;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int hh = digits(p + 1, 2);
        int mm;

        if (hh < 0) {
            return EINVAL;
        }
        p += 3;
        if (*p == ':') {
            p++;
        }
        mm = digits(p, 2);
        if (mm < 0 || hh > 23 || mm > 59) {
            return EINVAL;
        }
        p += 2;
        offset = sign * (hh * 3600L + mm * 60L);
    }
    if (*p != '\0') {
        return EINVAL;
    }
    t = timegm(&tm);
    if (t == (time_t)-1) {
        return EINVAL;
    }
    *out = t - offset;
    return 0;
}

/* The string member key of obj, or NULL (absent, null, or not a string: *bad set then). */
static const char *member(json_object *obj, const char *key, int *bad)
{
    json_object *v = NULL;

    *bad = 0;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
        *bad = 1;
        return NULL;
    }
    return json_object_get_string(v);
}

void eic_cred_json_free(json_object *doc)
{
    if (doc == NULL) {
        return;
    }
    /* The secrets in json-c's copies: wiped before they go back to the heap. */
    json_object_object_foreach(doc, key, val)
    {
        (void)key;
        if (json_object_is_type(val, json_type_string)) {
            OPENSSL_cleanse((char *)json_object_get_string(val), (size_t)json_object_get_string_len(val));
        }
    }
    json_object_put(doc);
}

int eic_cred_from_json(json_object *obj, const char *token_member, int token_optional, int expiration_optional,
                       const char *source, struct eic_credentials *out, char *err, size_t err_len)
{
    const char *names[] = {"AccessKeyId", "SecretAccessKey", token_member, "Expiration"};
    const char *values[4];
    int optional[] = {0, 0, token_optional, expiration_optional};
    time_t expiration = 0;

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, err_len, "Error when retrieving credentials from %s: the answer is not a JSON object", source);
        return EINVAL;
    }
    for (size_t i = 0; i < 4; i++) {
        int bad;

        values[i] = member(obj, names[i], &bad);
        if (bad || (values[i] == NULL && !optional[i])) {
            snprintf(err, err_len, "Error when retrieving credentials from %s: %s \"%s\" in response", source,
                     bad ? "Malformed key" : "Missing required key", names[i]);
            return EINVAL;
        }
    }
    if (values[3] != NULL && eic_cred_parse_time(values[3], &expiration) != 0) {
        snprintf(err, err_len,
                 "Error when retrieving credentials from %s: Expiration \"%.40s\" is not an ISO 8601 time", source,
                 values[3]);
        return EINVAL;
    }
    return eic_cred_set(out, values[0], values[1], values[2], expiration, source);
}
