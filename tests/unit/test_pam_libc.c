/* pam_eic's audit records and authorized_keys fingerprints, written in libc only (pam_eic is loaded
 * into sshd, sudo and su and links nothing but libc and libpam). pam_eic/pam_audit.c and
 * pam_eic/pam_keyfile.c are compiled in.
 *
 * Audit records: each line pam_eic_audit_write appends must be, byte for byte, the line json-c
 * wrote before for the same record (json_object_to_json_string_ext, JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE), and json-c must read every value back: every byte value in a
 * string, quotes, backslashes, '/', UTF-8 and bytes that are not, empty and full-size fields, the
 * extremes of the integers, and random records.
 *
 * authorized_keys: the keys listed are recognised by the fingerprint ssh-keygen -lf prints, for
 * each key type, after options; cert-authority lines, a type word the blob does not carry, and
 * base64 that is not a key are never taken as listing a key. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "eic_codec.h"
#include "eic_log.h"
#include "pam_audit.h"
#include "pam_keyfile.h"
#include "unit_support.h"

static char top[] = "/tmp/eic-test-pam-libc.XXXXXX";
static char audit_log[PAM_EIC_PATH_MAX];

static int setup(void **state)
{
    char log_path[PATH_MAX];

    (void)state;
    if (mkdtemp(top) == NULL) {
        return -1;
    }
    /* the module's messages (each record's log line too) go to a file, not to syslog */
    snprintf(log_path, sizeof(log_path), "%s/pam.log", top);
    if (eic_log_open("test_pam_libc", log_path, EIC_LOG_IN_HOST) != 0) {
        return -1;
    }
    snprintf(audit_log, sizeof(audit_log), "%s/audit/audit.log", top);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    eic_log_close();
    return unit_remove_tree(top);
}

/* ---- audit records ---- */

/* What json-c wrote for the record (pam_audit.c's build_line before it was rewritten in libc),
 * with the time the record under test carries. */
static char *json_c_line(const struct pam_eic_session *s, const char *event, long long when, long long duration)
{
    const struct {
        const char *key;
        const char *value;
    } strings[] = {{"user", s->user},       {"principal", s->principal}, {"request_id", s->request_id},
                   {"fingerprint", s->fingerprint}, {"rhost", s->rhost}, {"service", s->service}};
    json_object *obj = json_object_new_object();
    char *line = NULL;

    assert_non_null(obj);
#define ADD(key, value) assert_int_equal(json_object_object_add(obj, (key), (value)), 0)
#define STR(v) ((v)[0] != '\0' ? json_object_new_string(v) : NULL)
    ADD("event", STR(event));
    ADD("time", json_object_new_int64(when));
    ADD(strings[0].key, STR(strings[0].value));
    ADD("uid", json_object_new_int64((long long)s->uid));
    for (size_t i = 1; i < sizeof(strings) / sizeof(strings[0]); i++) {
        ADD(strings[i].key, STR(strings[i].value));
    }
    ADD("pid", json_object_new_int64((long long)s->pid));
    ADD("eic_key", json_object_new_boolean(s->eic_key));
    if (duration >= 0) {
        ADD("duration", json_object_new_int64(duration));
    }
#undef STR
#undef ADD
    assert_true(asprintf(&line, "%s\n",
                         json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)) > 0);
    json_object_put(obj);
    return line;
}

/* json-c reads the member back as the string written, or as null for "". */
static void expect_string_member(json_object *rec, const char *key, const char *want)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(rec, key, &v));
    if (want[0] == '\0') {
        assert_null(v);
        return;
    }
    assert_true(json_object_is_type(v, json_type_string));
    assert_int_equal((size_t)json_object_get_string_len(v), strlen(want));
    assert_memory_equal(json_object_get_string(v), want, strlen(want));
}

static void expect_int_member(json_object *rec, const char *key, long long want)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(rec, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    errno = 0;
    assert_true(json_object_get_int64(v) == want);
    assert_int_equal(errno, 0);
}

/* Write the record with the module, then check its line against json-c's and json-c's reading of
 * it against the record. */
static void check_record(const struct pam_eic_session *s, const char *event, long long duration)
{
    struct json_tokener *tok;
    json_object *rec, *v = NULL;
    long long before, when;
    char *line, *want;
    size_t len;

    assert_true(unlink(audit_log) == 0 || errno == ENOENT);
    before = (long long)time(NULL);
    assert_int_equal(pam_eic_audit_write(s, event, duration), 0);
    line = unit_read_file(audit_log, &len);
    assert_non_null(line);
    /* one line, ended by its only newline, and no NUL in it */
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_int_equal(strlen(line), len);
    assert_ptr_equal(strchr(line, '\n'), line + len - 1);

    /* json-c reads all of it (nothing left over) as an object */
    tok = json_tokener_new();
    assert_non_null(tok);
    rec = json_tokener_parse_ex(tok, line, (int)len - 1);
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    assert_int_equal(json_tokener_get_parse_end(tok), len - 1);
    json_tokener_free(tok);
    assert_non_null(rec);
    assert_true(json_object_is_type(rec, json_type_object));

    assert_true(json_object_object_get_ex(rec, "time", &v));
    when = (long long)json_object_get_int64(v);
    assert_true(when >= before && when <= (long long)time(NULL));
    want = json_c_line(s, event, when, duration);
    if (strcmp(line, want) != 0) {
        size_t at = 0;

        while (line[at] == want[at]) {
            at++;
        }
        /* the lines hold control characters: say where they part, not what they are */
        fail_msg("the record differs from json-c's from byte %zu (ours: %zu bytes, 0x%02x there; json-c's: %zu, "
                 "0x%02x)", at, len, (unsigned char)line[at], strlen(want), (unsigned char)want[at]);
    }

    expect_string_member(rec, "event", event);
    expect_string_member(rec, "user", s->user);
    expect_int_member(rec, "uid", (long long)s->uid);
    expect_string_member(rec, "principal", s->principal);
    expect_string_member(rec, "request_id", s->request_id);
    expect_string_member(rec, "fingerprint", s->fingerprint);
    expect_string_member(rec, "rhost", s->rhost);
    expect_string_member(rec, "service", s->service);
    expect_int_member(rec, "pid", (long long)s->pid);
    assert_true(json_object_object_get_ex(rec, "eic_key", &v));
    assert_true(json_object_is_type(v, json_type_boolean));
    assert_int_equal(json_object_get_boolean(v), s->eic_key);
    if (duration >= 0) {
        expect_int_member(rec, "duration", duration);
        assert_int_equal(json_object_object_length(rec), 12);
    } else {
        assert_false(json_object_object_get_ex(rec, "duration", NULL));
        assert_int_equal(json_object_object_length(rec), 11);
    }
    json_object_put(rec);
    free(want);
    free(line);
}

static void session_init(struct pam_eic_session *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->user, sizeof(s->user), "alice");
    s->uid = 200123;
    snprintf(s->principal, sizeof(s->principal), "arn:aws:iam::111122223333:user/alice");
    snprintf(s->request_id, sizeof(s->request_id), "2d1b6f0e-8c2a-4d8e-9a63-0f3b1c2d4e5f");
    snprintf(s->fingerprint, sizeof(s->fingerprint), "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
    snprintf(s->rhost, sizeof(s->rhost), "192.0.2.10");
    snprintf(s->service, sizeof(s->service), "sshd");
    s->pid = 4242;
    s->eic_key = true;
    s->opened = 1732400000;
    snprintf(s->audit_log, sizeof(s->audit_log), "%s", audit_log);
}

/* Fill field (size bytes) with the bytes 1, 2, ... 255, 1, 2, ... starting at first, NUL-terminated. */
static void fill_cycling(char *field, size_t size, unsigned first)
{
    for (size_t i = 0; i + 1 < size; i++) {
        field[i] = (char)((first - 1 + i) % 255 + 1);
    }
    field[size - 1] = '\0';
}

/* A typical record of each event: the line the module always wrote. */
static void test_audit_typical(void **state)
{
    struct pam_eic_session s;

    (void)state;
    session_init(&s);
    check_record(&s, "session_open", -1);
    check_record(&s, "session_close", 3600);
    check_record(&s, "session_expired", 0);
    s.eic_key = false;
    check_record(&s, "session_open", -1);
}

/* Every byte value 0x01..0xff, in each string field and at each position (fields shorter than
 * 255 bytes see every byte over the rotations). */
static void test_audit_every_byte(void **state)
{
    struct pam_eic_session s;

    (void)state;
    for (unsigned first = 1; first <= 255; first += 16) {
        session_init(&s);
        fill_cycling(s.user, sizeof(s.user), first); /* 255 bytes: each value once */
        fill_cycling(s.rhost, sizeof(s.rhost), first);
        fill_cycling(s.principal, sizeof(s.principal), first);
        fill_cycling(s.request_id, sizeof(s.request_id), first);
        fill_cycling(s.fingerprint, sizeof(s.fingerprint), first);
        fill_cycling(s.service, sizeof(s.service), first);
        check_record(&s, "session_close", 12);
    }
    /* and each byte alone, between plain text */
    for (unsigned c = 1; c <= 255; c++) {
        session_init(&s);
        snprintf(s.user, sizeof(s.user), "a%cb", (char)c);
        snprintf(s.rhost, sizeof(s.rhost), "%c", (char)c);
        check_record(&s, "session_open", -1);
    }
}

/* Quotes, backslashes, '/', what looks like an escape already, and text that is valid UTF-8 or not. */
static void test_audit_tricky_strings(void **state)
{
    static const char *const values[] = {
        "\"",
        "\\",
        "\\\\\"\"",
        "a\"b\\c/d",
        "/",
        "//server/share",
        "</script>",
        "\\u0000",
        "\\n",
        "{\"user\":\"root\"}",
        "\",\"user\":\"root",
        "line1\nline2\r\n",
        "tab\there\b\f",
        "\x7f",
        "Zo\xc3\xab",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
        "\xf0\x9f\x98\x80",
        "\xc3",                 /* a truncated UTF-8 sequence */
        "\xed\xa0\x80",         /* an encoded surrogate */
        "\xc0\xaf",             /* an overlong '/' */
        "\xfe\xff",
        "\xef\xbb\xbf" "bom",
        "null",
        "true",
        " ",
    };
    struct pam_eic_session s;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        session_init(&s);
        snprintf(s.user, sizeof(s.user), "%s", values[i]);
        snprintf(s.principal, sizeof(s.principal), "arn:%s:x", values[i]);
        snprintf(s.request_id, sizeof(s.request_id), "%s%s", values[i], values[i]);
        snprintf(s.fingerprint, sizeof(s.fingerprint), "SHA256:%s", values[i]);
        snprintf(s.rhost, sizeof(s.rhost), "%s", values[i]);
        snprintf(s.service, sizeof(s.service), "%s-", values[i]);
        check_record(&s, "session_open", -1);
    }
}

/* Unknown values are null, not "". */
static void test_audit_empty_fields(void **state)
{
    struct pam_eic_session s;

    (void)state;
    session_init(&s);
    s.user[0] = s.principal[0] = s.request_id[0] = s.fingerprint[0] = s.rhost[0] = s.service[0] = '\0';
    s.eic_key = false;
    check_record(&s, "session_open", -1);
    check_record(&s, "session_expired", 1);
    snprintf(s.request_id, sizeof(s.request_id), "-");
    check_record(&s, "session_close", 5);
}

/* Every field at its full size with the byte that escapes longest (\u0001) and with '"', so the
 * longest record there can be is written whole. */
static void test_audit_max_length(void **state)
{
    static const char fillers[] = {'\x01', '"', '\\', '\x1f', 'x', '\xff'};
    struct pam_eic_session s;

    (void)state;
    for (size_t f = 0; f < sizeof(fillers); f++) {
        session_init(&s);
        memset(s.user, fillers[f], sizeof(s.user) - 1);
        memset(s.principal, fillers[f], sizeof(s.principal) - 1);
        memset(s.request_id, fillers[f], sizeof(s.request_id) - 1);
        memset(s.fingerprint, fillers[f], sizeof(s.fingerprint) - 1);
        memset(s.rhost, fillers[f], sizeof(s.rhost) - 1);
        memset(s.service, fillers[f], sizeof(s.service) - 1);
        s.uid = (uid_t)-1;
        s.pid = INT_MIN;
        check_record(&s, "session_expired", LLONG_MAX);
    }
}

/* The extremes of the integers; a negative duration means none (no member). */
static void test_audit_integers(void **state)
{
    static const long long durations[] = {-1, LLONG_MIN, 0, 1, 59, INT_MAX, (long long)INT_MAX + 1, LLONG_MAX};
    static const uid_t uids[] = {0, 1, 65534, 2147483647u, 2147483648u, (uid_t)-2, (uid_t)-1};
    static const pid_t pids[] = {0, 1, -1, INT_MAX, INT_MIN};
    struct pam_eic_session s;

    (void)state;
    session_init(&s);
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        s.uid = uids[i % (sizeof(uids) / sizeof(uids[0]))];
        s.pid = pids[i % (sizeof(pids) / sizeof(pids[0]))];
        s.eic_key = i % 2 == 0;
        check_record(&s, "session_close", durations[i]);
    }
    for (size_t i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
        s.uid = uids[i];
        check_record(&s, "session_open", -1);
    }
    for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        s.pid = pids[i];
        check_record(&s, "session_open", -1);
    }
}

/* Random records (a fixed seed, so a failure can be repeated): random bytes and lengths in every
 * field, random integers. */
static void test_audit_random(void **state)
{
    struct pam_eic_session s;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    (void)state;
    for (int round = 0; round < 200; round++) {
        struct {
            char *buf;
            size_t size;
        } strings[] = {{s.user, sizeof(s.user)},           {s.principal, sizeof(s.principal)},
                       {s.request_id, sizeof(s.request_id)}, {s.fingerprint, sizeof(s.fingerprint)},
                       {s.rhost, sizeof(s.rhost)},         {s.service, sizeof(s.service)}};
        long long duration;

        session_init(&s);
        for (size_t f = 0; f < sizeof(strings) / sizeof(strings[0]); f++) {
            size_t len;

            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            len = (size_t)(x % strings[f].size);
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                strings[f].buf[i] = (char)(x % 255 + 1);
            }
            strings[f].buf[len] = '\0';
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s.uid = (uid_t)x;
        s.pid = (pid_t)(x >> 32);
        s.eic_key = (x & 1) != 0;
        duration = (long long)(x >> 1) * ((x & 2) ? 1 : -1);
        check_record(&s, round % 3 == 0 ? "session_open" : "session_close", round % 5 == 0 ? -1 : duration);
    }
}

/* A field that fills its array with no NUL is read up to the array's end, no further. */
static void test_audit_unterminated_field(void **state)
{
    struct pam_eic_session s;
    json_object *rec, *v = NULL;
    char *line;

    (void)state;
    session_init(&s);
    memset(s.service, 's', sizeof(s.service));
    assert_true(unlink(audit_log) == 0 || errno == ENOENT);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), 0);
    line = unit_read_file(audit_log, NULL);
    assert_non_null(line);
    rec = json_tokener_parse(line);
    assert_non_null(rec);
    assert_true(json_object_object_get_ex(rec, "service", &v));
    assert_int_equal(json_object_get_string_len(v), sizeof(s.service));
    json_object_put(rec);
    free(line);
}

/* Records are appended, one line each. */
static void test_audit_appends(void **state)
{
    struct pam_eic_session s;
    char *text;
    size_t lines = 0;

    (void)state;
    session_init(&s);
    assert_true(unlink(audit_log) == 0 || errno == ENOENT);
    assert_int_equal(pam_eic_audit_write(&s, "session_open", -1), 0);
    assert_int_equal(pam_eic_audit_write(&s, "session_close", 7), 0);
    assert_int_equal(pam_eic_audit_write(&s, "session_expired", 8), 0);
    text = unit_read_file(audit_log, NULL);
    assert_non_null(text);
    for (const char *p = text; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    assert_int_equal(lines, 3);
    assert_non_null(strstr(text, "{\"event\":\"session_open\","));
    assert_non_null(strstr(text, ",\"eic_key\":true,\"duration\":8}\n"));
    free(text);
}

/* ---- authorized_keys ---- */

struct test_key {
    char pub_path[PATH_MAX];
    char type[64];
    char *b64; /* the second word of the .pub file */
    char fp[64];
};

static void run_ok(const char *cmd)
{
    int status = system(cmd);

    if (status != 0) {
        fail_msg("'%s' failed (status %d)", cmd, status);
    }
}

/* What ssh-keygen -lf says the key's fingerprint is. */
static void keygen_fingerprint(const char *pub, char fp[64])
{
    char cmd[PATH_MAX + 64];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "ssh-keygen -lf '%s'", pub);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%*d %63s", fp), 1);
    assert_int_equal(pclose(p), 0);
    assert_memory_equal(fp, "SHA256:", 7);
}

/* Read the type and base64 words of a .pub file and ssh-keygen's fingerprint of it. */
static void load_key(struct test_key *k)
{
    char *text = unit_read_file(k->pub_path, NULL);
    char *sp1, *end;

    assert_non_null(text);
    sp1 = strchr(text, ' ');
    assert_non_null(sp1);
    assert_true((size_t)(sp1 - text) < sizeof(k->type));
    memcpy(k->type, text, (size_t)(sp1 - text));
    k->type[sp1 - text] = '\0';
    end = sp1 + 1 + strcspn(sp1 + 1, " \n");
    k->b64 = strndup(sp1 + 1, (size_t)(end - sp1 - 1));
    assert_non_null(k->b64);
    free(text);
    keygen_fingerprint(k->pub_path, k->fp);
}

static void generate_key(struct test_key *k, const char *name, const char *keygen_args)
{
    char cmd[2 * PATH_MAX];

    snprintf(k->pub_path, sizeof(k->pub_path), "%s/%s.pub", top, name);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -q -N '' %s -C 'test key %s' -f '%s/%s' </dev/null >/dev/null", keygen_args,
             name, top, name);
    run_ok(cmd);
    load_key(k);
}

/* An SSH string (RFC 4251 section 5) appended to buf at *used. */
static void put_ssh_string(uint8_t *buf, size_t size, size_t *used, const void *data, size_t len)
{
    assert_true(len <= size - *used - 4);
    buf[(*used)++] = (uint8_t)(len >> 24);
    buf[(*used)++] = (uint8_t)(len >> 16);
    buf[(*used)++] = (uint8_t)(len >> 8);
    buf[(*used)++] = (uint8_t)len;
    memcpy(buf + *used, data, len);
    *used += len;
}

/* A FIDO key cannot be generated without a token: its public half is written by hand (type,
 * 32-byte Ed25519 key, application), and ssh-keygen reads it like any other. */
static void make_sk_key(struct test_key *k)
{
    static const char type[] = "sk-ssh-ed25519@openssh.com";
    uint8_t blob[128], point[32];
    size_t used = 0;
    FILE *f;

    for (size_t i = 0; i < sizeof(point); i++) {
        point[i] = (uint8_t)(i * 7 + 3);
    }
    put_ssh_string(blob, sizeof(blob), &used, type, strlen(type));
    put_ssh_string(blob, sizeof(blob), &used, point, sizeof(point));
    put_ssh_string(blob, sizeof(blob), &used, "ssh:", 4);
    snprintf(k->pub_path, sizeof(k->pub_path), "%s/sk.pub", top);
    snprintf(k->type, sizeof(k->type), "%s", type);
    assert_int_equal(eic_base64_encode(blob, used, &k->b64), 0);
    f = fopen(k->pub_path, "w");
    assert_non_null(f);
    fprintf(f, "%s %s sk key\n", k->type, k->b64);
    assert_int_equal(fclose(f), 0);
    keygen_fingerprint(k->pub_path, k->fp);
}

enum { KEY_ED25519, KEY_RSA, KEY_ECDSA256, KEY_ECDSA521, KEY_SK, N_KEYS };
static struct test_key keys[N_KEYS];

static int setup_keys(void **state)
{
    (void)state;
    generate_key(&keys[KEY_ED25519], "ed25519", "-t ed25519");
    generate_key(&keys[KEY_RSA], "rsa", "-t rsa -b 2048");
    generate_key(&keys[KEY_ECDSA256], "ecdsa256", "-t ecdsa -b 256");
    generate_key(&keys[KEY_ECDSA521], "ecdsa521", "-t ecdsa -b 521");
    make_sk_key(&keys[KEY_SK]);
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KEYS; i++) {
        free(keys[i].b64);
        keys[i].b64 = NULL;
    }
    return 0;
}

/* Are the n fingerprints all listed in an authorized_keys file holding text? */
static bool listed_in(const char *text, char fps[][64], size_t n)
{
    char pattern[PATH_MAX], path[PATH_MAX];
    struct pam_eic_args args;
    struct passwd pw;
    FILE *f;

    snprintf(path, sizeof(path), "%s/keys-tester", top);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(pattern, sizeof(pattern), "/nonexistent/%%u,%s/keys-%%u", top);
    memset(&args, 0, sizeof(args));
    args.authorized_keys = pattern;
    memset(&pw, 0, sizeof(pw));
    pw.pw_name = (char *)"tester";
    pw.pw_dir = top;
    pw.pw_uid = geteuid();
    pw.pw_gid = getegid();
    return pam_eic_keys_in_authorized_keys(&args, &pw, fps, n);
}

/* Is key k listed in a file of one line, printf-formatted? */
static bool one_listed(const struct test_key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool one_listed(const struct test_key *k, const char *fmt, ...)
{
    char fps[1][64];
    char *text = NULL;
    va_list ap;
    bool listed;

    va_start(ap, fmt);
    assert_true(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    snprintf(fps[0], sizeof(fps[0]), "%s", k->fp);
    listed = listed_in(text, fps, 1);
    free(text);
    return listed;
}

/* Each key type, as ssh-keygen wrote it, is recognised by ssh-keygen's fingerprint; another
 * key's line is not this key. */
static void test_keys_each_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct test_key *k = &keys[i];
        const struct test_key *other = &keys[(i + 1) % N_KEYS];
        char *pub = unit_read_file(k->pub_path, NULL);

        assert_non_null(pub);
        assert_true(one_listed(k, "%s", pub));
        assert_true(one_listed(k, "%s %s", k->type, k->b64));        /* no comment, no newline */
        assert_true(one_listed(k, "%s %s\r\n", k->type, k->b64));    /* CRLF */
        assert_true(one_listed(k, "  \t%s\t%s  a comment \n", k->type, k->b64));
        assert_false(one_listed(k, "# keys\n\n%s %s x\n# end\n", other->type, other->b64));
        assert_true(one_listed(k, "# keys\n%s %s x\n%s", other->type, other->b64, pub));
        assert_false(one_listed(k, "#%s", pub));                     /* commented out */
        free(pub);
    }
}

/* Options in front of the key, one token that may hold quoted blanks, are skipped. */
static void test_keys_after_options(void **state)
{
    const struct test_key *ed = &keys[KEY_ED25519];
    const struct test_key *rsa = &keys[KEY_RSA];
    const struct test_key *ec = &keys[KEY_ECDSA256];

    (void)state;
    assert_true(one_listed(ed, "command=\"a b\" %s %s c\n", ed->type, ed->b64));
    assert_true(one_listed(rsa, "from=\"x\",no-pty %s %s\n", rsa->type, rsa->b64));
    assert_true(one_listed(ec, "restrict,command=\"echo \\\"q w\\\" x\",from=\"10.0.0.0/8\"\t %s %s a b c\n",
                           ec->type, ec->b64));
    assert_true(one_listed(ed, "no-agent-forwarding %s %s\n", ed->type, ed->b64));
    assert_true(one_listed(&keys[KEY_SK], "no-touch-required %s %s\n", keys[KEY_SK].type, keys[KEY_SK].b64));
    /* options are skipped once: two tokens in front is no key line */
    assert_false(one_listed(ed, "no-pty restrict %s %s\n", ed->type, ed->b64));
    /* an unterminated quote swallows the key */
    assert_false(one_listed(ed, "command=\"a %s %s\n", ed->type, ed->b64));
}

/* A cert-authority line names a CA's key: sshd accepts certificates it signed, not the key. */
static void test_keys_cert_authority(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct test_key *k = &keys[i];

        assert_false(one_listed(k, "cert-authority %s %s\n", k->type, k->b64));
        assert_false(one_listed(k, "cert-authority,principals=\"alice\" %s %s\n", k->type, k->b64));
        assert_false(one_listed(k, "from=\"x\",cert-authority %s %s\n", k->type, k->b64));
    }
}

/* The type word must be the type inside the blob, as sshd requires. */
static void test_keys_type_mismatch(void **state)
{
    const struct test_key *ed = &keys[KEY_ED25519];
    const struct test_key *rsa = &keys[KEY_RSA];
    const struct test_key *ec = &keys[KEY_ECDSA256];

    (void)state;
    assert_false(one_listed(ed, "ssh-rsa %s\n", ed->b64));
    assert_false(one_listed(ed, "command=\"x\" ssh-rsa %s\n", ed->b64));
    assert_false(one_listed(rsa, "ssh-ed25519 %s\n", rsa->b64));
    assert_false(one_listed(ec, "ecdsa-sha2-nistp521 %s\n", ec->b64));
    assert_false(one_listed(ed, "ssh-ed25519x %s\n", ed->b64));
    assert_false(one_listed(ed, "ssh-ed2551 %s\n", ed->b64));
    assert_false(one_listed(ed, "SSH-ED25519 %s\n", ed->b64));
    /* the blob alone, or the type alone */
    assert_false(one_listed(ed, "%s\n", ed->b64));
    assert_false(one_listed(ed, "%s\n", ed->type));
}

/* Base64 that is not, or not a key: no fingerprint. */
static void test_keys_bad_blob(void **state)
{
    const struct test_key *ed = &keys[KEY_ED25519];
    uint8_t blob[64];
    size_t used = 0;
    char *b64 = NULL;
    char *bad;
    size_t len = strlen(ed->b64);

    (void)state;
    assert_false(one_listed(ed, "ssh-ed25519 AAAA!!!!\n"));
    assert_false(one_listed(ed, "ssh-ed25519 *\n"));
    assert_false(one_listed(ed, "ssh-ed25519 AAAAAA==\n"));  /* four zero bytes: an empty type */
    assert_false(one_listed(ed, "ssh-ed25519 AAA\n"));       /* two bytes: no room for a length */
    assert_false(one_listed(ed, "ssh-ed25519 /////w==\n"));  /* a length of 4 GiB in 4 bytes */
    assert_false(one_listed(ed, "ssh-ed25519 A\n"));         /* a lone sextet */
    /* the key's own base64 damaged: a character changed, one cut, padding added */
    bad = strdup(ed->b64);
    assert_non_null(bad);
    bad[len / 2] = '$';
    assert_false(one_listed(ed, "ssh-ed25519 %s\n", bad));
    free(bad);
    assert_false(one_listed(ed, "ssh-ed25519 %.*s\n", (int)len - 1, ed->b64));
    assert_false(one_listed(ed, "ssh-ed25519 %s=\n", ed->b64));
    /* a type string whose length runs past the end of the blob */
    put_ssh_string(blob, sizeof(blob), &used, "ssh-ed25519", 11);
    assert_int_equal(eic_base64_encode(blob, used - 5, &b64), 0);
    assert_false(one_listed(ed, "ssh-ed25519 %s\n", b64));
    free(b64);
    /* the type string alone is a blob that says ssh-ed25519, but not this key */
    assert_int_equal(eic_base64_encode(blob, used, &b64), 0);
    assert_false(one_listed(ed, "ssh-ed25519 %s\n", b64));
    free(b64);
}

/* Several login keys (one per authentication method): all must be listed, in any lines. */
static void test_keys_several(void **state)
{
    char fps[3][64];
    char *text = NULL;

    (void)state;
    snprintf(fps[0], sizeof(fps[0]), "%s", keys[KEY_RSA].fp);
    snprintf(fps[1], sizeof(fps[1]), "%s", keys[KEY_ECDSA521].fp);
    snprintf(fps[2], sizeof(fps[2]), "%s", keys[KEY_SK].fp);
    assert_true(asprintf(&text, "%s %s\nfrom=\"a b\" %s %s\n%s %s\n", keys[KEY_SK].type, keys[KEY_SK].b64,
                         keys[KEY_RSA].type, keys[KEY_RSA].b64, keys[KEY_ECDSA521].type, keys[KEY_ECDSA521].b64) >= 0);
    assert_true(listed_in(text, fps, 3));
    free(text);
    assert_true(asprintf(&text, "%s %s\ncert-authority %s %s\n%s %s\n", keys[KEY_SK].type, keys[KEY_SK].b64,
                         keys[KEY_RSA].type, keys[KEY_RSA].b64, keys[KEY_ECDSA521].type, keys[KEY_ECDSA521].b64) >= 0);
    assert_false(listed_in(text, fps, 3));
    free(text);
    /* "" (a key the module could not read) is never listed */
    fps[1][0] = '\0';
    assert_true(asprintf(&text, "%s %s\n", keys[KEY_RSA].type, keys[KEY_RSA].b64) >= 0);
    assert_false(listed_in(text, fps, 2));
    free(text);
}

int main(void)
{
    const struct CMUnitTest audit_tests[] = {
        cmocka_unit_test(test_audit_typical),        cmocka_unit_test(test_audit_every_byte),
        cmocka_unit_test(test_audit_tricky_strings), cmocka_unit_test(test_audit_empty_fields),
        cmocka_unit_test(test_audit_max_length),     cmocka_unit_test(test_audit_integers),
        cmocka_unit_test(test_audit_random),         cmocka_unit_test(test_audit_unterminated_field),
        cmocka_unit_test(test_audit_appends),
    };
    const struct CMUnitTest key_tests[] = {
        cmocka_unit_test(test_keys_each_type),      cmocka_unit_test(test_keys_after_options),
        cmocka_unit_test(test_keys_cert_authority), cmocka_unit_test(test_keys_type_mismatch),
        cmocka_unit_test(test_keys_bad_blob),       cmocka_unit_test(test_keys_several),
    };
    int failed;

    if (setup(NULL) != 0) {
        fprintf(stderr, "test_pam_libc: cannot set up %s\n", top);
        return 1;
    }
    failed = cmocka_run_group_tests_name("audit records", audit_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("authorized_keys", key_tests, setup_keys, teardown_keys);
    teardown(NULL);
    return failed;
}
