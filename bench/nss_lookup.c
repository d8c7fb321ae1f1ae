/* Benchmark (not a test): getpwnam_r through an NSS module's entry point, the way glibc calls it.
 *
 *   nss_lookup populate DIR N        an eic cache of N accounts (e000000..) in DIR/cache, a passwd
 *                                     file of N local accounts (l000000..) in DIR/passwd, and
 *                                     DIR/eic.conf naming the cache
 *   nss_lookup lookup MODULE SERVICE NAME ITER
 *                                     dlopen MODULE, call _nss_SERVICE_getpwnam_r(NAME) ITER times,
 *                                     print the median of 7 batches in ns per call
 * bench/nss.sh runs it for nss_files and nss_eic at 10 and 100 000 accounts. */
#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eic_cache.h"
#include "eic_log.h"

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static int populate(const char *dir, size_t n)
{
    struct eic_cache_new_user *users = calloc(n, sizeof(*users));
    char (*names)[24] = calloc(n, sizeof(*names));
    char (*arns)[64] = calloc(n, sizeof(*arns));
    struct eic_cache_range range = {200000, 0, NULL, NULL};
    char passwd_path[512];
    char path[512];
    FILE *f;
    int ret = 1;

    if (users == NULL || names == NULL || arns == NULL) {
        goto done;
    }
    snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", dir);
    f = fopen(passwd_path, "w");
    if (f == NULL) {
        goto done;
    }
    fprintf(f, "root:x:0:0:root:/root:/bin/bash\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "l%06zu:x:%zu:%zu:local %zu:/home/l%06zu:/bin/sh\n", i, 10000 + i, 10000 + i, i, i);
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "e%06zu", i);
        snprintf(arns[i], sizeof(arns[i]), "arn:aws:iam::111122223333:user/e%06zu", i);
        users[i].name = names[i];
        users[i].principal = arns[i];
    }
    range.max = (uid_t)(200000 + 4 * n + 1000);
    range.passwd_file = passwd_path;
    snprintf(path, sizeof(path), "%s/cache", dir);
    mkdir(path, 0755);
    if (eic_cache_add_users(path, &range, users, n, NULL) != 0) {
        fprintf(stderr, "populate: eic_cache_add_users failed\n");
        goto done;
    }
    snprintf(path, sizeof(path), "%s/eic.conf", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        goto done;
    }
    fprintf(f, "cache_dir = %s/cache\nuid_min = 200000\nuid_max = %lu\n", dir, (unsigned long)range.max);
    fclose(f);
    ret = 0;
done:
    free(users);
    free(names);
    free(arns);
    return ret;
}

static int lookup(const char *module, const char *service, const char *name, long iter)
{
    char symbol[64];
    char buf[1024];
    double batch[7];
    struct passwd pw;
    getpwnam_fn fn;
    void *handle = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    int err;

    if (handle == NULL) {
        fprintf(stderr, "lookup: %s\n", dlerror());
        return 1;
    }
    snprintf(symbol, sizeof(symbol), "_nss_%s_getpwnam_r", service);
    fn = (getpwnam_fn)dlsym(handle, symbol);
    if (fn == NULL || fn(name, &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS) {
        fprintf(stderr, "lookup: %s(%s) does not find it\n", symbol, name);
        return 1;
    }
    for (int b = 0; b < 7; b++) {
        double start = now_ns();

        for (long i = 0; i < iter; i++) {
            fn(name, &pw, buf, sizeof(buf), &err);
        }
        batch[b] = (now_ns() - start) / (double)iter;
    }
    qsort(batch, 7, sizeof(batch[0]), cmp_double);
    printf("%.0f\n", batch[3]);
    return 0;
}

int main(int argc, char **argv)
{
    eic_log_open("nss_lookup", NULL, EIC_LOG_STDERR); /* errors to stderr */
    eic_log_set_level(LOG_WARNING);
    if (argc == 4 && strcmp(argv[1], "populate") == 0) {
        return populate(argv[2], strtoul(argv[3], NULL, 10));
    }
    if (argc == 6 && strcmp(argv[1], "lookup") == 0) {
        return lookup(argv[2], argv[3], argv[4], strtol(argv[5], NULL, 10));
    }
    fprintf(stderr, "usage: nss_lookup populate DIR N | lookup MODULE SERVICE NAME ITER\n");
    return 2;
}
