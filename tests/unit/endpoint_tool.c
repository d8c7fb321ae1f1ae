/* endpoint_tool SERVICE REGION [ENDPOINT_URL] [--fips]: the URL eic's client would call for
 * SERVICE in this environment (endpoints.h), or "ERROR: message"; with --fips, whether FIPS
 * endpoints are asked for ("true"/"false"). For test_endpoints.sh, which asks botocore the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints.h"

int main(int argc, char **argv)
{
    const char *source = NULL;
    char err[512] = "";
    char *url = NULL;
    int ret;

    if (argc == 2 && strcmp(argv[1], "--fips") == 0) {
        printf("%s\n", eic_endpoint_use_fips(NULL) ? "true" : "false");
        return 0;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: endpoint_tool SERVICE REGION [ENDPOINT_URL] | --fips\n");
        return 2;
    }
    ret = eic_endpoint_resolve(argv[1], argv[2], NULL, argc == 4 ? argv[3] : NULL, &url, &source, err, sizeof(err));
    if (ret == 0) {
        printf("%s\n", url);
    } else {
        printf("ERROR: %s\n", err);
    }
    free(url);
    return 0;
}
