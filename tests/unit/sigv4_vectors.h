/* Reader for tests/data/sigv4/botocore-vectors.txt (see gen_botocore_vectors.py there):
 * '#' comment lines, then one JSON object per line. Shared by test_sigv4 and
 * sigv4_vector_tool. */
#ifndef SIGV4_VECTORS_H
#define SIGV4_VECTORS_H

#include <stddef.h>

#include <json-c/json.h>

#include "eic_sigv4.h"

#define SIGV4_VECTORS_MAX_HEADERS 32

struct sigv4_vector {
    json_object *obj; /* owns every string below */
    const char *name;
    struct eic_sigv4_request req;
    struct eic_sigv4_header headers[SIGV4_VECTORS_MAX_HEADERS];
    struct eic_sigv4_scope scope;
    const char *access_key_id;
    const char *secret_access_key;
    /* botocore's results (NULL when the input file has none) */
    const char *canonical_request;
    const char *string_to_sign;
    const char *signature;
    const char *authorization;
};

/* Read every vector of path into a malloc'd array. Returns 0 or an errno value. */
int sigv4_vectors_load(const char *path, struct sigv4_vector **out, size_t *n_out);
void sigv4_vectors_free(struct sigv4_vector *vectors, size_t n);

#endif
