/* Unit tests for lib/aws/eic_sigv4.c: the botocore vectors (tests/data/sigv4/), the example of
 * the AWS General Reference, the Authorization parser on good and malformed values, and the
 * X-Amz-Date helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eic_sigv4.h"
#include "sigv4_vectors.h"

#define VECTORS TEST_DATA_DIR "/sigv4/botocore-vectors.txt"

static void test_botocore_vectors(void **state)
{
    struct sigv4_vector *vectors = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(sigv4_vectors_load(VECTORS, &vectors, &n), 0);
    assert_true(n >= 8);
    for (size_t i = 0; i < n; i++) {
        const struct sigv4_vector *v = &vectors[i];
        char *cr = NULL, *sts = NULL, *auth = NULL;
        char sig[65];

        print_message("# vector %s\n", v->name);
        assert_non_null(v->canonical_request);
        assert_non_null(v->string_to_sign);
        assert_non_null(v->signature);
        assert_non_null(v->authorization);
        assert_int_equal(eic_sigv4_canonical_request(&v->req, &cr), 0);
        assert_string_equal(cr, v->canonical_request);
        assert_int_equal(eic_sigv4_string_to_sign(&v->req, &v->scope, &sts), 0);
        assert_string_equal(sts, v->string_to_sign);
        assert_int_equal(eic_sigv4_signature(&v->req, &v->scope, v->secret_access_key, sig), 0);
        assert_string_equal(sig, v->signature);
        assert_int_equal(
            eic_sigv4_authorization(&v->req, &v->scope, v->access_key_id, v->secret_access_key, &auth), 0);
        assert_string_equal(auth, v->authorization);
        free(cr);
        free(sts);
        free(auth);
    }
    sigv4_vectors_free(vectors, n);
}

/* The worked example of the AWS General Reference ("Signature Version 4 signing process"). */
static void test_aws_documentation_example(void **state)
{
    const struct eic_sigv4_header headers[] = {
        {"Host", "iam.amazonaws.com"},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"X-Amz-Date", "20150830T123600Z"},
    };
    const struct eic_sigv4_request req = {
        .method = "GET", .path = "/", .query = "Action=ListUsers&Version=2010-05-08",
        .headers = headers, .n_headers = 3, .body = "", .body_len = 0,
    };
    const struct eic_sigv4_scope scope = {"20150830T123600Z", "us-east-1", "iam"};
    char *cr = NULL;
    char sig[65];

    (void)state;
    assert_int_equal(eic_sigv4_canonical_request(&req, &cr), 0);
    assert_string_equal(cr, "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                            "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                            "content-type;host;x-amz-date\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(cr);
    assert_int_equal(eic_sigv4_signature(&req, &scope, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sig), 0);
    assert_string_equal(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

static char *canonical(const char *path, const char *query, const struct eic_sigv4_header *extra, size_t n_extra,
                       int *err)
{
    struct eic_sigv4_header headers[8] = {{"host", "h"}, {"x-amz-date", "20240101T000000Z"}};
    struct eic_sigv4_request req = {.method = "get", .path = path, .query = query, .headers = headers};
    char *cr = NULL;

    assert_true(n_extra <= 6);
    for (size_t i = 0; i < n_extra; i++) {
        headers[2 + i] = extra[i];
    }
    req.n_headers = 2 + n_extra;
    *err = eic_sigv4_canonical_request(&req, &cr);
    return cr;
}

static void test_canonical_edges(void **state)
{
    const struct eic_sigv4_header bad_name[] = {{"x-a:b", "v"}};
    const struct eic_sigv4_header newline_value[] = {{"x-a", " line1\r\nx-injected: yes \n"}};
    char *cr;
    char *cr2;
    int err;

    (void)state;
    /* Empty path is "/", no query, method upper-cased. */
    cr = canonical("", NULL, NULL, 0, &err);
    assert_int_equal(err, 0);
    assert_string_equal(cr, "GET\n/\n\nhost:h\nx-amz-date:20240101T000000Z\n\nhost;x-amz-date\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(cr);
    /* Any wire spelling of the same query gives the same canonical query. */
    cr = canonical("/", "a=%7e%41&b", NULL, 0, &err);
    assert_int_equal(err, 0);
    cr2 = canonical("/", "b=&a=~A", NULL, 0, &err);
    assert_int_equal(err, 0);
    assert_string_equal(cr, cr2);
    assert_non_null(strstr(cr, "\na=~A&b=\n"));
    free(cr);
    free(cr2);
    /* Empty pairs are skipped; '+' is a space. */
    cr = canonical("/", "&&x=a+b&&", NULL, 0, &err);
    assert_int_equal(err, 0);
    assert_non_null(strstr(cr, "\nx=a%20b\n"));
    free(cr);
    /* ".." above the root stays at the root; a relative path stays relative. */
    cr = canonical("/../../a/..", NULL, NULL, 0, &err);
    assert_int_equal(err, 0);
    assert_memory_equal(cr, "GET\n/\n\n", 7);
    free(cr);
    /* Broken escapes are refused rather than guessed. */
    assert_null(canonical("/", "a=%zz", NULL, 0, &err));
    assert_int_equal(err, EBADMSG);
    assert_null(canonical("/", "a=%4", NULL, 0, &err));
    assert_int_equal(err, EBADMSG);
    /* A header name that could forge a line is refused; a value cannot add a line. */
    assert_null(canonical("/", NULL, bad_name, 1, &err));
    assert_int_equal(err, EINVAL);
    cr = canonical("/", NULL, newline_value, 1, &err);
    assert_int_equal(err, 0);
    assert_non_null(strstr(cr, "\nx-a:line1 x-injected: yes\n"));
    free(cr);
}

static void test_required_headers(void **state)
{
    const struct eic_sigv4_header no_host[] = {{"x-amz-date", "20240101T000000Z"}, {"content-type", "x"}};
    const struct eic_sigv4_header no_date[] = {{"Host", "h"}};
    struct eic_sigv4_request req = {.method = "POST", .path = "/", .headers = no_host, .n_headers = 2};
    const struct eic_sigv4_scope scope = {"20240101T000000Z", "us-east-1", "ec2-instance-connect"};
    const struct eic_sigv4_scope bad_scope = {"20240101T000000Z", "us-east-1/x", "ec2-instance-connect"};
    const struct eic_sigv4_scope bad_date = {"20240101", "us-east-1", "ec2-instance-connect"};
    char *out = NULL;
    char sig[65];

    (void)state;
    assert_int_equal(eic_sigv4_canonical_request(&req, &out), EINVAL);
    assert_null(out);
    req.headers = no_date;
    req.n_headers = 1;
    assert_int_equal(eic_sigv4_canonical_request(&req, &out), EINVAL);
    req.n_headers = 0;
    assert_int_equal(eic_sigv4_canonical_request(&req, &out), EINVAL);
    /* A scope part containing '/' would change how the scope is read back. */
    req.headers = (const struct eic_sigv4_header[]){{"host", "h"}, {"x-amz-date", "20240101T000000Z"}};
    req.n_headers = 2;
    assert_int_equal(eic_sigv4_signature(&req, &scope, "secret", sig), 0);
    assert_int_equal(eic_sigv4_signature(&req, &bad_scope, "secret", sig), EINVAL);
    assert_int_equal(eic_sigv4_signature(&req, &bad_date, "secret", sig), EINVAL);
    assert_int_equal(eic_sigv4_signature(&req, &scope, "", sig), EINVAL);
    assert_int_equal(eic_sigv4_authorization(&req, &scope, "AK/ID", "secret", &out), EINVAL);
    assert_int_equal(eic_sigv4_authorization(&req, &scope, "", "secret", &out), EINVAL);
    assert_null(out);
}

/* What the emulator does: parse the header, rebuild the request from the signed header
 * names, recompute, compare. Changing the body or a signed header must change the result. */
static void test_sign_then_verify(void **state)
{
    struct eic_sigv4_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"Host", "127.0.0.1:8169"},
        {"X-Amz-Date", "20241123T221320Z"},
        {"X-Amz-Target", "AWSEC2InstanceConnectService.SendSSHPublicKey"},
    };
    const char *body = "{\"InstanceId\":\"i-0123456789abcdef0\"}";
    struct eic_sigv4_request req = {
        .method = "POST", .path = "/", .headers = headers, .n_headers = 4, .body = body, .body_len = strlen(body),
    };
    struct eic_sigv4_scope scope = {"20241123T221320Z", "us-east-1", "ec2-instance-connect"};
    struct eic_sigv4_auth auth;
    char *value = NULL;
    char sig[65];

    (void)state;
    assert_int_equal(eic_sigv4_authorization(&req, &scope, "AKIAEICDEMOALICE0001", "s3cr3t", &value), 0);
    assert_int_equal(eic_sigv4_parse_authorization(value, &auth), 0);
    assert_string_equal(auth.access_key_id, "AKIAEICDEMOALICE0001");
    assert_string_equal(auth.date, "20241123");
    assert_string_equal(auth.region, "us-east-1");
    assert_string_equal(auth.service, "ec2-instance-connect");
    assert_string_equal(auth.signed_headers, "content-type;host;x-amz-date;x-amz-target");
    assert_int_equal(eic_sigv4_signature(&req, &scope, "s3cr3t", sig), 0);
    assert_string_equal(sig, auth.signature);

    req.body_len--;
    assert_int_equal(eic_sigv4_signature(&req, &scope, "s3cr3t", sig), 0);
    assert_string_not_equal(sig, auth.signature);
    req.body_len++;
    headers[3].value = "AWSEC2InstanceConnectService.Other";
    assert_int_equal(eic_sigv4_signature(&req, &scope, "s3cr3t", sig), 0);
    assert_string_not_equal(sig, auth.signature);
    headers[3].value = "AWSEC2InstanceConnectService.SendSSHPublicKey";
    assert_int_equal(eic_sigv4_signature(&req, &scope, "wrong", sig), 0);
    assert_string_not_equal(sig, auth.signature);
    eic_sigv4_auth_free(&auth);
    free(value);
}

#define GOOD_CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"
#define GOOD_SH "SignedHeaders=content-type;host;x-amz-date"
#define GOOD_SIG "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

static void test_parse_good(void **state)
{
    const char *good[] = {
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED "," GOOD_SH "," GOOD_SIG,     /* no spaces after commas */
        "AWS4-HMAC-SHA256   " GOOD_SIG ", " GOOD_CRED ", " GOOD_SH, /* other order, more spaces */
    };
    struct eic_sigv4_auth auth;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        print_message("# good %zu\n", i);
        assert_int_equal(eic_sigv4_parse_authorization(good[i], &auth), 0);
        assert_string_equal(auth.access_key_id, "AKIDEXAMPLE");
        assert_string_equal(auth.date, "20150830");
        assert_string_equal(auth.region, "us-east-1");
        assert_string_equal(auth.service, "iam");
        assert_string_equal(auth.signed_headers, "content-type;host;x-amz-date");
        assert_string_equal(auth.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
        eic_sigv4_auth_free(&auth);
        eic_sigv4_auth_free(&auth); /* safe twice */
    }
}

static void test_parse_malformed(void **state)
{
    static char too_long[5000];
    const char *bad[] = {
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG,                  /* wrong algorithm */
        "aws4-hmac-sha256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256" GOOD_CRED ", " GOOD_SH ", " GOOD_SIG,                  /* no space */
        " AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG,                /* leading space */
        "AWS4-HMAC-SHA256 " GOOD_SH ", " GOOD_SIG,                                 /* missing Credential */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SIG,                               /* missing SignedHeaders */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH,                                /* missing Signature */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG ", " GOOD_SIG,    /* repeated part */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG ",",              /* trailing comma */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG " ",              /* trailing space */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", " GOOD_SIG ", Extra=1",      /* unknown part */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", Signature",                 /* no '=' */
        "AWS4-HMAC-SHA256 credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        /* scope */
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_requesT, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request/x, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083x/us-east-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/US-EAST-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        "AWS4-HMAC-SHA256 Credential=AKID EXAMPLE/20150830/us-east-1/iam/aws4_request, " GOOD_SH ", " GOOD_SIG,
        /* signed headers */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=host;Content-Type, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=Host;x-amz-date, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=x-amz-date;host, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=host;host;x-amz-date, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=host;;x-amz-date, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=host;x-amz-date;, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=host;x amz, " GOOD_SIG,
        "AWS4-HMAC-SHA256 " GOOD_CRED ", SignedHeaders=x-amz-date;x-amz, " GOOD_SIG, /* prefix after name */
        /* signature */
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH ", Signature=",
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH
        ", Signature=5D672D79C15B13162D9279B0855CFBA6789A8EDB4C82C400E06B5924A6F2B5D7",
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH
        ", Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d",
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH
        ", Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7a",
        "AWS4-HMAC-SHA256 " GOOD_CRED ", " GOOD_SH
        ", Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5dg",
        too_long,
    };
    struct eic_sigv4_auth auth;

    (void)state;
    /* A long value: a valid prefix, then padding in the signed header list. */
    snprintf(too_long, sizeof(too_long), "AWS4-HMAC-SHA256 %s, %s, SignedHeaders=", GOOD_CRED, GOOD_SIG);
    memset(too_long + strlen(too_long), 'a', sizeof(too_long) - strlen(too_long) - 1);
    assert_int_equal(eic_sigv4_parse_authorization(NULL, &auth), EBADMSG);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("# malformed %zu: %.100s\n", i, bad[i]);
        memset(&auth, 0x5a, sizeof(auth));
        assert_int_equal(eic_sigv4_parse_authorization(bad[i], &auth), EBADMSG);
        assert_null(auth.storage);
        assert_null(auth.signature);
    }
}

static void test_amz_date(void **state)
{
    const struct {
        long long t;
        const char *s;
    } good[] = {
        {0, "19700101T000000Z"},
        {1732400000, "20241123T221320Z"},
        {951782400, "20000229T000000Z"},   /* leap day of a year divisible by 400 */
        {1709251199, "20240229T235959Z"},
        {253402300799LL, "99991231T235959Z"},
        {-86400, "19691231T000000Z"},
    };
    const char *bad[] = {
        "", "20241123T221320", "20241123T221320ZZ", "20241123t221320Z", "20241123 221320Z",
        "2024112T221320Z0", "20241323T221320Z", "20241100T221320Z", "20241131T000000Z", "20230229T000000Z",
        "19000229T000000Z", "20241123T241320Z", "20241123T226020Z", "20241123T221360Z", "2024-1-23T22132Z",
        "+0241123T221320Z", "20241123T22132 Z",
    };
    char out[EIC_SIGV4_AMZ_DATE_LEN + 1];
    long long t;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        eic_sigv4_format_amz_date(good[i].t, out);
        assert_string_equal(out, good[i].s);
        assert_int_equal(eic_sigv4_parse_amz_date(good[i].s, &t), 0);
        assert_true(t == good[i].t);
    }
    /* Round trip over a spread of instants. */
    for (long long x = 0; x < 4102444800LL; x += 7919 * 3600 + 1234) {
        eic_sigv4_format_amz_date(x, out);
        assert_int_equal(eic_sigv4_parse_amz_date(out, &t), 0);
        assert_true(t == x);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("# bad date %s\n", bad[i]);
        assert_int_equal(eic_sigv4_parse_amz_date(bad[i], &t), EBADMSG);
    }
    assert_int_equal(eic_sigv4_parse_amz_date(NULL, &t), EBADMSG);
    /* Years past 9999 are not truncated into another date: the result is unparseable. */
    eic_sigv4_format_amz_date(253402300800LL, out);
    assert_int_equal(eic_sigv4_parse_amz_date(out, &t), EBADMSG);
}

/* Presigned queries against botocore 1.29's SigV4QueryAuth (tests/integration/emu_tunnel.py
 * presign; test_sigv4_botocore.sh compares with the installed botocore live). */
static void test_presign_botocore(void **state)
{
    static const struct {
        const char *host, *query, *date, *region, *akid, *secret, *token, *expected;
    } cases[] = {
        {"127.0.0.1:8169",
         "instanceConnectEndpointId=eice-0e1c0de5e1c0de502&remotePort=22&privateIpAddress=172.31.16.10",
         "20240102T030405Z", "us-east-1", "AKIAEICDEMOALICE0001", "eic-demo-secret-alice", NULL,
         "instanceConnectEndpointId=eice-0e1c0de5e1c0de502&remotePort=22&privateIpAddress=172.31.16.10"
         "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEICDEMOALICE0001%2F20240102%2Fus-east-1%2F"
         "ec2-instance-connect%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
         "&X-Amz-Signature=757d73b4f39fee91fde1fb58f33c42b4cf2b5bed91912259d866db760a46a194"},
        {"eice-0123456789abcdef0.1a2b3c4d.ec2-instance-connect-endpoint.eu-west-2.amazonaws.com",
         "instanceConnectEndpointId=eice-0123456789abcdef0&remotePort=2222&privateIpAddress=2001%3Adb8%3A%3A5"
         "&maxTunnelDuration=3600",
         "20241231T235959Z", "eu-west-2", "ASIAEXAMPLEDAVE00002", "example/secret+dave", "tok/en+with=chars",
         "instanceConnectEndpointId=eice-0123456789abcdef0&remotePort=2222&privateIpAddress=2001%3Adb8%3A%3A5"
         "&maxTunnelDuration=3600&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEDAVE00002%2F20241231"
         "%2Feu-west-2%2Fec2-instance-connect%2Faws4_request&X-Amz-Date=20241231T235959Z&X-Amz-Expires=60"
         "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen%2Bwith%3Dchars"
         "&X-Amz-Signature=e2e7f1e8c4fcd4a4527da669adfce32e686f650b8af608c70129c4c965147c7c"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct eic_sigv4_presign p = {.method = "GET", .host = cases[i].host, .path = "/openTunnel",
                                      .query = cases[i].query, .expires = 60, .access_key_id = cases[i].akid,
                                      .secret_access_key = cases[i].secret, .session_token = cases[i].token};
        struct eic_sigv4_scope scope = {cases[i].date, cases[i].region, "ec2-instance-connect"};
        struct eic_sigv4_presigned parsed;
        char *out = NULL;

        assert_int_equal(eic_sigv4_presign_query(&p, &scope, &out), 0);
        assert_string_equal(out, cases[i].expected);
        /* What the emulator reads back from it. */
        assert_int_equal(eic_sigv4_parse_presigned(out, &parsed), 0);
        assert_string_equal(parsed.auth.access_key_id, cases[i].akid);
        assert_string_equal(parsed.auth.region, cases[i].region);
        assert_string_equal(parsed.auth.service, "ec2-instance-connect");
        assert_string_equal(parsed.auth.signed_headers, "host");
        assert_string_equal(parsed.amz_date, cases[i].date);
        assert_int_equal(parsed.expires, 60);
        if (cases[i].token != NULL) {
            assert_string_equal(parsed.security_token, cases[i].token);
        } else {
            assert_null(parsed.security_token);
        }
        assert_null(strstr(parsed.unsigned_query, "X-Amz-Signature"));
        assert_memory_equal(parsed.unsigned_query, out, strlen(parsed.unsigned_query));
        eic_sigv4_presigned_free(&parsed);
        free(out);
    }
}

static void test_presign_parse_bad(void **state)
{
    static const char base[] = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-east-1"
                               "%2Fec2-instance-connect%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60"
                               "&X-Amz-SignedHeaders=host";
    static const char sig[] = "&X-Amz-Signature=757d73b4f39fee91fde1fb58f33c42b4cf2b5bed91912259d866db760a46a194";
    static const char *const bad_tails[] = {
        "&X-Amz-Signature=757D73B4F39FEE91FDE1FB58F33C42B4CF2B5BED91912259D866DB760A46A194", /* upper case */
        "&X-Amz-Signature=757d", /* short */
        "&X-Amz-Expires=60", /* repeated */
    };
    struct eic_sigv4_presigned p;
    char query[1024];
    char *value = NULL;

    (void)state;
    snprintf(query, sizeof(query), "%s%s", base, sig);
    assert_int_equal(eic_sigv4_parse_presigned(query, &p), 0);
    eic_sigv4_presigned_free(&p);
    assert_int_equal(eic_sigv4_parse_presigned(base, &p), ENOENT); /* not presigned */
    for (size_t i = 0; i < sizeof(bad_tails) / sizeof(bad_tails[0]); i++) {
        snprintf(query, sizeof(query), "%s%s%s", base, i == 2 ? sig : "", bad_tails[i]);
        assert_int_equal(eic_sigv4_parse_presigned(query, &p), EBADMSG);
    }
    snprintf(query, sizeof(query), "X-Amz-Algorithm=AWS4-HMAC-SHA1%s%s",
             base + strlen("X-Amz-Algorithm=AWS4-HMAC-SHA256"), sig);
    assert_int_equal(eic_sigv4_parse_presigned(query, &p), EBADMSG);
    snprintf(query, sizeof(query), "%.*s0%s", (int)(strstr(base, "&X-Amz-SignedHeaders") - base), base,
             strstr(base, "&X-Amz-SignedHeaders"));
    strcat(query, sig); /* X-Amz-Expires=600 is fine for the parser (the emulator caps it) */
    assert_int_equal(eic_sigv4_parse_presigned(query, &p), 0);
    eic_sigv4_presigned_free(&p);
    snprintf(query, sizeof(query), "%s&X-Amz-Expires=0%s", strstr(base, "&X-Amz-Credential") + 1, sig);
    assert_int_equal(eic_sigv4_parse_presigned(query, &p), EBADMSG); /* no algorithm, expires 0 */

    assert_int_equal(eic_sigv4_query_get("a=1&b=%2F&c", "b", &value), 0);
    assert_string_equal(value, "/");
    free(value);
    assert_int_equal(eic_sigv4_query_get("a=1&b=%2F&c", "c", &value), 0);
    assert_string_equal(value, "");
    free(value);
    assert_int_equal(eic_sigv4_query_get("a=1&a=2", "a", &value), EBADMSG);
    assert_int_equal(eic_sigv4_query_get("a=%zz", "a", &value), EBADMSG);
    assert_int_equal(eic_sigv4_query_get("ab=1", "a", &value), ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_botocore_vectors),
        cmocka_unit_test(test_aws_documentation_example),
        cmocka_unit_test(test_canonical_edges),
        cmocka_unit_test(test_required_headers),
        cmocka_unit_test(test_sign_then_verify),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_amz_date),
        cmocka_unit_test(test_presign_botocore),
        cmocka_unit_test(test_presign_parse_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
