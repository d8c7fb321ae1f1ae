/* presign_tool HOST QUERY AMZ-DATE REGION AKID SECRET [TOKEN]: print the query string eic's
 * signer presigns for GET /openTunnel (service ec2-instance-connect, 60 s), so that
 * tests/integration/test_emulator_tunnel.sh can compare it with the installed botocore's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_sigv4.h"

int main(int argc, char **argv)
{
    struct eic_sigv4_presign p = {.method = "GET", .path = "/openTunnel", .expires = 60};
    struct eic_sigv4_scope scope;
    char *out = NULL;
    int ret;

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: presign_tool HOST QUERY AMZ-DATE REGION AKID SECRET [TOKEN]\n");
        return 2;
    }
    p.host = argv[1];
    p.query = argv[2];
    p.access_key_id = argv[5];
    p.secret_access_key = argv[6];
    p.session_token = argc == 8 ? argv[7] : NULL;
    scope = (struct eic_sigv4_scope){argv[3], argv[4], "ec2-instance-connect"};
    ret = eic_sigv4_presign_query(&p, &scope, &out);
    if (ret != 0) {
        fprintf(stderr, "presign_tool: %s\n", strerror(ret));
        return 1;
    }
    printf("%s\n", out);
    free(out);
    return 0;
}
