/* The eicd socket protocol (lib/base/eic_proto.c): messages that encode and decode back, every
 * malformed message refused, receiving with limits and deadlines over a socketpair, and the
 * client call against no service and against a one-request server. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "eic_proto.h"
#include "eic_time.h"

static void test_round_trip(void **state)
{
    const char *fields[] = {"alice", "", "SHA256:abc"};
    struct eic_proto_msg msg;
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_int_equal(eic_proto_encode(EIC_REQ_KEYS, fields, 3, EIC_PROTO_REQUEST_MAX, &buf, &len), 0);
    assert_int_equal(len, 8 + 2 + 5 + 2 + 0 + 2 + 10);
    assert_memory_equal(buf, "\0\0\0\x1d\0\x01\0\x01\0\x05" "alice", 15);
    assert_int_equal(eic_proto_decode(buf, len, 3, &msg), 0);
    assert_int_equal(msg.code, EIC_REQ_KEYS);
    assert_int_equal(msg.n_fields, 3);
    assert_string_equal(msg.fields[0], "alice");
    assert_string_equal(msg.fields[1], "");
    assert_string_equal(msg.fields[2], "SHA256:abc");
    eic_proto_msg_free(&msg);
    /* More fields than the reader takes: refused, nothing allocated. */
    assert_int_equal(eic_proto_decode(buf, len, 2, &msg), EBADMSG);
    assert_null(msg.fields);
    free(buf);

    /* No field at all. */
    assert_int_equal(eic_proto_encode(7, NULL, 0, EIC_PROTO_REQUEST_MAX, &buf, &len), 0);
    assert_int_equal(eic_proto_decode(buf, len, 0, &msg), 0);
    assert_int_equal(msg.code, 7);
    assert_int_equal(msg.n_fields, 0);
    free(buf);
}

static void test_encode_limits(void **state)
{
    char *big = malloc(70000);
    const char *fields[1] = {big};
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 1;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    /* A field longer than its 2-byte length can say, and a message over the limit. */
    assert_int_equal(eic_proto_encode(1, fields, 1, SIZE_MAX, &buf, &len), EMSGSIZE);
    assert_null(buf);
    assert_int_equal(len, 0);
    big[5000] = '\0';
    assert_int_equal(eic_proto_encode(1, fields, 1, EIC_PROTO_REQUEST_MAX, &buf, &len), EMSGSIZE);
    assert_int_equal(eic_proto_encode(1, fields, 1, EIC_PROTO_RESPONSE_MAX, &buf, &len), 0);
    free(buf);
    free(big);
}

static void test_malformed(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\0\0\0\x08\0\x01\0", 7},                    /* shorter than a header */
        {"\0\0\0\x08\0\x02\0\x01", 8},                /* version 2 */
        {"\0\0\0\x07\0\x01\0\x01", 8},                /* length below the header's */
        {"\0\0\0\x09\0\x01\0\x01", 8},                /* length beyond the bytes */
        {"\0\0\0\x0b\0\x01\0\x01\0\x08" "a", 11},     /* a field past the end */
        {"\0\0\0\x09\0\x01\0\x01\0", 9},              /* half a field length */
        {"\0\0\0\x0d\0\x01\0\x01\0\x03" "a\0b", 13}, /* a NUL in a field */
    };
    struct eic_proto_msg msg;
    size_t total;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eic_proto_decode((const uint8_t *)bad[i].bytes, bad[i].len, 8, &msg), EBADMSG);
        assert_int_equal(msg.n_fields, 0);
    }
    assert_int_equal(eic_proto_check_header((const uint8_t *)"\0\0\x10\x01\0\x01\0\x01", EIC_PROTO_REQUEST_MAX,
                                            &total),
                     EMSGSIZE);
    assert_int_equal(eic_proto_check_header((const uint8_t *)"\xff\xff\xff\xff\0\x01\0\x01", SIZE_MAX, &total), 0);
    assert_int_equal(total, 0xffffffffu);
}

static void test_recv(void **state)
{
    const char *fields[] = {"bob"};
    uint8_t *msg;
    uint8_t *got;
    size_t len;
    size_t got_len;
    int sv[2];

    (void)state;
    assert_int_equal(eic_proto_encode(EIC_REQ_RESOLVE, fields, 1, EIC_PROTO_REQUEST_MAX, &msg, &len), 0);

    /* In two pieces: one message. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write(sv[0], msg, 5), 5);
    assert_int_equal(write(sv[0], msg + 5, len - 5), (ssize_t)(len - 5));
    assert_int_equal(eic_proto_recv(sv[1], EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 1000, &got, &got_len), 0);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, msg, len);
    free(got);

    /* Half a message, then nothing: the deadline ends the wait. */
    assert_int_equal(write(sv[0], msg, len - 1), (ssize_t)(len - 1));
    assert_int_equal(eic_proto_recv(sv[1], EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 100, &got, &got_len),
                     ETIMEDOUT);
    assert_null(got);
    close(sv[0]);
    close(sv[1]);

    /* Closed before a whole message; a header announcing too much. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write(sv[0], msg, 3), 3);
    close(sv[0]);
    assert_int_equal(eic_proto_recv(sv[1], EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 1000, &got, &got_len),
                     ECONNRESET);
    close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write(sv[0], "\0\x10\0\0\0\x01\0\x01", 8), 8);
    assert_int_equal(eic_proto_recv(sv[1], EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 1000, &got, &got_len),
                     EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
    free(msg);
}

/* A server for one request: answers code 0 with the request's fields reversed. */
static void *answer_once(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    struct eic_proto_msg req;
    const char *fields[2];
    uint8_t *in = NULL;
    uint8_t *out = NULL;
    size_t in_len;
    size_t out_len;

    assert_true(fd >= 0);
    assert_int_equal(eic_proto_recv(fd, EIC_PROTO_REQUEST_MAX, eic_monotonic_ms() + 5000, &in, &in_len), 0);
    assert_int_equal(eic_proto_decode(in, in_len, 2, &req), 0);
    assert_int_equal(req.n_fields, 2);
    fields[0] = req.fields[1];
    fields[1] = req.fields[0];
    assert_int_equal(eic_proto_encode(0, fields, 2, EIC_PROTO_RESPONSE_MAX, &out, &out_len), 0);
    assert_int_equal(eic_proto_send(fd, out, out_len, eic_monotonic_ms() + 5000), 0);
    eic_proto_msg_free(&req);
    free(in);
    free(out);
    close(fd);
    return NULL;
}

static void test_call(void **state)
{
    char dir[] = "/tmp/eic-proto-test.XXXXXX";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *fields[] = {"alice", "SHA256:x"};
    struct eic_proto_msg answer;
    pthread_t tid;
    int lfd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
    /* Nothing there: ENOENT at once (the AKC then checks by itself). */
    assert_int_equal(eic_proto_call(sa.sun_path, EIC_REQ_KEYS, fields, 2, eic_monotonic_ms() + 1000, &answer),
                     ENOENT);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(pthread_create(&tid, NULL, answer_once, &lfd), 0);
    assert_int_equal(eic_proto_call(sa.sun_path, EIC_REQ_KEYS, fields, 2, eic_monotonic_ms() + 5000, &answer), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(answer.code, 0);
    assert_int_equal(answer.n_fields, 2);
    assert_string_equal(answer.fields[0], "SHA256:x");
    assert_string_equal(answer.fields[1], "alice");
    eic_proto_msg_free(&answer);
    /* Listening, but nobody accepts or answers: the deadline ends the call. */
    assert_int_equal(eic_proto_call(sa.sun_path, EIC_REQ_KEYS, fields, 2, eic_monotonic_ms() + 100, &answer),
                     ETIMEDOUT);
    close(lfd);
    /* Bound but no longer listening: refused. */
    assert_int_equal(eic_proto_call(sa.sun_path, EIC_REQ_KEYS, fields, 2, eic_monotonic_ms() + 1000, &answer),
                     ECONNREFUSED);
    unlink(sa.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_encode_limits), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_recv),       cmocka_unit_test(test_call),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
