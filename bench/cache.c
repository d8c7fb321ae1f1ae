/* Benchmark (not a test) of the account cache: what a process pays to open and verify the cache
 * (once per process in nss_eic), per lookup by name and by uid, what one new account costs the
 * writer, and what pam_eic's account step pays at every login to bring an existing account in line
 * with its rule when nothing changed (the file read and verified, no lock, no write), at N accounts.
 * Usage: bench/cache [N]   (default 100000; built by `make`, runs in a temporary directory) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eic_cache_writer.h"
#include "eic_log.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    char root[] = "/tmp/eic-bench-cache.XXXXXX";
    char dir[64], passwd[64], group[64], cmd[128];
    struct eic_cache_new_user *users;
    char (*names)[32];
    char (*arns)[64];
    uid_t *uids, extra;
    struct eic_cache *c = NULL;
    struct eic_cached_user u;
    struct stat st;
    const char *groups[] = {"team"};
    double t0, t_add, t_open = 0, t_name, t_uid, t_one, t_same;
    const int opens = 50;
    int ret = 1;

    eic_log_set_level(LOG_NOTICE); /* not one log line per new account */
    if (n == 0 || mkdtemp(root) == NULL) {
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/cache", root);
    snprintf(passwd, sizeof(passwd), "%s/passwd", root);
    snprintf(group, sizeof(group), "%s/group", root);
    close(open(passwd, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    close(open(group, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    struct eic_cache_range range = {.min = 100000, .max = 100000 + (uid_t)(n * 10), .passwd_file = passwd,
                                    .group_file = group};

    users = calloc(n, sizeof(*users));
    names = calloc(n, sizeof(*names));
    arns = calloc(n, sizeof(*arns));
    uids = calloc(n, sizeof(*uids));
    if (users == NULL || names == NULL || arns == NULL || uids == NULL) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "user%06zu", i);
        snprintf(arns[i], sizeof(arns[i]), "arn:aws:iam::111122223333:user/user%06zu", i);
        users[i] = (struct eic_cache_new_user){.name = names[i], .principal = arns[i], .group_names = groups,
                                               .n_group_names = 1};
    }
    t0 = now_s();
    if (eic_cache_add_users(dir, &range, users, n, uids) != 0) {
        goto done;
    }
    t_add = now_s() - t0;
    for (int k = 0; k < opens; k++) {
        t0 = now_s();
        if (eic_cache_open(dir, &c) != 0) {
            goto done;
        }
        t_open += now_s() - t0;
        if (k < opens - 1) {
            eic_cache_close(c);
        }
    }
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        if (eic_cache_user_by_name(c, names[(i * 7919) % n], &u) != 0) {
            goto done;
        }
    }
    t_name = now_s() - t0;
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        if (eic_cache_user_by_uid(c, uids[(i * 7919) % n], &u) != 0) {
            goto done;
        }
    }
    t_uid = now_s() - t0;
    eic_cache_close(c);
    c = NULL;
    t0 = now_s();
    if (eic_cache_add_user(dir, &range, &(struct eic_cache_new_user){.name = "latecomer", .principal = arns[0]},
                           &extra) != 0) {
        goto done;
    }
    t_one = now_s() - t0;
    t0 = now_s();
    if (eic_cache_add_user(dir, &range, &users[n / 2], &extra) != 0) {
        goto done;
    }
    t_same = now_s() - t0;
    snprintf(cmd, sizeof(cmd), "%s/accounts.db", dir);
    if (stat(cmd, &st) != 0) {
        goto done;
    }
    printf("accounts: %zu, file: %.1f MiB\n", n, (double)st.st_size / (1024.0 * 1024.0));
    printf("batch add:          %.3f s\n", t_add);
    printf("open + verify:      %.2f ms (mean of %d, page cache warm)\n", t_open * 1e3 / opens, opens);
    printf("lookup by name:     %.0f ns\n", t_name * 1e9 / (double)n);
    printf("lookup by uid:      %.0f ns\n", t_uid * 1e9 / (double)n);
    printf("add one more user:  %.1f ms (lock, re-read, rewrite, 2 fsyncs)\n", t_one * 1e3);
    printf("re-add, unchanged:  %.1f ms (read and verified, no lock, nothing written: pam_eic's account step)\n",
           t_same * 1e3);
    ret = 0;

done:
    if (ret != 0) {
        fprintf(stderr, "bench/cache: failed (%s)\n", strerror(errno));
    }
    eic_cache_close(c);
    free(users);
    free(names);
    free(arns);
    free(uids);
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench/cache: could not remove %s\n", root);
    }
    return ret;
}
