/* Benchmark (not a test): getpwnam_r through an NSS module's entry point, the way glibc calls it.
 *
 *   nss_lookup populate DIR N        an eic cache of N accounts (e000000..) in DIR/cache, a passwd
 *                                     file of N local accounts (l000000..) in DIR/passwd, a group
 *                                     file of their private groups in DIR/group, and DIR/eic.conf
 *                                     naming the cache
 *   nss_lookup compare OP ITER_A ITER_B MODULE_A SERVICE_A NAME_A UID_A MODULE_B SERVICE_B NAME_B UID_B
 *                                     dlopen both modules, call OP (getpwnam, getpwuid: the _r entry
 *                                     points; initgroups: _nss_*_initgroups_dyn) for each side's
 *                                     account in alternating batches, print both medians of 7
 *                                     batches in ns per call
 * bench/nss.sh runs it for nss_files against nss_eic at 10, 1 000 and 100 000 accounts. */
#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eic_cache_writer.h"
#include "eic_log.h"

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

#define N_BATCHES 7

/* One module's entry point for one operation, and the account it is called for. */
struct side {
    const char *op;        /* getpwnam, getpwuid or initgroups */
    void *fn;
    const char *name;
    uid_t uid;
    gid_t gid;
};

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
    snprintf(path, sizeof(path), "%s/group", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        goto done;
    }
    fprintf(f, "root:x:0:\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "l%06zu:x:%zu:\n", i, 10000 + i);
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

/* Resolve _nss_SERVICE_<op>(_r|_dyn) in MODULE, for NAME / UID (the UID of NAME's account). */
static int side_open(struct side *sd, const char *op, const char *module, const char *service, const char *name,
                     uid_t uid)
{
    char symbol[64];
    void *handle = dlopen(module, RTLD_NOW | RTLD_LOCAL);

    if (handle == NULL) {
        fprintf(stderr, "lookup: %s\n", dlerror());
        return 1;
    }
    sd->op = op;
    sd->name = name;
    sd->uid = uid;
    sd->gid = (gid_t)uid;
    if (strcmp(op, "initgroups") == 0) {
        snprintf(symbol, sizeof(symbol), "_nss_%s_initgroups_dyn", service);
    } else {
        snprintf(symbol, sizeof(symbol), "_nss_%s_%s_r", service, op);
    }
    sd->fn = dlsym(handle, symbol);
    if (sd->fn == NULL) {
        fprintf(stderr, "lookup: %s has no %s\n", module, symbol);
        return 1;
    }
    return 0;
}

/* One call; returns the NSS status. */
static enum nss_status side_call(const struct side *sd)
{
    char buf[1024];
    struct passwd pw;
    int err;

    if (strcmp(sd->op, "getpwnam") == 0) {
        return ((getpwnam_fn)sd->fn)(sd->name, &pw, buf, sizeof(buf), &err);
    }
    if (strcmp(sd->op, "getpwuid") == 0) {
        return ((getpwuid_fn)sd->fn)(sd->uid, &pw, buf, sizeof(buf), &err);
    }
    {
        /* As glibc's getgrouplist: the primary group is already in the list. */
        long int start = 1;
        long int size = 8;
        gid_t *groups = malloc((size_t)size * sizeof(gid_t));
        enum nss_status st;

        if (groups == NULL) {
            return NSS_STATUS_TRYAGAIN;
        }
        groups[0] = sd->gid;
        st = ((initgroups_fn)sd->fn)(sd->name, sd->gid, &start, &size, &groups, 0, &err);
        free(groups);
        /* files answers NOTFOUND when the user is in no group besides its own: still a full scan. */
        return st == NSS_STATUS_NOTFOUND ? NSS_STATUS_SUCCESS : st;
    }
}

static double batch_ns(const struct side *sd, long iter)
{
    double start = now_ns();

    for (long i = 0; i < iter; i++) {
        side_call(sd);
    }
    return (now_ns() - start) / (double)iter;
}

/* Both modules in one process, their batches alternated, so that whatever else the machine does
 * weighs on both alike; prints the median ns per call of each: "A B". */
static int compare(char **argv)
{
    struct side a;
    struct side b;
    double ta[N_BATCHES];
    double tb[N_BATCHES];
    const char *op = argv[2];
    long iter_a = strtol(argv[3], NULL, 10);
    long iter_b = strtol(argv[4], NULL, 10);

    if (side_open(&a, op, argv[5], argv[6], argv[7], (uid_t)strtoul(argv[8], NULL, 10)) != 0 ||
        side_open(&b, op, argv[9], argv[10], argv[11], (uid_t)strtoul(argv[12], NULL, 10)) != 0) {
        return 1;
    }
    if (side_call(&a) != NSS_STATUS_SUCCESS || side_call(&b) != NSS_STATUS_SUCCESS) {
        fprintf(stderr, "compare: %s of %s / %s does not find it\n", op, a.name, b.name);
        return 1;
    }
    for (int i = 0; i < N_BATCHES; i++) {
        ta[i] = batch_ns(&a, iter_a);
        tb[i] = batch_ns(&b, iter_b);
    }
    qsort(ta, N_BATCHES, sizeof(ta[0]), cmp_double);
    qsort(tb, N_BATCHES, sizeof(tb[0]), cmp_double);
    printf("%.0f %.0f\n", ta[N_BATCHES / 2], tb[N_BATCHES / 2]);
    return 0;
}

int main(int argc, char **argv)
{
    eic_log_open("nss_lookup", NULL, EIC_LOG_STDERR); /* errors to stderr */
    eic_log_set_level(LOG_WARNING);
    if (argc == 4 && strcmp(argv[1], "populate") == 0) {
        return populate(argv[2], strtoul(argv[3], NULL, 10));
    }
    if (argc == 13 && strcmp(argv[1], "compare") == 0) {
        return compare(argv);
    }
    fprintf(stderr, "usage: nss_lookup populate DIR N\n"
                    "       nss_lookup compare OP ITER_A ITER_B MODULE_A SERVICE_A NAME_A UID_A MODULE_B SERVICE_B "
                    "NAME_B UID_B\n");
    return 2;
}
