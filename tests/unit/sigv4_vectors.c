#include "sigv4_vectors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_json.h"

#define MAX_LINE (1024 * 1024)

static const char *member(json_object *obj, const char *key, int *missing)
{
    const char *s = eic_json_get_string(obj, key);

    if (s == NULL) {
        *missing = 1;
        return "";
    }
    return s;
}

static int vector_from_json(json_object *obj, struct sigv4_vector *v)
{
    json_object *headers = NULL;
    int missing = 0;
    size_t n;

    memset(v, 0, sizeof(*v));
    v->obj = obj;
    v->name = member(obj, "name", &missing);
    v->req.method = member(obj, "method", &missing);
    v->req.path = member(obj, "path", &missing);
    v->req.query = member(obj, "query", &missing);
    v->req.body = member(obj, "body", &missing);
    v->req.body_len = strlen(v->req.body);
    v->access_key_id = member(obj, "access_key_id", &missing);
    v->secret_access_key = member(obj, "secret_access_key", &missing);
    v->scope.amz_date = member(obj, "amz_date", &missing);
    v->scope.region = member(obj, "region", &missing);
    v->scope.service = member(obj, "service", &missing);
    if (missing) {
        return EBADMSG;
    }
    v->canonical_request = eic_json_get_string(obj, "canonical_request");
    v->string_to_sign = eic_json_get_string(obj, "string_to_sign");
    v->signature = eic_json_get_string(obj, "signature");
    v->authorization = eic_json_get_string(obj, "authorization");
    if (!json_object_object_get_ex(obj, "headers", &headers) || !json_object_is_type(headers, json_type_array)) {
        return EBADMSG;
    }
    n = json_object_array_length(headers);
    if (n > SIGV4_VECTORS_MAX_HEADERS) {
        return EBADMSG;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *pair = json_object_array_get_idx(headers, i);

        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2 ||
            !json_object_is_type(json_object_array_get_idx(pair, 0), json_type_string) ||
            !json_object_is_type(json_object_array_get_idx(pair, 1), json_type_string)) {
            return EBADMSG;
        }
        v->headers[i].name = json_object_get_string(json_object_array_get_idx(pair, 0));
        v->headers[i].value = json_object_get_string(json_object_array_get_idx(pair, 1));
    }
    v->req.n_headers = n; /* req.headers is set once the array stops moving */
    return 0;
}

int sigv4_vectors_load(const char *path, struct sigv4_vector **out, size_t *n_out)
{
    FILE *f;
    char *line = NULL;
    size_t line_alloc = 0;
    ssize_t len;
    struct sigv4_vector *vectors = NULL;
    size_t n = 0;
    int ret = 0;

    *out = NULL;
    *n_out = 0;
    f = fopen(path, "re");
    if (f == NULL) {
        return errno;
    }
    while ((len = getline(&line, &line_alloc, f)) > 0) {
        json_object *obj = NULL;
        struct sigv4_vector *grown;

        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        ret = eic_json_parse(line, (size_t)len, MAX_LINE, &obj);
        if (ret != 0) {
            break;
        }
        grown = realloc(vectors, (n + 1) * sizeof(*vectors));
        if (grown == NULL) {
            json_object_put(obj);
            ret = ENOMEM;
            break;
        }
        vectors = grown;
        ret = vector_from_json(obj, &vectors[n]);
        n++; /* counted even on error: its obj is freed below */
        if (ret != 0) {
            break;
        }
    }
    free(line);
    fclose(f);
    if (ret != 0) {
        sigv4_vectors_free(vectors, n);
        return ret;
    }
    for (size_t i = 0; i < n; i++) {
        vectors[i].req.headers = vectors[i].headers;
    }
    *out = vectors;
    *n_out = n;
    return 0;
}

void sigv4_vectors_free(struct sigv4_vector *vectors, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_object_put(vectors[i].obj);
    }
    free(vectors);
}
