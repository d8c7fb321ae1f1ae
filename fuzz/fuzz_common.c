#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eic_log.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}

void fuzz_quiet_logs(void)
{
    if (eic_log_open("eic-fuzz", "/dev/null", 0) != 0) {
        fuzz_fail(__FILE__, __LINE__, "cannot open /dev/null for the log");
    }
    eic_log_set_level(LOG_DEBUG);
}

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    return 0;
}

char *fuzz_fixture(const char *rel, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    long size;

    snprintf(path, sizeof(path), "%s/%s", FUZZ_DATA_DIR, rel);
    f = fopen(path, "rbe");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        abort();
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        abort();
    }
    fclose(f);
    buf[size] = '\0';
    if (len != NULL) {
        *len = (size_t)size;
    }
    return buf;
}

char *fuzz_fixture_line(const char *rel)
{
    char *text = fuzz_fixture(rel, NULL);

    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

long long fuzz_fixture_now(void)
{
    char *text = fuzz_fixture_line("verify/NOW");
    long long now = atoll(text);

    free(text);
    return now;
}

char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

size_t fuzz_split(const char *data, size_t size, const char *sep, struct fuzz_part *parts, size_t max)
{
    size_t sep_len = strlen(sep);
    size_t n = 0;
    const char *p = data;
    const char *end = data + size;

    while (n + 1 < max) {
        const char *hit = memmem(p, (size_t)(end - p), sep, sep_len);

        if (hit == NULL) {
            break;
        }
        parts[n].data = p;
        parts[n].len = (size_t)(hit - p);
        n++;
        p = hit + sep_len;
    }
    parts[n].data = p;
    parts[n].len = (size_t)(end - p);
    return n + 1;
}
