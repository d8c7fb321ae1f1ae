/* `eic ssh`'s address order (client/addresses.c): every combination of available addresses
 * (public IPv4, private IPv4, IPv6; each present, absent or empty) with every connection type;
 * and the DescribeInstances XML readers (client/ec2.c) on AWS-shaped answers and bad ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addresses.h"
#include "eic_buf.h"
#include "ec2.h"

#define PUB "203.0.113.5"
#define PRIV "10.0.0.5"
#define V6 "2001:db8::5"

/* The expected choice for a combination, written out from the orders of the issue:
 * auto = public (direct), private (eice), IPv6 (direct); direct = public, IPv6, private;
 * eice = private (eice). */
static void expect(enum eic_conn_type type, bool pub, bool priv, bool v6, struct eic_route *want, bool *none)
{
    *none = false;
    switch (type) {
    case EIC_CONN_AUTO:
        if (pub) {
            *want = (struct eic_route){EIC_ADDR_PUBLIC_IPV4, PUB, false};
        } else if (priv) {
            *want = (struct eic_route){EIC_ADDR_PRIVATE_IPV4, PRIV, true};
        } else if (v6) {
            *want = (struct eic_route){EIC_ADDR_IPV6, V6, false};
        } else {
            *none = true;
        }
        break;
    case EIC_CONN_DIRECT:
        if (pub) {
            *want = (struct eic_route){EIC_ADDR_PUBLIC_IPV4, PUB, false};
        } else if (v6) {
            *want = (struct eic_route){EIC_ADDR_IPV6, V6, false};
        } else if (priv) {
            *want = (struct eic_route){EIC_ADDR_PRIVATE_IPV4, PRIV, false};
        } else {
            *none = true;
        }
        break;
    case EIC_CONN_EICE:
        if (priv) {
            *want = (struct eic_route){EIC_ADDR_PRIVATE_IPV4, PRIV, true};
        } else {
            *none = true;
        }
        break;
    }
}

static void check_all(const char *missing)
{
    static const enum eic_conn_type types[] = {EIC_CONN_AUTO, EIC_CONN_DIRECT, EIC_CONN_EICE};

    for (size_t t = 0; t < 3; t++) {
        for (unsigned int mask = 0; mask < 8; mask++) {
            bool pub = mask & 1, priv = mask & 2, v6 = mask & 4, none;
            struct eic_addresses a = {pub ? PUB : missing, priv ? PRIV : missing, v6 ? V6 : missing};
            struct eic_route want = {0}, got = {0};
            int ret;

            expect(types[t], pub, priv, v6, &want, &none);
            ret = eic_route_choose(types[t], &a, &got);
            print_message("# %s pub=%d priv=%d v6=%d -> %s\n", eic_conn_type_name(types[t]), pub, priv, v6,
                          ret == 0 ? got.address : "none");
            if (none) {
                assert_int_equal(ret, ENOENT);
                continue;
            }
            assert_int_equal(ret, 0);
            assert_int_equal(got.kind, want.kind);
            assert_string_equal(got.address, want.address);
            assert_int_equal(got.via_eice, want.via_eice);
        }
    }
}

static void test_every_combination_null(void **state)
{
    (void)state;
    check_all(NULL);
}

static void test_every_combination_empty(void **state)
{
    (void)state;
    check_all(""); /* an empty element in the answer is no address */
}

static void test_conn_type_parse(void **state)
{
    enum eic_conn_type t;

    (void)state;
    assert_int_equal(eic_conn_type_parse("auto", &t), 0);
    assert_int_equal(t, EIC_CONN_AUTO);
    assert_int_equal(eic_conn_type_parse("direct", &t), 0);
    assert_int_equal(t, EIC_CONN_DIRECT);
    assert_int_equal(eic_conn_type_parse("eice", &t), 0);
    assert_int_equal(t, EIC_CONN_EICE);
    assert_int_equal(eic_conn_type_parse("Auto", &t), EINVAL);
    assert_int_equal(eic_conn_type_parse("", &t), EINVAL);
    assert_int_equal(eic_conn_type_parse("eice ", &t), EINVAL);
}

/* Trimmed from a real DescribeInstances answer: the instance-level privateIpAddress comes after
 * the interface's in document order here on purpose (the interface's must not be taken for it
 * by position), and a second instance precedes the one asked for. */
static const char aws_answer[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
    "  <reservationSet><item><reservationId>r-1</reservationId><ownerId>111122223333</ownerId><groupSet/>\n"
    "    <instancesSet>\n"
    "      <item><instanceId>i-0aaaaaaaaaaaaaaaa</instanceId><privateIpAddress>10.9.9.9</privateIpAddress>"
    "<ipAddress>198.51.100.9</ipAddress><placement><availabilityZone>eu-west-1b</availabilityZone></placement></item>\n"
    "      <item>\n"
    "        <instanceId>i-0123456789abcdef0</instanceId>\n"
    "        <!-- a comment with <tags> inside -->\n"
    "        <instanceState><code>16</code><name>running</name></instanceState>\n"
    "        <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>\n"
    "        <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>\n"
    "          <privateIpAddress>10.1.1.1</privateIpAddress>\n"
    "          <association><publicIp>203.0.113.5</publicIp></association>\n"
    "          <ipv6AddressesSet><item><ipv6Address>2001:db8::5</ipv6Address></item></ipv6AddressesSet>\n"
    "          <privateIpAddressesSet><item><privateIpAddress>10.1.1.1</privateIpAddress></item></privateIpAddressesSet>\n"
    "        </item></networkInterfaceSet>\n"
    "        <tagSet><item><key>Name</key><value>a &lt;web&gt; server</value></item></tagSet>\n"
    "        <privateIpAddress>10.0.0.5</privateIpAddress>\n"
    "        <vpcId>vpc-0e1c0de5e1c0de500</vpcId><subnetId>subnet-0e1c0de5e1c0de501</subnetId>\n"
    "        <ipAddress>203.0.113.5</ipAddress>\n"
    "      </item>\n"
    "    </instancesSet></item></reservationSet>\n"
    "</DescribeInstancesResponse>\n";

static void test_parse_instance(void **state)
{
    struct eic_instance_info info;

    (void)state;
    assert_int_equal(eic_ec2_parse_instance(aws_answer, strlen(aws_answer), "i-0123456789abcdef0", &info), 0);
    assert_string_equal(info.private_ipv4, "10.0.0.5");
    assert_string_equal(info.public_ipv4, "203.0.113.5");
    assert_string_equal(info.ipv6, "2001:db8::5");
    assert_string_equal(info.zone, "us-east-1a");
    assert_string_equal(info.vpc_id, "vpc-0e1c0de5e1c0de500");
    assert_string_equal(info.subnet_id, "subnet-0e1c0de5e1c0de501");
    eic_instance_info_free(&info);

    assert_int_equal(eic_ec2_parse_instance(aws_answer, strlen(aws_answer), "i-0aaaaaaaaaaaaaaaa", &info), 0);
    assert_string_equal(info.private_ipv4, "10.9.9.9");
    assert_null(info.ipv6);
    assert_string_equal(info.zone, "eu-west-1b");
    eic_instance_info_free(&info);

    assert_int_equal(eic_ec2_parse_instance(aws_answer, strlen(aws_answer), "i-0bbbbbbbbbbbbbbbb", &info), ENOENT);
}

static void test_parse_instance_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "<html>nope</html>",
        /* truncated */
        "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0123456789abcdef0",
        /* mismatched */
        "<DescribeInstancesResponse><reservationSet></item></DescribeInstancesResponse>",
        /* a DTD */
        "<!DOCTYPE x [<!ENTITY a 'b'>]><DescribeInstancesResponse></DescribeInstancesResponse>",
        /* not an address */
        "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0123456789abcdef0"
        "</instanceId><ipAddress>-oProxyCommand=x</ipAddress></item></instancesSet></item></reservationSet>"
        "</DescribeInstancesResponse>",
        /* not a zone */
        "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0123456789abcdef0"
        "</instanceId><placement><availabilityZone>us east</availabilityZone></placement></item></instancesSet>"
        "</item></reservationSet></DescribeInstancesResponse>",
    };
    struct eic_instance_info info;
    char deep[4096];
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("# bad answer %zu\n", i);
        assert_int_equal(eic_ec2_parse_instance(bad[i], strlen(bad[i]), "i-0123456789abcdef0", &info), EBADMSG);
    }
    /* Nesting beyond the walker's depth is refused, not overflowed. */
    len += (size_t)snprintf(deep, sizeof(deep), "<DescribeInstancesResponse>");
    for (int i = 0; i < 40; i++) {
        len += (size_t)snprintf(deep + len, sizeof(deep) - len, "<a>");
    }
    assert_int_equal(eic_ec2_parse_instance(deep, len, "i-0123456789abcdef0", &info), EBADMSG);
    /* An element name over the limit. */
    memset(deep, 'x', 200);
    deep[0] = '<';
    memcpy(deep + 200, "/>", 3);
    assert_int_equal(eic_ec2_parse_error(deep, strlen(deep), &(char *){NULL}, &(char *){NULL}), EBADMSG);
}

static void test_parse_error(void **state)
{
    static const char answer[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                                 "<Code>InvalidInstanceID.NotFound</Code><Message>The instance ID &apos;i-1&apos; does not "
                                 "exist &amp; &bogus; &lt;&gt;</Message></Error></Errors><RequestID>abc</RequestID></Response>";
    char *code = NULL, *message = NULL;

    (void)state;
    assert_int_equal(eic_ec2_parse_error(answer, strlen(answer), &code, &message), 0);
    assert_string_equal(code, "InvalidInstanceID.NotFound");
    assert_string_equal(message, "The instance ID 'i-1' does not exist & &bogus; <>");
    free(code);
    free(message);
    assert_int_equal(eic_ec2_parse_error("<Response></Response>", 21, &code, &message), ENOENT);
    assert_int_equal(eic_ec2_parse_error("{\"__type\":\"x\"}", 14, &code, &message), ENOENT);
}

/* In the shape of a real DescribeInstanceConnectEndpoints answer: three endpoints, one in another
 * VPC, one in the instance's VPC but another subnet, one in its subnet (listed last). */
#define EICE_ITEM(ID, STATE, VPC, SUBNET) \
    "<item><ownerId>111122223333</ownerId><instanceConnectEndpointId>" ID "</instanceConnectEndpointId>" \
    "<instanceConnectEndpointArn>arn:aws:ec2:us-east-1:111122223333:instance-connect-endpoint/" ID \
    "</instanceConnectEndpointArn><state>" STATE "</state><stateMessage/><dnsName>" ID \
    ".1a2b3c4d.ec2-instance-connect-endpoint.us-east-1.amazonaws.com</dnsName><networkInterfaceIdSet><item>eni-1" \
    "</item></networkInterfaceIdSet><vpcId>" VPC "</vpcId><availabilityZone>us-east-1a</availabilityZone>" \
    "<subnetId>" SUBNET "</subnetId><securityGroupIdSet><item>sg-1</item></securityGroupIdSet><tagSet/></item>"
static const char endpoints_answer[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstanceConnectEndpointsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<requestId>1</requestId><instanceConnectEndpointSet>"
    EICE_ITEM("eice-0aaaaaaaaaaaaaaa1", "create-complete", "vpc-0bbbbbbbbbbbbbbb0", "subnet-0bbbbbbbbbbbbbbb1")
    EICE_ITEM("eice-0aaaaaaaaaaaaaaa2", "create-complete", "vpc-0e1c0de5e1c0de500", "subnet-0e1c0de5e1c0de599")
    EICE_ITEM("eice-0aaaaaaaaaaaaaaa3", "delete-in-progress", "vpc-0e1c0de5e1c0de500", "subnet-0e1c0de5e1c0de501")
    EICE_ITEM("eice-0aaaaaaaaaaaaaaa4", "create-complete", "vpc-0e1c0de5e1c0de500", "subnet-0e1c0de5e1c0de501")
    "</instanceConnectEndpointSet></DescribeInstanceConnectEndpointsResponse>";

static void test_endpoints(void **state)
{
    static const char *const bad[] = {
        "<DescribeInstanceConnectEndpointsResponse><instanceConnectEndpointSet>"
        EICE_ITEM("eice-0aaaaaaaaaaaaaaa1", "create-complete", "vpc-x", "subnet-0bbbbbbbbbbbbbbb1")
        "</instanceConnectEndpointSet></DescribeInstanceConnectEndpointsResponse>",
        "<DescribeInstanceConnectEndpointsResponse><instanceConnectEndpointSet>"
        EICE_ITEM("eice-0aaaaaaaaaaaaaaa1 -oProxyCommand=x", "create-complete", "vpc-0bbbbbbbbbbbbbbb0",
                  "subnet-0bbbbbbbbbbbbbbb1")
        "</instanceConnectEndpointSet></DescribeInstanceConnectEndpointsResponse>",
        "<DescribeInstanceConnectEndpointsResponse><instanceConnectEndpointSet><item><instanceConnectEndpointId>"
        "eice-0aaaaaaaaaaaaaaa1</instanceConnectEndpointId><state>create-complete</state><vpcId>vpc-0bbbbbbbbbbbbbbb0"
        "</vpcId><dnsName>a b.example</dnsName></item></instanceConnectEndpointSet>"
        "</DescribeInstanceConnectEndpointsResponse>",
        "<DescribeInstancesResponse></DescribeInstancesResponse>",
    };
    struct eic_endpoint_list list;
    const struct eic_endpoint *e;

    (void)state;
    assert_int_equal(eic_ec2_parse_endpoints(endpoints_answer, strlen(endpoints_answer), &list), 0);
    assert_int_equal(list.n, 4);
    assert_string_equal(list.items[1].subnet_id, "subnet-0e1c0de5e1c0de599");
    assert_string_equal(list.items[3].dns_name,
                        "eice-0aaaaaaaaaaaaaaa4.1a2b3c4d.ec2-instance-connect-endpoint.us-east-1.amazonaws.com");
    /* The instance's subnet first, create-complete only; else the first in the VPC. */
    e = eic_endpoint_choose(&list, "vpc-0e1c0de5e1c0de500", "subnet-0e1c0de5e1c0de501");
    assert_non_null(e);
    assert_string_equal(e->id, "eice-0aaaaaaaaaaaaaaa4");
    e = eic_endpoint_choose(&list, "vpc-0e1c0de5e1c0de500", "subnet-0e1c0de5e1c0de5ff");
    assert_string_equal(e->id, "eice-0aaaaaaaaaaaaaaa2");
    assert_null(eic_endpoint_choose(&list, "vpc-0cccccccccccccccc", NULL));
    assert_null(eic_endpoint_choose(&list, NULL, NULL));
    eic_endpoint_list_free(&list);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eic_ec2_parse_endpoints(bad[i], strlen(bad[i]), &list), EBADMSG);
    }
}

static void test_proxy_word(void **state)
{
    struct eic_buf b;

    (void)state;
    eic_buf_init(&b, 4096);
    assert_int_equal(eic_proxy_word(&b, "/usr/bin/eic"), 0);
    assert_int_equal(eic_proxy_word(&b, "it's 100% $(x) `y`"), 0);
    assert_int_equal(eic_proxy_word(&b, ""), 0);
    /* ssh turns %% into %, then sh sees single-quoted words. */
    assert_string_equal(b.data, "'/usr/bin/eic' 'it'\\''s 100%% $(x) `y`' ''");
    eic_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_combination_null),
        cmocka_unit_test(test_every_combination_empty),
        cmocka_unit_test(test_conn_type_parse),
        cmocka_unit_test(test_parse_instance),
        cmocka_unit_test(test_parse_instance_bad),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_proxy_word),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
