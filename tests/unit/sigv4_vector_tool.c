/* sigv4_vector_tool VECTORS-FILE: compute, with eic's signer, the canonical request, string
 * to sign, signature and Authorization header of every vector's inputs, and print them in the
 * layout of `gen_botocore_vectors.py --format=text`, so that tests/integration/
 * test_sigv4_botocore.sh can diff eic against the installed botocore. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_sigv4.h"
#include "sigv4_vectors.h"

static int print_vector(const struct sigv4_vector *v)
{
    char *cr = NULL, *sts = NULL, *auth = NULL;
    char sig[65];
    int ret;

    ret = eic_sigv4_canonical_request(&v->req, &cr);
    if (ret == 0) {
        ret = eic_sigv4_string_to_sign(&v->req, &v->scope, &sts);
    }
    if (ret == 0) {
        ret = eic_sigv4_signature(&v->req, &v->scope, v->secret_access_key, sig);
    }
    if (ret == 0) {
        ret = eic_sigv4_authorization(&v->req, &v->scope, v->access_key_id, v->secret_access_key, &auth);
    }
    if (ret != 0) {
        fprintf(stderr, "%s: signing failed: %s\n", v->name, strerror(ret));
    } else {
        printf("== %s\n-- canonical request\n%s\n-- string to sign\n%s\n-- signature\n%s\n-- authorization\n%s\n",
               v->name, cr, sts, sig, auth);
    }
    free(cr);
    free(sts);
    free(auth);
    return ret;
}

int main(int argc, char **argv)
{
    struct sigv4_vector *vectors = NULL;
    size_t n = 0;
    int ret;
    int status = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS-FILE\n", argv[0]);
        return 2;
    }
    ret = sigv4_vectors_load(argv[1], &vectors, &n);
    if (ret != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(ret));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (print_vector(&vectors[i]) != 0) {
            status = 1;
        }
    }
    sigv4_vectors_free(vectors, n);
    return status;
}
