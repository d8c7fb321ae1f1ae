/* The account cache reader (lib/accounts/eic_cache_reader.c): open, verify, enumerate and look up
 * from arbitrary file contents. The file carries a checksum over all of it, which random bytes
 * never match; so that the fuzzer reaches the checks behind it, the harness takes the layout and
 * the checksum from eic_cache_format.h and stamps the file size and checksum into the header of
 * every input of header size or more before writing it to accounts.db in a private directory
 * under /dev/shm (the only file it writes).
 * The corpus holds real files written by eic_cache_add_users (fuzz/make-corpus.sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eic_cache_format.h"
#include "eic_util.h"

#include "fuzz_common.h"

static char dir[64];
static char file[128];

static void remove_dir(void)
{
    unlink(file);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* tmpfs: a file written per input never reaches a disk (three times the executions). */
    snprintf(dir, sizeof(dir), "/dev/shm/eic-fuzz-cache.XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof(file), "%s/%s", dir, EIC_CACHE_FILE);
    atexit(remove_dir);
    fuzz_quiet_logs();
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    int fd;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    if (size >= HDR_SIZE) {
        put64(copy + H_FILESIZE, size);
        put64(copy + H_CHECKSUM, eic_cache_file_checksum(copy, size));
    }
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(eic_write_all(fd, copy, size) == 0);
    close(fd);
    free(copy);
}

/* Every entry reachable by enumeration must be found again by name and by id, as itself. */
static void check_cache(const struct eic_cache *cache)
{
    size_t n_users = eic_cache_n_users(cache);
    size_t n_groups = eic_cache_n_groups(cache);

    for (size_t i = 0; i < n_users; i++) {
        struct eic_cached_user u, by_name, by_uid;

        FUZZ_CHECK(eic_cache_user_at(cache, i, &u) == 0);
        FUZZ_CHECK(u.name[0] != '\0' && u.principal && u.gecos && u.home && u.shell);
        FUZZ_CHECK(u.n_groups <= EIC_CACHE_MAX_GROUPS_PER_USER);
        FUZZ_CHECK(eic_cache_user_by_name(cache, u.name, &by_name) == 0 && by_name.uid == u.uid);
        FUZZ_CHECK(eic_cache_user_by_uid(cache, u.uid, &by_uid) == 0 && strcmp(by_uid.name, u.name) == 0);
    }
    FUZZ_CHECK(eic_cache_user_at(cache, n_users, &(struct eic_cached_user){0}) == ENOENT);
    for (size_t i = 0; i < n_groups; i++) {
        struct eic_cached_group g, by_name, by_gid;
        struct eic_cached_user member;

        FUZZ_CHECK(eic_cache_group_at(cache, i, &g) == 0);
        FUZZ_CHECK(g.name[0] != '\0');
        FUZZ_CHECK(eic_cache_group_by_name(cache, g.name, &by_name) == 0 && by_name.gid == g.gid);
        FUZZ_CHECK(eic_cache_group_by_gid(cache, g.gid, &by_gid) == 0 && strcmp(by_gid.name, g.name) == 0);
        for (size_t m = 0; m < g.n_members; m++) {
            const char *name = eic_cache_group_member(cache, &g, m);

            FUZZ_CHECK(name != NULL && eic_cache_user_by_name(cache, name, &member) == 0);
        }
        FUZZ_CHECK(eic_cache_group_member(cache, &g, g.n_members) == NULL);
    }
    FUZZ_CHECK(eic_cache_group_at(cache, n_groups, &(struct eic_cached_group){0}) == ENOENT);
    /* Names and ids that are not there. */
    FUZZ_CHECK(eic_cache_user_by_name(cache, "", &(struct eic_cached_user){0}) == ENOENT);
    FUZZ_CHECK(eic_cache_group_by_name(cache, "", &(struct eic_cached_group){0}) == ENOENT);
    (void)eic_cache_user_by_uid(cache, 0, &(struct eic_cached_user){0});
    (void)eic_cache_group_by_gid(cache, 4294967295u, &(struct eic_cached_group){0});
    FUZZ_CHECK(!eic_cache_stale(cache));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eic_cache *cache = NULL;
    int ret;

    write_input(data, size);
    ret = eic_cache_open(dir, &cache);
    FUZZ_CHECK(ret == 0 || ret == EBADMSG || ret == ENOMEM);
    FUZZ_CHECK((ret == 0) == (cache != NULL));
    if (cache != NULL) {
        check_cache(cache);
    }
    eic_cache_close(cache);
    return 0;
}
