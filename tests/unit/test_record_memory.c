/* eic_record_memory: what eicd gives back without IMDS, and when it refuses to. Times are passed
 * in, so every bound is tested at its edge without waiting. Run under ASan and valgrind by the
 * sanitizer suites: every copy given out and every record forgotten must be freed exactly once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eic_record_memory.h"

#define NOW 1732400000LL /* Unix seconds of the "fetch" */
#define T0 5000000ULL    /* monotonic ms of the "fetch" */
#define GEN 7
#define FP_A "SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* One verdict as eic_keyrecords_verify makes them (its strings malloc'd). */
static void make_verdict(struct eic_record_verdict *v, enum eic_record_status status, const char *fp,
                         const char *caller, long long expires)
{
    char key[96];

    memset(v, 0, sizeof(*v));
    v->status = status;
    v->detail = status == EIC_RECORD_ACCEPTED ? "accepted" : "refused";
    snprintf(v->fingerprint, sizeof(v->fingerprint), "%s", fp);
    snprintf(key, sizeof(key), "ssh-ed25519 AAAA%s", fp + 7);
    v->key = strdup(key);
    v->caller = caller != NULL ? strdup(caller) : NULL;
    v->request_id = strdup("2d1b0a6e-0000-4000-8000-000000000000");
    v->expires = expires;
    assert_non_null(v->key);
}

/* Free what make_verdict allocated (the array itself is the test's). */
static void release(struct eic_record_verdict *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].caller);
        free(v[i].request_id);
        memset(&v[i], 0, sizeof(v[i]));
    }
}

static struct eic_record_memory *new_memory(void)
{
    struct eic_record_memory *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    return m;
}

static void free_memory(struct eic_record_memory *m)
{
    eic_record_memory_clear(m);
    free(m);
}

/* How many records (user, fp) gives back at (now_s, now_ms) under generation; -1: none. */
static int answered(struct eic_record_memory *m, const char *user, const char *fp, uint64_t generation,
                    long long now_s, uint64_t now_ms)
{
    struct eic_record_verdict *v = NULL;
    size_t n = 0;
    uint64_t age;
    int ret;

    ret = eic_record_memory_get(m, user, fp, generation, now_s, now_ms, &v, &n, &age);
    if (ret == ENOENT) {
        assert_null(v);
        return -1;
    }
    assert_int_equal(ret, 0);
    assert_true(n > 0);
    assert_int_equal(age, now_ms - T0);
    eic_keyrecords_free(v, n);
    return (int)n;
}

static void test_answer_is_a_deep_copy(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[1];
    struct eic_record_verdict *out = NULL;
    size_t n = 0;
    uint64_t age = 0;

    (void)state;
    make_verdict(&in[0], EIC_RECORD_ACCEPTED, FP_A, "arn:aws:iam::111122223333:user/alice", NOW + 60);
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, GEN, T0), 0);
    /* What the fetch returned is the caller's to free: the memory keeps its own copy. */
    release(in, 1);

    assert_int_equal(eic_record_memory_get(m, "alice", FP_A, GEN, NOW + 1, T0 + 1500, &out, &n, &age), 0);
    assert_int_equal(n, 1);
    assert_int_equal(age, 1500);
    assert_int_equal(out[0].status, EIC_RECORD_ACCEPTED);
    assert_string_equal(out[0].fingerprint, FP_A);
    assert_string_equal(out[0].key, "ssh-ed25519 AAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(out[0].caller, "arn:aws:iam::111122223333:user/alice");
    assert_string_equal(out[0].request_id, "2d1b0a6e-0000-4000-8000-000000000000");
    assert_true(out[0].expires == NOW + 60);
    eic_keyrecords_free(out, n);
    /* Given out, not given away: asked again, it answers again. */
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 2, T0 + 2000), 1);
    /* Another user, another key: not remembered. */
    assert_int_equal(answered(m, "bob", FP_A, GEN, NOW + 2, T0 + 2000), -1);
    assert_int_equal(answered(m, "alice", FP_B, GEN, NOW + 2, T0 + 2000), -1);
    free_memory(m);
}

static void test_other_signer_generation_not_answered(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[1];

    (void)state;
    make_verdict(&in[0], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 60);
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN + 1, NOW, T0), -1);
    /* ... and forgotten on the way: the old generation does not bring it back. */
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    /* Judged with no kept signer (generation 0): never remembered, never answered. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, 0, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, 0, NOW, T0), -1);
    release(in, 1);
    free_memory(m);
}

static void test_age_bound(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[1];

    (void)state;
    /* A record valid for an hour is still given back for EIC_RECORD_MEMORY_MAX_AGE_MS only. */
    make_verdict(&in[0], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 3600);
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 59, T0 + EIC_RECORD_MEMORY_MAX_AGE_MS - 1), 1);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 60, T0 + EIC_RECORD_MEMORY_MAX_AGE_MS), -1);
    /* A monotonic time before the fetch: an unknown age is too old. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0 - 1), -1);
    release(in, 1);
    free_memory(m);
}

static void test_expired_record_never_answered(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[2];
    struct eic_record_verdict *out = NULL;
    size_t n = 0;
    uint64_t age;

    (void)state;
    /* The same key pushed twice: one record expires 10 s after the fetch, the other 40 s. */
    make_verdict(&in[0], EIC_RECORD_ACCEPTED, FP_A, "arn:aws:iam::111122223333:user/early", NOW + 10);
    make_verdict(&in[1], EIC_RECORD_ACCEPTED, FP_A, "arn:aws:iam::111122223333:user/late", NOW + 40);
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, in, 2, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 9, T0 + 9000), 2);
    /* eic_keyrecords' rule: valid while #Timestamp > now; at #Timestamp it has expired. */
    assert_int_equal(eic_record_memory_get(m, "alice", FP_A, GEN, NOW + 10, T0 + 10000, &out, &n, &age), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].caller, "arn:aws:iam::111122223333:user/late");
    eic_keyrecords_free(out, n);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 39, T0 + 39000), 1);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 40, T0 + 40000), -1);
    /* The wall clock gone forward while the monotonic one did not: still expired. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, in, 2, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW + 3600, T0 + 1), -1);
    release(in, 2);
    free_memory(m);
}

static void test_only_accepted_remembered(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[3];

    (void)state;
    make_verdict(&in[0], EIC_RECORD_EXPIRED, FP_A, NULL, NOW - 1);
    make_verdict(&in[1], EIC_RECORD_BAD_SIGNATURE, FP_B, NULL, NOW + 60);
    make_verdict(&in[2], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 60);
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, in, 3, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), 1);
    assert_int_equal(answered(m, "alice", FP_B, GEN, NOW, T0), -1);
    /* Records past EIC_KEYRECORDS_MAX were not judged: what is known of a key may be a part. */
    release(&in[1], 1);
    in[1].status = EIC_RECORD_TOO_MANY;
    in[1].detail = "too many";
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, in, 3, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    release(in, 3);
    free_memory(m);
}

static void test_fetch_replaces_what_user_had(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict a[1];
    struct eic_record_verdict b[1];
    struct eic_record_verdict both[2];

    (void)state;
    make_verdict(&a[0], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 60);
    make_verdict(&b[0], EIC_RECORD_ACCEPTED, FP_B, NULL, NOW + 60);
    both[0] = a[0];
    both[1] = b[0];
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, a, 1, GEN, T0), 0);
    assert_int_equal(eic_record_memory_refresh(m, "bob", FP_A, a, 1, GEN, T0), 0);
    /* A fetch of all alice's keys that lists only B: A is no longer listed, so forgotten. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, b, 1, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    assert_int_equal(answered(m, "alice", FP_B, GEN, NOW, T0), 1);
    assert_int_equal(answered(m, "bob", FP_A, GEN, NOW, T0), 1);
    /* A fetch of all keys remembers every accepted one. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", NULL, both, 2, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), 1);
    assert_int_equal(answered(m, "alice", FP_B, GEN, NOW, T0), 1);
    /* A fetch for key A only judged A: B, not judged, is forgotten too (fetched when asked). */
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, both, 2, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), 1);
    assert_int_equal(answered(m, "alice", FP_B, GEN, NOW, T0), -1);
    /* A fetch that found no record for alice: nothing is left of her. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, NULL, 0, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    assert_int_equal(answered(m, "bob", FP_A, GEN, NOW, T0), 1);
    release(a, 1);
    release(b, 1);
    free_memory(m);
}

static void test_bounds_per_key(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[EIC_RECORD_MEMORY_RECORDS_PER_KEY + 1];
    char *caller;

    (void)state;
    for (size_t i = 0; i < EIC_RECORD_MEMORY_RECORDS_PER_KEY + 1; i++) {
        make_verdict(&in[i], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 60);
    }
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, EIC_RECORD_MEMORY_RECORDS_PER_KEY, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), EIC_RECORD_MEMORY_RECORDS_PER_KEY);
    /* One record more: not a part of them, none. */
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, EIC_RECORD_MEMORY_RECORDS_PER_KEY + 1, GEN, T0),
                     0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    /* Over EIC_RECORD_MEMORY_BYTES_PER_KEY of text: not remembered. */
    caller = malloc(EIC_RECORD_MEMORY_BYTES_PER_KEY);
    assert_non_null(caller);
    memset(caller, 'x', EIC_RECORD_MEMORY_BYTES_PER_KEY - 1);
    caller[EIC_RECORD_MEMORY_BYTES_PER_KEY - 1] = '\0';
    in[0].caller = caller;
    assert_int_equal(eic_record_memory_refresh(m, "alice", FP_A, in, 1, GEN, T0), 0);
    assert_int_equal(answered(m, "alice", FP_A, GEN, NOW, T0), -1);
    release(in, EIC_RECORD_MEMORY_RECORDS_PER_KEY + 1);
    free_memory(m);
}

static void test_oldest_key_goes_first(void **state)
{
    struct eic_record_memory *m = new_memory();
    struct eic_record_verdict in[1];
    char user[16];

    (void)state;
    make_verdict(&in[0], EIC_RECORD_ACCEPTED, FP_A, NULL, NOW + 60);
    for (int i = 0; i <= EIC_RECORD_MEMORY_KEYS; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        assert_int_equal(eic_record_memory_refresh(m, user, FP_A, in, 1, GEN, T0), 0);
    }
    assert_int_equal(answered(m, "user0", FP_A, GEN, NOW, T0), -1);
    for (int i = 1; i <= EIC_RECORD_MEMORY_KEYS; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        assert_int_equal(answered(m, user, FP_A, GEN, NOW, T0), 1);
    }
    /* Cleared (the signer dropped): nothing answers. */
    eic_record_memory_clear(m);
    assert_int_equal(answered(m, "user1", FP_A, GEN, NOW, T0), -1);
    release(in, 1);
    free_memory(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_is_a_deep_copy),
        cmocka_unit_test(test_other_signer_generation_not_answered),
        cmocka_unit_test(test_age_bound),
        cmocka_unit_test(test_expired_record_never_answered),
        cmocka_unit_test(test_only_accepted_remembered),
        cmocka_unit_test(test_fetch_replaces_what_user_had),
        cmocka_unit_test(test_bounds_per_key),
        cmocka_unit_test(test_oldest_key_goes_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
