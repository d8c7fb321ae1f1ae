/* Crash-safety driver for the account cache writer (issue #7.4), used by
 * tests/integration/test_cache_crash.sh.
 *
 *   cache_crash add DIR NAME              add one account (what a killed writer was doing)
 *   cache_crash check DIR NAME            after a writer for NAME ended (exited or killed): see below
 *   cache_crash random DIR N SEED         N times: fork a writer adding a new account, SIGKILL it
 *                                         after a random delay, then check; prints a summary
 *
 * DIR is the cache directory; DIR/../accounts.log is eic's log and DIR/../committed the accounts
 * known to be committed ("NAME UID" lines). The check, after every writer:
 *   - accounts.db opens and passes the reader's full verification;
 *   - every committed account is there with the UID it was first given (none lost, none changed);
 *   - NAME is either there (then it is committed from now on) or not: never half there;
 *   - at most one temp file (.accounts.db.XXXXXX) is left: the one a killed writer was writing,
 *     which the next writer removes, so they never accumulate;
 *   - accounts.lock is free (flock LOCK_NB succeeds): a killed writer's lock went with it.
 * Exit status 0 when every check passed; the first failure is printed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "eic_cache_writer.h"
#include "eic_log.h"

#define MAX_NAME 32
#define MAX_DIR 1024 /* DIR plus a file name always fits a PATH_MAX buffer */

struct committed {
    char (*names)[MAX_NAME];
    uid_t *uids;
    size_t n, cap;
};

/* What the random mode saw, for the summary. */
struct outcomes {
    unsigned measured;      /* not killed: runs that time the writer */
    unsigned finished;      /* the writer exited before the kill landed */
    unsigned killed_before; /* killed; the account is not there */
    unsigned killed_after;  /* killed; the account is there (killed after the rename) */
    unsigned temps_left;    /* a killed writer left its temp file behind */
};

static char dir_path[MAX_DIR];
static char state_path[PATH_MAX];
static char log_path[PATH_MAX];

static struct eic_cache_range range(void)
{
    static char passwd[PATH_MAX], group[PATH_MAX];

    snprintf(passwd, sizeof(passwd), "%s/../passwd", dir_path);
    snprintf(group, sizeof(group), "%s/../group", dir_path);
    return (struct eic_cache_range){.min = 200000, .max = 299999, .passwd_file = passwd, .group_file = group};
}

static int setup(const char *dir)
{
    FILE *f;
    char path[PATH_MAX];

    if (snprintf(dir_path, sizeof(dir_path), "%s", dir) >= (int)sizeof(dir_path)) {
        return ENAMETOOLONG;
    }
    /* DIR first: the paths below go through it. */
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return errno;
    }
    snprintf(state_path, sizeof(state_path), "%s/../committed", dir);
    snprintf(log_path, sizeof(log_path), "%s/../accounts.log", dir);
    /* The writer reads these instead of /etc/passwd and /etc/group. */
    snprintf(path, sizeof(path), "%s/../passwd", dir);
    if (access(path, F_OK) != 0) {
        if ((f = fopen(path, "w")) == NULL) {
            return errno;
        }
        fputs("root:x:0:0:root:/root:/bin/sh\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/../group", dir);
        if ((f = fopen(path, "w")) == NULL) {
            return errno;
        }
        fputs("root:x:0:\n", f);
        fclose(f);
    }
    eic_log_open("cache_crash", log_path, 0);
    eic_log_set_level(LOG_DEBUG);
    return 0;
}

static int add(const char *name)
{
    struct eic_cache_range r = range();
    struct eic_cache_new_user user = {.name = name,
                                      .principal = "arn:aws:iam::111122223333:user/crash",
                                      .home_base = "/home",
                                      .shell = "/bin/sh"};
    uid_t uid;

    return eic_cache_add_user(dir_path, &r, &user, &uid);
}

static int committed_load(struct committed *c)
{
    FILE *f = fopen(state_path, "r");
    char name[MAX_NAME];
    unsigned long uid;

    if (f == NULL) {
        return errno == ENOENT ? 0 : errno;
    }
    while (fscanf(f, "%31s %lu", name, &uid) == 2) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 256;
            void *names = realloc(c->names, cap * sizeof(*c->names));
            void *uids = names ? realloc(c->uids, cap * sizeof(*c->uids)) : NULL;

            if (names != NULL) {
                c->names = names;
            }
            if (uids == NULL) {
                fclose(f);
                return ENOMEM;
            }
            c->uids = uids;
            c->cap = cap;
        }
        snprintf(c->names[c->n], MAX_NAME, "%s", name);
        c->uids[c->n++] = (uid_t)uid;
    }
    fclose(f);
    return 0;
}

static int committed_append(struct committed *c, const char *name, uid_t uid)
{
    FILE *f = fopen(state_path, "a");

    if (f == NULL) {
        return errno;
    }
    fprintf(f, "%s %lu\n", name, (unsigned long)uid);
    fclose(f);
    c->n = 0;
    return committed_load(c); /* re-read: one source of truth, the file */
}

static unsigned count_temps(void)
{
    DIR *d = opendir(dir_path);
    struct dirent *e;
    unsigned n = 0;

    if (d == NULL) {
        return UINT32_MAX;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".accounts.db.", 13) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static bool lock_free(void)
{
    char path[PATH_MAX];
    int fd;
    bool ok;

    snprintf(path, sizeof(path), "%s/accounts.lock", dir_path);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT; /* killed before it was even created */
    }
    ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd); /* releases it */
    return ok;
}

/* The check described at the top, after a writer for name ended. *present says whether name is
 * in the cache now; *temps how many temp files are there. Returns 0 or 1 (printed why). */
static int check(struct committed *c, const char *name, bool *present, unsigned *temps)
{
    struct eic_cache *cache = NULL;
    struct eic_cached_user u;
    int ret, failed = 1;

    *present = false;
    *temps = count_temps();
    ret = eic_cache_open(dir_path, &cache);
    if (ret == ENOENT && c->n == 0) {
        /* Nothing was ever committed and the first writer died before its rename: no file yet. */
    } else if (ret != 0) {
        printf("after %s: the cache does not open: %s\n", name, strerror(ret));
        goto done;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (eic_cache_user_by_name(cache, c->names[i], &u) != 0) {
            printf("after %s: committed account %s is lost\n", name, c->names[i]);
            goto done;
        }
        if (u.uid != c->uids[i]) {
            printf("after %s: %s changed UID %lu -> %lu\n", name, c->names[i], (unsigned long)c->uids[i],
                   (unsigned long)u.uid);
            goto done;
        }
    }
    if (cache != NULL && eic_cache_user_by_name(cache, name, &u) == 0) {
        *present = true;
        if (committed_append(c, name, u.uid) != 0) {
            printf("cannot record %s as committed\n", name);
            goto done;
        }
    }
    if (cache != NULL && eic_cache_n_users(cache) != c->n) {
        printf("after %s: %zu accounts in the cache, %zu committed\n", name, eic_cache_n_users(cache), c->n);
        goto done;
    }
    if (*temps > 1) {
        printf("after %s: %u temp files: they accumulate\n", name, *temps);
        goto done;
    }
    if (!lock_free()) {
        printf("after %s: accounts.lock is still held\n", name);
        goto done;
    }
    failed = 0;
done:
    eic_cache_close(cache);
    return failed;
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A writer in a child process; returns its pid (the parent kills it). */
static pid_t spawn_writer(const char *name)
{
    pid_t pid = fork();

    if (pid == 0) {
        _exit(add(name) == 0 ? 0 : 3);
    }
    return pid;
}

static int random_kills(unsigned n, unsigned seed)
{
    struct committed c = {0};
    struct outcomes o = {0};
    uint64_t t0, writer_us = 0;
    char name[MAX_NAME];
    int failed = 0;

    srandom(seed);
    if (committed_load(&c) != 0) {
        return 1;
    }
    /* How long one writer takes here, as it goes (it grows with the cache): the kills are spread
     * over 1.5 times that, so that they land before, during and after the write and the rename. */
    for (unsigned i = 0; i < n && !failed; i++) {
        int status = 0;
        bool present;
        unsigned temps;
        pid_t pid;
        uint64_t delay;

        snprintf(name, sizeof(name), "crash%u", i);
        if (i < 5 || i % 100 == 0) {
            /* Unkilled runs measure the writer (and commit accounts to lose). */
            t0 = now_us();
            pid = spawn_writer(name);
            if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                printf("writer for %s failed without being killed\n", name);
                failed = 1;
                break;
            }
            writer_us = (now_us() - t0 + writer_us) / (writer_us ? 2 : 1);
            o.measured++;
        } else {
            delay = (uint64_t)random() % (writer_us * 3 / 2 + 1);
            pid = spawn_writer(name);
            if (pid < 0) {
                failed = 1;
                break;
            }
            t0 = now_us();
            while (now_us() - t0 < delay) {
                /* spin: usleep's granularity (~50 us+) would blur the short delays */
            }
            kill(pid, SIGKILL);
            if (waitpid(pid, &status, 0) != pid) {
                failed = 1;
                break;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                printf("writer for %s failed (status %d) before the kill\n", name, WEXITSTATUS(status));
                failed = 1;
                break;
            }
        }
        failed = check(&c, name, &present, &temps);
        if (!failed && i >= 5 && i % 100 != 0) {
            if (WIFEXITED(status)) {
                o.finished++;
            } else if (present) {
                o.killed_after++;
            } else {
                o.killed_before++;
            }
            o.temps_left += temps > 0;
        }
    }
    printf("writers: %u (%u not killed, timing the writer: %.1f ms); killed: finished before the kill %u, "
           "account not written %u, killed after the rename %u; a temp file left behind %u times; "
           "accounts committed %zu\n",
           n, o.measured, (double)writer_us / 1000.0, o.finished, o.killed_before, o.killed_after, o.temps_left,
           c.n);
    free(c.names);
    free(c.uids);
    return failed;
}

static void usage(void)
{
    fprintf(stderr, "usage: cache_crash add DIR NAME | check DIR NAME | random DIR N SEED\n");
}

int main(int argc, char **argv)
{
    struct committed c = {0};
    bool present;
    unsigned temps;
    int ret;

    if (argc < 4) {
        usage();
        return 2;
    }
    if ((ret = setup(argv[2])) != 0) {
        fprintf(stderr, "cache_crash: %s: %s\n", argv[2], strerror(ret));
        return 2;
    }
    if (strcmp(argv[1], "add") == 0 && argc == 4) {
        return add(argv[3]) == 0 ? 0 : 3;
    }
    if (strcmp(argv[1], "check") == 0 && argc == 4) {
        ret = committed_load(&c) != 0 || check(&c, argv[3], &present, &temps) != 0;
        if (ret == 0) {
            printf("%s %s, %u temp file(s)\n", argv[3], present ? "committed" : "not written", temps);
        }
        free(c.names);
        free(c.uids);
        return ret;
    }
    if (strcmp(argv[1], "random") == 0 && argc == 5) {
        return random_kills((unsigned)strtoul(argv[3], NULL, 10), (unsigned)strtoul(argv[4], NULL, 10));
    }
    usage();
    return 2;
}
