/* Benchmark (not a test): the work of one eic-authorized-keys run without the cost of starting a
 * process — config load, trust anchors, IMDS client, IMDSv2 token, every fetch, chain + OCSP +
 * record verification — repeated N times in one process; prints the median and p90.
 * Usage: bench/akc_inproc CONFIG USER FINGERPRINT [N]   (bench/akc.sh runs it) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eic_config.h"
#include "eic_keys.h"
#include "eic_log.h"
#include "eic_time.h"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* One run, as authorized_keys/main.c does it; returns the number of keys accepted or -1. */
static int one_run(const char *config_path, const char *user, const char *fingerprint)
{
    struct eic_config cfg;
    struct eic_record_verdict *v = NULL;
    size_t n = 0;
    char err[256];
    int accepted = -1;

    if (eic_config_load(config_path, geteuid(), &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (eic_keys_for_user(&cfg, user, fingerprint, eic_monotonic_ms() + (uint64_t)cfg.deadline_ms, &v, &n) != 0) {
        goto done;
    }
    accepted = 0;
    for (size_t i = 0; i < n; i++) {
        accepted += v[i].status == EIC_RECORD_ACCEPTED;
    }
done:
    eic_keyrecords_free(v, n);
    eic_config_free(&cfg);
    return accepted;
}

int main(int argc, char **argv)
{
    int n = argc > 4 ? atoi(argv[4]) : 200;
    double *us;

    if (argc < 4 || n < 1) {
        fprintf(stderr, "usage: akc_inproc CONFIG USER FINGERPRINT [N]\n");
        return 2;
    }
    us = calloc((size_t)n, sizeof(*us));
    if (us == NULL) {
        return 1;
    }
    eic_log_open("akc_inproc", "/dev/null", 0);
    for (int i = 0; i < n; i++) {
        double start = now_us();

        if (one_run(argv[1], argv[2], argv[3]) != 1) {
            fprintf(stderr, "akc_inproc: run %d did not accept exactly one key\n", i);
            free(us);
            return 1;
        }
        us[i] = now_us() - start;
    }
    qsort(us, (size_t)n, sizeof(*us), cmp_double);
    /* The format of bench/akc.sh's lines: LABEL|MEDIAN_MS|P90_MS|MIN_MS|RUNS. */
    printf("%s|%.1f|%.1f|%.1f|%d\n", "the in-process check's work (third line) in one process, no exec",
           us[(n - 1) / 2] / 1000, us[(n * 9 + 9) / 10 - 1] / 1000, us[0] / 1000, n);
    free(us);
    return 0;
}
