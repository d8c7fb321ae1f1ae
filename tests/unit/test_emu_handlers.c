/* Unit tests for the emulator's world parser (emu_world.c), fault specs (emu_fault.c), IMDS
 * tokens and handler (emu_imds.c), push API handler (emu_push.c) and sso-oidc's CreateToken
 * (emu_sso_oidc.c), driven through their transport-independent request/reply interface (no
 * sockets). Push requests are signed with
 * eic_sigv4_authorization, the client side of the same SigV4 code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_log.h"
#include "eic_sigv4.h"
#include "emu_fault.h"
#include "emu_imds.h"
#include "emu_push.h"
#include "emu_server.h"
#include "emu_sso_oidc.h"
#include "emu_world.h"
#include "unit_support.h"

#define INSTANCE "i-0123456789abcdef0"
#define KEY_ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIHg3R3hv7uLbbmz+LHakOxgxpBAKBzBpKn557So66lJ unit"
#define ALICE_AK "AKIAEICDEMOALICE0001"
#define ALICE_SK "eic-demo-secret-alice"
#define TARGET "AWSEC2InstanceConnectService.SendSSHPublicKey"

/* One server context for the handler tests: the default world, a real PKI in a temporary
 * directory (key generation paid once), a real record store. */
static struct {
    char tmp[64];
    struct emu_world *world;
    struct emu_pki *pki;
    struct emu_record_store *store;
    struct emu_tokens *tokens;
    struct emu_server srv;
} fx;

static int setup(void **state)
{
    struct emu_pki_options opts = {0};
    char state_dir[128];

    (void)state;
    snprintf(fx.tmp, sizeof(fx.tmp), "/tmp/eic-test-emu.XXXXXX");
    if (mkdtemp(fx.tmp) == NULL) {
        return -1;
    }
    snprintf(state_dir, sizeof(state_dir), "%s/state", fx.tmp);
    opts.state_dir = state_dir;
    opts.region = "us-east-1";
    opts.domain = "amazonaws.com";
    if (emu_world_default(&fx.world) != 0 || emu_pki_load(&opts, &fx.pki) != 0 ||
        emu_record_store_new(&fx.store) != 0 || emu_tokens_new(&fx.tokens) != 0 || emu_push_init() != 0 ||
        emu_server_init(&fx.srv) != 0) {
        return -1;
    }
    fx.srv.world = fx.world;
    fx.srv.pki = fx.pki;
    fx.srv.store = fx.store;
    fx.srv.tokens = fx.tokens;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    emu_server_destroy(&fx.srv);
    emu_push_cleanup();
    emu_tokens_free(fx.tokens);
    emu_record_store_free(fx.store);
    emu_pki_free(fx.pki);
    emu_world_free(fx.world);
    unit_remove_tree(fx.tmp);
    return 0;
}

/* --- world ------------------------------------------------------------------------------------ */

static void test_world_default(void **state)
{
    struct emu_world *w = NULL;
    const struct emu_principal *p;

    (void)state;
    assert_int_equal(emu_world_default(&w), 0);
    assert_string_equal(w->instance_id, INSTANCE);
    assert_string_equal(w->availability_zone, "us-east-1a");
    assert_string_equal(w->region, "us-east-1");
    assert_string_equal(w->domain, "amazonaws.com");
    assert_string_equal(w->account_id, "111122223333");
    assert_true(w->imdsv2_required);
    assert_int_equal(w->key_lifetime, 60);
    assert_int_equal(w->n_principals, 2);
    p = emu_world_principal(w, ALICE_AK);
    assert_non_null(p);
    assert_string_equal(p->arn, "arn:aws:iam::111122223333:user/alice");
    assert_string_equal(p->secret_access_key, ALICE_SK);
    assert_null(p->session_token);
    p = emu_world_principal(w, "AKIAEICDEMOBOB000002");
    assert_non_null(p);
    assert_string_equal(p->arn, "arn:aws:sts::111122223333:assumed-role/Admins/bob");
    assert_null(emu_world_principal(w, "AKIAEICDEMOALICE0002"));
    assert_true(emu_world_allows(w, "arn:aws:iam::111122223333:user/alice", INSTANCE, "root"));
    assert_true(emu_world_allows(w, "arn:aws:sts::111122223333:assumed-role/Admins/bob", INSTANCE, "ec2-user"));
    assert_false(emu_world_allows(w, "arn:aws:iam::111122223333:user/alice", "i-0aaaaaaaaaaaaaaaa", "root"));
    assert_false(emu_world_allows(w, "arn:aws:iam::111122223333:user/mallory", INSTANCE, "root"));
    /* One endpoint in the instance's subnet, port 22; both may open tunnels. */
    assert_string_equal(w->vpc_id, "vpc-0e1c0de5e1c0de500");
    assert_int_equal(w->n_endpoints, 1);
    assert_non_null(emu_world_endpoint(w, "eice-0e1c0de5e1c0de502"));
    assert_string_equal(w->endpoints[0].subnet_id, w->subnet_id);
    assert_string_equal(w->endpoints[0].state, "create-complete");
    assert_int_equal(w->endpoints[0].n_remote_ports, 1);
    assert_int_equal(w->endpoints[0].remote_ports[0], 22);
    assert_string_equal(w->endpoints[0].dns_name,
                        "eice-0e1c0de5e1c0de502.0e1c0de5.ec2-instance-connect-endpoint.us-east-1.amazonaws.com");
    assert_true(emu_world_allows_tunnel(w, "arn:aws:sts::111122223333:assumed-role/Admins/bob",
                                        "eice-0e1c0de5e1c0de502"));
    assert_false(emu_world_allows_tunnel(w, "arn:aws:iam::111122223333:user/mallory", "eice-0e1c0de5e1c0de502"));
    emu_world_free(w);
}

#define INST "\"instance\":{\"id\":\"i-0123456789abcdef0\",\"availability_zone\":\"us-east-1a\",\"account_id\":\"111122223333\"}"
#define PRIN "\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\"," \
             "\"secret_access_key\":\"s\"}]"

static void test_world_policy_default_and_empty(void **state)
{
    const char *no_policy = "{" INST "," PRIN "}";
    const char *empty_policy = "{" INST "," PRIN ",\"policy\":[]}";
    struct emu_world *w = NULL;
    char err[256];

    (void)state;
    assert_int_equal(emu_world_parse("t", no_policy, strlen(no_policy), &w, err, sizeof(err)), 0);
    assert_true(emu_world_allows(w, "arn:aws:iam::111122223333:user/x", INSTANCE, "anyone"));
    assert_false(emu_world_allows(w, "arn:aws:iam::111122223333:user/x", "i-0aaaaaaaaaaaaaaaa", "anyone"));
    assert_true(emu_world_allows_tunnel(w, "arn:aws:iam::111122223333:user/x", "eice-0e1c0de5e1c0de502"));
    assert_false(w->is_default);
    emu_world_free(w);
    assert_int_equal(emu_world_parse("t", empty_policy, strlen(empty_policy), &w, err, sizeof(err)), 0);
    assert_int_equal(w->n_policy, 0);
    assert_false(emu_world_allows(w, "arn:aws:iam::111122223333:user/x", INSTANCE, "anyone"));
    assert_false(emu_world_allows_tunnel(w, "arn:aws:iam::111122223333:user/x", "eice-0e1c0de5e1c0de502"));
    emu_world_free(w);
}

static void test_world_errors_name_the_key(void **state)
{
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"", "not valid JSON"},
        {"[]", "must be a JSON object"},
        {"{" PRIN "}", "\"instance\""},
        {"{" INST "}", "\"principals\""},
        {"{" INST "," PRIN ",\"extra\":1}", "\"extra\""},
        {"{" INST "," PRIN ",\"key_lifetime\":3601}", "\"key_lifetime\""},
        {"{" INST "," PRIN ",\"key_lifetime\":60.5}", "\"key_lifetime\""},
        {"{\"instance\":[]," PRIN "}", "\"instance\""},
        {"{\"instance\":{\"id\":\"i-1\",\"availability_zone\":\"us-east-1a\",\"account_id\":\"111122223333\"}," PRIN "}",
         "\"instance.id\""},
        {"{\"instance\":{\"id\":\"i-0123456789abcdef0\",\"availability_zone\":\"US-EAST-1A\",\"account_id\":"
         "\"111122223333\"}," PRIN "}",
         "\"instance.availability_zone\""},
        {"{\"instance\":{\"id\":\"i-0123456789abcdef0\",\"availability_zone\":\"us-east-1a\",\"account_id\":1}," PRIN "}",
         "\"instance.account_id\""},
        {"{" INST ",\"principals\":{}}", "\"principals\""},
        {"{" INST ",\"principals\":[1]}", "\"principals[0]\""},
        {"{" INST ",\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\"}]}",
         "\"principals[0].secret_access_key\""},
        {"{" INST ",\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\","
         "\"secret_access_key\":\"s\",\"session_token\":\"\"}]}",
         "\"principals[0].session_token\""},
        {"{" INST "," PRIN ",\"policy\":{}}", "\"policy\""},
        {"{" INST "," PRIN ",\"policy\":[{\"principal\":\"*\",\"instance\":\"*\",\"os_user\":\"\"}]}", "\"policy[0].os_user\""},
        {"{" INST "," PRIN ",\"policy\":[{\"principal\":\"a b\",\"instance\":\"*\",\"os_user\":\"*\"}]}",
         "\"policy[0].principal\""},
        /* Instance Connect Endpoints and OpenTunnel rules. */
        {"{" INST "," PRIN ",\"policy\":[{\"action\":\"Push\",\"principal\":\"*\"}]}", "\"policy[0].action\""},
        {"{" INST "," PRIN ",\"policy\":[{\"action\":\"OpenTunnel\",\"principal\":\"*\",\"os_user\":\"*\"}]}",
         "\"policy[0].os_user\""},
        {"{" INST "," PRIN ",\"policy\":[{\"action\":\"OpenTunnel\",\"principal\":\"*\"}]}",
         "\"policy[0].instance_connect_endpoint\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":{}}", "\"instance_connect_endpoints\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-1\"}]}",
         "\"instance_connect_endpoints[0].id\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"vpc_id\":\"vpc-0123456789abcdef0\"}]}",
         "\"instance_connect_endpoints[0].id\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\",\"state\":\"ready\"}]}",
         "\"instance_connect_endpoints[0].state\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\",\"remote_ports\":[0]}]}",
         "\"instance_connect_endpoints[0].remote_ports[0]\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\",\"remote_ports\":[]}]}",
         "\"instance_connect_endpoints[0].remote_ports\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\",\"dns_name\":\"a b\"}]}",
         "\"instance_connect_endpoints[0].dns_name\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\",\"port\":22}]}",
         "\"instance_connect_endpoints[0].port\""},
        {"{" INST "," PRIN ",\"instance_connect_endpoints\":[{\"id\":\"eice-0123456789abcdef0\"},"
         "{\"id\":\"eice-0123456789abcdef0\"}]}",
         "\"instance_connect_endpoints[1].id\""},
        {"{\"instance\":{\"id\":\"i-0123456789abcdef0\",\"availability_zone\":\"us-east-1a\",\"account_id\":"
         "\"111122223333\",\"vpc_id\":\"vpc-x\"}," PRIN "}",
         "\"instance.vpc_id\""},
        /* sso-oidc's clients and the users' refresh tokens. */
        {"{" INST "," PRIN ",\"sso_oidc_clients\":{}}", "\"sso_oidc_clients\""},
        {"{" INST "," PRIN ",\"sso_oidc_clients\":[{\"client_id\":\"c\"}]}", "\"sso_oidc_clients[0].client_secret\""},
        {"{" INST "," PRIN ",\"sso_oidc_clients\":[{\"client_id\":\"c d\",\"client_secret\":\"s\"}]}",
         "\"sso_oidc_clients[0]\""},
        {"{" INST "," PRIN ",\"sso_oidc_clients\":[{\"client_id\":\"c\",\"client_secret\":\"s\",\"x\":1}]}",
         "\"sso_oidc_clients[0].x\""},
        {"{" INST "," PRIN ",\"sso_users\":[{\"name\":\"jdoe\",\"access_tokens\":[\"t\"],\"refresh_tokens\":[]}]}",
         "\"sso_users[0].refresh_tokens\""},
    };
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct emu_world *w = NULL;
        int ret;

        err[0] = '\0';
        ret = emu_world_parse("w.json", cases[i].json, strlen(cases[i].json), &w, err, sizeof(err));
        if (ret != EINVAL || strstr(err, cases[i].want) == NULL || strncmp(err, "w.json: ", 8) != 0) {
            fail_msg("case %zu: ret %d, message '%s', want one naming %s", i, ret, err, cases[i].want);
        }
        assert_null(w);
    }
}

static void test_world_load_missing(void **state)
{
    struct emu_world *w = NULL;
    char err[256];

    (void)state;
    assert_int_equal(emu_world_load("/nonexistent/world.json", &w, err, sizeof(err)), ENOENT);
    assert_non_null(strstr(err, "/nonexistent/world.json"));
    assert_int_equal(emu_world_load("/tmp", &w, err, sizeof(err)), EINVAL);
    assert_null(w);
}

/* --- faults ----------------------------------------------------------------------------------- */

static void test_fault_parse(void **state)
{
    static const char *const good[] = {
        "/x=delay:0", "/x=delay:600000", "/=status:429", "/x=status:100", "/x=status:599", "/x=hang",
        "/x=truncate", "/x=oversize", "/latest/*=hang", "/a=b=hang", "/x=oversize:1024", "/x=oversize:67108864",
        "/x=oversize-chunked", "/x=oversize-chunked:10485760", "/x=garbage",
    };
    static const char *const bad[] = {
        "", "x=hang", "=hang", "/x", "/x=", "/x=delay", "/x=delay:", "/x=delay:-1", "/x=delay:600001",
        "/x=delay: 5", "/x=delay:5ms", "/x=status:99", "/x=status:600", "/x=status", "/x=hang:1",
        "/x=oversize:2", "/x=nap", "/*x=hang", "/a*b=hang", "/x=oversize:1023", "/x=oversize:67108865",
        "/x=oversize:", "/x=oversize-chunked:1k", "/x=garbage:1", "/x=oversized",
    };
    struct emu_fault f;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (emu_fault_parse(good[i], &f, err, sizeof(err)) != 0) {
            fail_msg("'%s' refused: %s", good[i], err);
        }
        emu_fault_clear(&f);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (emu_fault_parse(bad[i], &f, err, sizeof(err)) != EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

static void test_fault_match(void **state)
{
    struct emu_fault faults[3];
    char err[256];

    (void)state;
    assert_int_equal(emu_fault_parse("/latest/meta-data/placement/*=delay:5", &faults[0], err, sizeof(err)), 0);
    assert_int_equal(emu_fault_parse("/latest/meta-data/placement/*=status:503", &faults[1], err, sizeof(err)), 0);
    assert_int_equal(emu_fault_parse("/latest/api/token=hang", &faults[2], err, sizeof(err)), 0);
    assert_true(emu_fault_matches(&faults[0], "/latest/meta-data/placement/"));
    assert_true(emu_fault_matches(&faults[0], "/latest/meta-data/placement/region"));
    assert_false(emu_fault_matches(&faults[0], "/latest/meta-data/placement"));
    assert_true(emu_fault_matches(&faults[2], "/latest/api/token"));
    assert_false(emu_fault_matches(&faults[2], "/latest/api/token/"));
    /* The delay is skipped: the first non-delay fault decides. */
    assert_ptr_equal(emu_fault_find_final(faults, 3, "/latest/meta-data/placement/region"), &faults[1]);
    assert_ptr_equal(emu_fault_find_final(faults, 3, "/latest/api/token"), &faults[2]);
    assert_null(emu_fault_find_final(faults, 3, "/"));
    for (size_t i = 0; i < 3; i++) {
        emu_fault_clear(&faults[i]);
    }
}

/* --- sso-oidc ---------------------------------------------------------------------------------- */

/* CreateToken with body against a world of one client and one user with a refresh token. */
static unsigned int create_token(const char *method, const char *body, struct emu_reply *reply)
{
    static const char world[] = "{" INST "," PRIN ",\"sso_users\":[{\"name\":\"jdoe\",\"access_tokens\":[\"at-1\","
                                "\"at-2\"],\"refresh_tokens\":[\"rt-1\"]}],\"sso_oidc_clients\":[{\"client_id\":"
                                "\"cid\",\"client_secret\":\"csecret\"}]}";
    struct emu_request req = {
        .method = method, .path = EMU_SSO_OIDC_PATH, .query = "", .body = body, .body_len = strlen(body),
        .remote = "test",
    };
    struct emu_server srv = fx.srv;
    struct emu_world *w = NULL;
    char err[256];

    assert_int_equal(emu_world_parse("w.json", world, strlen(world), &w, err, sizeof(err)), 0);
    srv.world = w;
    emu_reply_init(reply);
    assert_true(emu_sso_oidc_request(&req));
    assert_int_equal(emu_sso_oidc_handle(&srv, &req, reply), 0);
    emu_world_free(w);
    return reply->status;
}

/* The reply's body, NUL-terminated (in a static buffer). */
static const char *body_of(const struct emu_reply *reply)
{
    static char text[1024];

    snprintf(text, sizeof(text), "%.*s", (int)reply->body.len, reply->body.data ? reply->body.data : "");
    return text;
}

static void expect_oidc_error(const char *method, const char *body, unsigned int status, const char *type,
                              const char *error)
{
    struct emu_reply reply;

    assert_int_equal(create_token(method, body, &reply), status);
    assert_string_equal(reply.headers[0].name, "x-amzn-ErrorType");
    assert_string_equal(reply.headers[0].value, type);
    assert_non_null(strstr(body_of(&reply), error));
    assert_non_null(strstr(body_of(&reply), "\"error_description\":"));
    emu_reply_free(&reply);
}

static void test_sso_oidc_create_token(void **state)
{
    struct emu_reply reply;

    (void)state;
    assert_int_equal(create_token("POST", "{\"clientId\":\"cid\",\"clientSecret\":\"csecret\",\"grantType\":"
                                  "\"refresh_token\",\"refreshToken\":\"rt-1\"}", &reply), 200);
    assert_string_equal(body_of(&reply), "{\"accessToken\":\"at-1\",\"expiresIn\":28800,\"refreshToken\":\"rt-1\","
                                         "\"tokenType\":\"Bearer\"}");
    emu_reply_free(&reply);
    expect_oidc_error("POST", "{\"clientId\":\"cid\",\"clientSecret\":\"wrong\",\"grantType\":\"refresh_token\","
                      "\"refreshToken\":\"rt-1\"}", 401, "InvalidClientException", "\"error\":\"invalid_client\"");
    expect_oidc_error("POST", "{\"clientId\":\"other\",\"clientSecret\":\"csecret\",\"grantType\":\"refresh_token\","
                      "\"refreshToken\":\"rt-1\"}", 401, "InvalidClientException", "\"error\":\"invalid_client\"");
    expect_oidc_error("POST", "{\"clientId\":\"cid\",\"clientSecret\":\"csecret\",\"grantType\":\"refresh_token\","
                      "\"refreshToken\":\"rt-2\"}", 400, "InvalidGrantException", "\"error\":\"invalid_grant\"");
    expect_oidc_error("POST", "{\"clientId\":\"cid\",\"clientSecret\":\"csecret\",\"grantType\":\"refresh_token\"}",
                      400, "InvalidGrantException", "\"error\":\"invalid_grant\"");
    expect_oidc_error("POST", "{\"clientId\":\"cid\",\"clientSecret\":\"csecret\",\"grantType\":\"authorization_code\","
                      "\"code\":\"c\"}", 400, "UnsupportedGrantTypeException", "unsupported_grant_type");
    expect_oidc_error("POST", "not json", 400, "InvalidRequestException", "invalid_request");
    expect_oidc_error("GET", "", 400, "InvalidRequestException", "invalid_request");
}

/* --- IMDS ------------------------------------------------------------------------------------- */

/* Run one request through the IMDS handler. */
static unsigned int imds(const char *method, const char *path, const struct emu_header *headers, size_t n,
                         struct emu_reply *reply)
{
    struct emu_request req = {
        .method = method, .path = path, .query = "", .headers = headers, .n_headers = n, .remote = "test",
    };

    emu_reply_init(reply);
    assert_int_equal(emu_imds_handle(&fx.srv, &req, reply), 0);
    return reply->status;
}

static void get_token(char token[64])
{
    struct emu_header h = {"X-aws-ec2-metadata-token-ttl-seconds", "60"};
    struct emu_reply reply;

    assert_int_equal(imds("PUT", "/latest/api/token", &h, 1, &reply), 200);
    assert_true(reply.body.len == 43 && strspn(reply.body.data,
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    memcpy(token, reply.body.data, 44);
    emu_reply_free(&reply);
}

static void test_tokens(void **state)
{
    struct emu_tokens *t = NULL;
    char a[64];
    char b[64];

    (void)state;
    assert_int_equal(emu_tokens_new(&t), 0);
    assert_int_equal(emu_tokens_issue(t, 1, a), 0);
    assert_int_equal(emu_tokens_issue(t, 60, b), 0);
    assert_string_not_equal(a, b);
    assert_true(emu_tokens_valid(t, a));
    assert_true(emu_tokens_valid(t, b));
    assert_false(emu_tokens_valid(t, ""));
    b[5] = b[5] == 'A' ? 'B' : 'A';
    assert_false(emu_tokens_valid(t, b));
    usleep(1100 * 1000);
    assert_false(emu_tokens_valid(t, a)); /* expired */
    /* More than the table holds: the oldest give way, the newest stays valid. */
    for (int i = 0; i < EMU_IMDS_MAX_TOKENS + 10; i++) {
        assert_int_equal(emu_tokens_issue(t, 60, a), 0);
    }
    assert_true(emu_tokens_valid(t, a));
    emu_tokens_free(t);
}

static void test_imds_token_rules(void **state)
{
    static const char *const bad_ttl[] = {"0", "21601", "-1", "abc", "", "1e3", "007x", "100000"};
    struct emu_reply reply;
    struct emu_header h[2] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}, {"X-Forwarded-For", "1.2.3.4"}};

    (void)state;
    assert_int_equal(imds("PUT", "/latest/api/token", h, 1, &reply), 200);
    assert_string_equal(reply.headers[0].name, "X-aws-ec2-metadata-token-ttl-seconds");
    assert_string_equal(reply.headers[0].value, "21600");
    emu_reply_free(&reply);
    assert_int_equal(imds("PUT", "/latest/api/token", h, 2, &reply), 403);
    emu_reply_free(&reply);
    assert_int_equal(imds("PUT", "/latest/api/token", NULL, 0, &reply), 400);
    emu_reply_free(&reply);
    for (size_t i = 0; i < sizeof(bad_ttl) / sizeof(bad_ttl[0]); i++) {
        h[0].value = bad_ttl[i];
        if (imds("PUT", "/latest/api/token", h, 1, &reply) != 400) {
            fail_msg("TTL '%s' accepted", bad_ttl[i]);
        }
        emu_reply_free(&reply);
    }
    assert_int_equal(imds("GET", "/latest/api/token", NULL, 0, &reply), 405);
    emu_reply_free(&reply);
}

static void expect_get(const char *path, unsigned int status, const char *body)
{
    char token[64];
    struct emu_header h = {"X-aws-ec2-metadata-token", token};
    struct emu_reply reply;

    get_token(token);
    if (imds("GET", path, &h, 1, &reply) != status) {
        fail_msg("GET %s: %u, want %u", path, reply.status, status);
    }
    if (body != NULL && strcmp(reply.body.data ? reply.body.data : "", body) != 0) {
        fail_msg("GET %s: body '%s', want '%s'", path, reply.body.data, body);
    }
    emu_reply_free(&reply);
}

static void test_imds_paths(void **state)
{
    struct emu_reply reply;
    struct emu_header h = {"X-aws-ec2-metadata-token", "not-a-token"};

    (void)state;
    assert_int_equal(imds("GET", "/latest/meta-data/instance-id", NULL, 0, &reply), 401);
    emu_reply_free(&reply);
    assert_int_equal(imds("GET", "/latest/meta-data/instance-id", &h, 1, &reply), 401);
    emu_reply_free(&reply);
    expect_get("/latest/meta-data/", 200, "instance-id\nmanaged-ssh-keys/\nplacement/\nservices/");
    expect_get("/latest/meta-data", 200, "instance-id\nmanaged-ssh-keys/\nplacement/\nservices/");
    expect_get("/latest/meta-data/instance-id", 200, INSTANCE);
    expect_get("/latest/meta-data/placement/region", 200, "us-east-1");
    expect_get("/latest/meta-data/placement/availability-zone", 200, "us-east-1a");
    expect_get("/latest/meta-data/services/domain", 200, "amazonaws.com");
    expect_get("/latest/meta-data/managed-ssh-keys", 200, "active-keys/\nsigner-cert/\nsigner-ocsp/");
    expect_get("/latest/meta-data/managed-ssh-keys/signer-cert/", 200, fx.pki->chain_pem);
    expect_get("/latest/meta-data/managed-ssh-keys/signer-ocsp/ABC", 404, NULL);
    expect_get("/latest/meta-data/managed-ssh-keys/active-keys/nobody/", 404, NULL);
    expect_get("/latest/meta-data/managed-ssh-keys/active-keys/a/b", 404, NULL);
    /* A leaf answers with a trailing slash as well (AWS's eic_curl_authorized_keys asks so). */
    expect_get("/latest/meta-data/instance-id/", 200, INSTANCE);
    expect_get("/latest/meta-data/placement/availability-zone/", 200, "us-east-1a");
    expect_get("/latest/meta-data/services/domain/", 200, "amazonaws.com");
    expect_get("/latest/meta-data/instance-id//", 404, NULL);
    expect_get("/latest/meta-data/%2e%2e/instance-id", 404, NULL);
    expect_get("/latest/", 404, NULL);
    if (fx.pki->n_ocsp > 0) {
        char path[128];

        snprintf(path, sizeof(path), "/latest/meta-data/managed-ssh-keys/signer-ocsp/%s", fx.pki->ocsp[0].name);
        expect_get(path, 200, fx.pki->ocsp[0].der_b64);
        snprintf(path, sizeof(path), "/latest/meta-data/managed-ssh-keys/signer-ocsp/%s/", fx.pki->ocsp[0].name);
        expect_get(path, 200, fx.pki->ocsp[0].der_b64);
    }
    /* IMDSv1 allowed: no token is fine, a bad one is still refused. */
    fx.world->imdsv2_required = false;
    assert_int_equal(imds("GET", "/latest/meta-data/instance-id", NULL, 0, &reply), 200);
    emu_reply_free(&reply);
    assert_int_equal(imds("GET", "/latest/meta-data/instance-id", &h, 1, &reply), 401);
    emu_reply_free(&reply);
    fx.world->imdsv2_required = true;
}

/* --- push API --------------------------------------------------------------------------------- */

struct signed_req {
    char amz_date[EIC_SIGV4_AMZ_DATE_LEN + 1];
    char *authorization;
    struct emu_header headers[5];
    struct emu_request req;
};

/* A SendSSHPublicKey request signed with eic_sigv4 (as the eic client signs it). */
static void sign_push(struct signed_req *s, const char *body, const char *secret, long long when)
{
    struct eic_sigv4_header sh[4];
    struct eic_sigv4_request sreq = {0};
    struct eic_sigv4_scope scope = {0};

    eic_sigv4_format_amz_date(when, s->amz_date);
    sh[0] = (struct eic_sigv4_header){"content-type", "application/x-amz-json-1.1"};
    sh[1] = (struct eic_sigv4_header){"host", "127.0.0.1:8169"};
    sh[2] = (struct eic_sigv4_header){"x-amz-date", s->amz_date};
    sh[3] = (struct eic_sigv4_header){"x-amz-target", TARGET};
    sreq.method = "POST";
    sreq.path = "/";
    sreq.query = "";
    sreq.headers = sh;
    sreq.n_headers = 4;
    sreq.body = body;
    sreq.body_len = strlen(body);
    scope.amz_date = s->amz_date;
    scope.region = "us-east-1";
    scope.service = "ec2-instance-connect";
    assert_int_equal(eic_sigv4_authorization(&sreq, &scope, ALICE_AK, secret, &s->authorization), 0);
    s->headers[0] = (struct emu_header){"Content-Type", "application/x-amz-json-1.1"};
    s->headers[1] = (struct emu_header){"Host", "127.0.0.1:8169"};
    s->headers[2] = (struct emu_header){"X-Amz-Date", s->amz_date};
    s->headers[3] = (struct emu_header){"X-Amz-Target", TARGET};
    s->headers[4] = (struct emu_header){"Authorization", s->authorization};
    s->req = (struct emu_request){
        .method = "POST", .path = "/", .query = "", .headers = s->headers, .n_headers = 5, .body = body,
        .body_len = strlen(body), .remote = "test",
    };
}

static unsigned int push(struct signed_req *s, struct emu_reply *reply, const char *want_type)
{
    emu_reply_init(reply);
    assert_int_equal(emu_push_handle(&fx.srv, &s->req, reply), 0);
    assert_string_equal(reply->content_type, EMU_JSON_TYPE);
    if (want_type != NULL && strstr(reply->body.data, want_type) == NULL) {
        fail_msg("body %s lacks %s", reply->body.data, want_type);
    }
    free(s->authorization);
    s->authorization = NULL;
    return reply->status;
}

#define BODY(user, key) "{\"InstanceId\":\"" INSTANCE "\",\"InstanceOSUser\":\"" user "\",\"SSHPublicKey\":\"" key "\"}"

static void test_push_accepted_and_stored(void **state)
{
    struct signed_req s;
    struct emu_reply reply;
    struct eic_buf records;
    char expect[256];

    (void)state;
    sign_push(&s, BODY("unit", KEY_ED25519), ALICE_SK, time(NULL));
    assert_int_equal(push(&s, &reply, "\"Success\":true"), 200);
    assert_string_equal(reply.headers[0].name, "x-amzn-RequestId");
    snprintf(expect, sizeof(expect), "{\"RequestId\":\"%s\",\"Success\":true}", reply.headers[0].value);
    assert_string_equal(reply.body.data, expect);
    eic_buf_init(&records, EMU_MAX_REPLY);
    assert_int_equal(emu_record_store_render(fx.store, "unit", time(NULL), &records), 0);
    assert_non_null(strstr(records.data, "#Caller=arn:aws:iam::111122223333:user/alice\n"));
    assert_non_null(strstr(records.data, "#Instance=" INSTANCE "\n"));
    assert_non_null(strstr(records.data, "\n" KEY_ED25519 "\n"));
    snprintf(expect, sizeof(expect), "#Request=%s\n", reply.headers[0].value);
    assert_non_null(strstr(records.data, expect));
    eic_buf_free(&records);
    emu_reply_free(&reply);
    expect_get("/latest/meta-data/managed-ssh-keys/active-keys/", 200, "unit");
}

static void test_push_refusals(void **state)
{
    struct signed_req s;
    struct emu_reply reply;

    (void)state;
    /* Wrong secret, stale date, a body changed after signing. */
    sign_push(&s, BODY("unit", KEY_ED25519), "wrong", time(NULL));
    assert_int_equal(push(&s, &reply, "AuthException"), 400);
    emu_reply_free(&reply);
    sign_push(&s, BODY("unit", KEY_ED25519), ALICE_SK, time(NULL) - 301);
    assert_int_equal(push(&s, &reply, "AuthException"), 400);
    emu_reply_free(&reply);
    sign_push(&s, BODY("unit", KEY_ED25519), ALICE_SK, time(NULL));
    s.req.body = BODY("root", KEY_ED25519);
    s.req.body_len = strlen(s.req.body);
    assert_int_equal(push(&s, &reply, "AuthException"), 400);
    emu_reply_free(&reply);
    /* Signed, but wrong in content. */
    sign_push(&s, "{\"InstanceId\":", ALICE_SK, time(NULL));
    assert_int_equal(push(&s, &reply, "SerializationException"), 400);
    emu_reply_free(&reply);
    sign_push(&s, BODY("123", KEY_ED25519), ALICE_SK, time(NULL)); /* digits only: neither pattern */
    assert_int_equal(push(&s, &reply, "InvalidArgsException"), 400);
    emu_reply_free(&reply);
    sign_push(&s, "{\"InstanceId\":\"i-0aaaaaaaaaaaaaaaa\",\"InstanceOSUser\":\"unit\",\"SSHPublicKey\":\"" KEY_ED25519 "\"}",
              ALICE_SK, time(NULL));
    assert_int_equal(push(&s, &reply, "EC2InstanceNotFoundException"), 400);
    emu_reply_free(&reply);
    /* Another operation, another path. */
    sign_push(&s, BODY("unit", KEY_ED25519), ALICE_SK, time(NULL));
    s.headers[3].value = "AWSEC2InstanceConnectService.Other";
    assert_int_equal(push(&s, &reply, "UnknownOperationException"), 400);
    emu_reply_free(&reply);
    sign_push(&s, BODY("unit", KEY_ED25519), ALICE_SK, time(NULL));
    s.req.path = "/x";
    assert_int_equal(push(&s, &reply, "UnknownOperationException"), 404);
    emu_reply_free(&reply);
}

/* With fixed_now set (the fuzzer's setting) every handler judges at that instant: the signature
 * date, the expiry written into the record, the records listed. */
static void test_fixed_clock(void **state)
{
    const long long fixed = 1732400000; /* 2024-11-23T22:13:20Z */
    struct signed_req s;
    struct emu_reply reply;
    struct eic_buf records;
    char expiry[64];
    long long before, now;

    (void)state;
    fx.srv.fixed_now = fixed;
    assert_int_equal(emu_server_now(&fx.srv), fixed);
    sign_push(&s, BODY("clock", KEY_ED25519), ALICE_SK, time(NULL));
    assert_int_equal(push(&s, &reply, "AuthException"), 400);
    assert_non_null(strstr(reply.body.data, "server time 20241123T221320Z"));
    emu_reply_free(&reply);
    sign_push(&s, BODY("clock", KEY_ED25519), ALICE_SK, fixed + 299);
    assert_int_equal(push(&s, &reply, "\"Success\":true"), 200);
    emu_reply_free(&reply);
    eic_buf_init(&records, EMU_MAX_REPLY);
    assert_int_equal(emu_record_store_render(fx.store, "clock", fixed, &records), 0);
    snprintf(expiry, sizeof(expiry), "#Timestamp=%lld\n", fixed + 60);
    assert_non_null(strstr(records.data, expiry));
    eic_buf_free(&records);
    fx.srv.fixed_now = 0;
    before = (long long)time(NULL);
    now = emu_server_now(&fx.srv);
    assert_true(now >= before && now <= (long long)time(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_world_default),
        cmocka_unit_test(test_world_policy_default_and_empty),
        cmocka_unit_test(test_world_errors_name_the_key),
        cmocka_unit_test(test_world_load_missing),
        cmocka_unit_test(test_sso_oidc_create_token),
        cmocka_unit_test(test_fault_parse),
        cmocka_unit_test(test_fault_match),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_imds_token_rules),
        cmocka_unit_test(test_imds_paths),
        cmocka_unit_test(test_push_accepted_and_stored),
        cmocka_unit_test(test_push_refusals),
        cmocka_unit_test(test_fixed_clock),
    };

    /* Refusals are logged; keep them out of the TAP output. */
    eic_log_open("test_emu_handlers", "/dev/null", 0);
    return cmocka_run_group_tests(tests, setup, teardown);
}
