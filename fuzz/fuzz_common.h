/* Helpers shared by the libFuzzer harnesses in fuzz/ (fixtures, quiet logging, input
 * splitting). A harness aborts (FUZZ_CHECK) when the code under test breaks one of its
 * documented promises, so the fuzzer reports wrong answers as well as memory errors. */
#ifndef EIC_FUZZ_COMMON_H
#define EIC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Set by fuzz/build.sh: the absolute path of tests/data in the source tree. */
#ifndef FUZZ_DATA_DIR
#error "FUZZ_DATA_DIR must be defined (fuzz/build.sh does)"
#endif

#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fuzz_fail(__FILE__, __LINE__, #cond); \
        } \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* The libFuzzer entry points. Every harness defines LLVMFuzzerTestOneInput. LLVMFuzzerInitialize
 * has a weak default in fuzz_common.c (fuzz_quiet_logs() only); a harness with fixtures to set up
 * defines its own, which replaces it, and calls fuzz_quiet_logs() itself when its code logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every eic_log() line is formatted (format bugs are found) and written to /dev/null. */
void fuzz_quiet_logs(void);

/* The contents of tests/data/<rel>, NUL-terminated (len without the NUL); aborts when missing. */
char *fuzz_fixture(const char *rel, size_t *len);
/* The first line of tests/data/<rel>, without its newline. */
char *fuzz_fixture_line(const char *rel);
/* tests/data/verify/NOW: the instant every fixture of the verifier is valid at. */
long long fuzz_fixture_now(void);

/* A malloc'd NUL-terminated copy of the input (for APIs that take C strings). */
char *fuzz_cstring(const uint8_t *data, size_t size);

/* A part of the input: [data, data + len). */
struct fuzz_part {
    const char *data;
    size_t len;
};
/* Split [data, data + size) at every occurrence of sep into at most max parts (the last part
 * keeps the rest, separators included). Returns the number of parts (at least 1). */
size_t fuzz_split(const char *data, size_t size, const char *sep, struct fuzz_part *parts, size_t max);

#endif
