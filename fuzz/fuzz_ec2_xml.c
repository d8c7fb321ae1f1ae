/* The client's reading of EC2 Query API answers (client/ec2.c): the XML walker under
 * eic_ec2_parse_instance (DescribeInstances) and eic_ec2_parse_error (<Response><Errors>).
 * Whatever it extracts must be safe to print and to hand to ssh: addresses that parse as IP
 * addresses, no control characters. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"
#include "fuzz_common.h"

#define INSTANCE "i-0123456789abcdef0"

static bool is_address(int af, const char *s)
{
    unsigned char buf[16];

    return s == NULL || inet_pton(af, s, buf) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eic_instance_info info;
    char *code = NULL;
    char *message = NULL;
    int ret;

    memset(&info, 0, sizeof(info));
    ret = eic_ec2_parse_instance((const char *)data, size, INSTANCE, &info);
    FUZZ_CHECK(ret == 0 || ret == ENOENT || ret == EBADMSG || ret == ENOMEM);
    if (ret == 0) {
        FUZZ_CHECK(is_address(AF_INET, info.private_ipv4));
        FUZZ_CHECK(is_address(AF_INET, info.public_ipv4));
        FUZZ_CHECK(is_address(AF_INET6, info.ipv6));
    }
    eic_instance_info_free(&info);

    ret = eic_ec2_parse_error((const char *)data, size, &code, &message);
    FUZZ_CHECK(ret == 0 || ret == ENOENT || ret == EBADMSG || ret == ENOMEM);
    FUZZ_CHECK(ret != 0 || code != NULL);
    free(code);
    free(message);
    return 0;
}
