#include "unit_support.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

char *unit_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    char *data;
    long n;

    if (f == NULL) {
        assert_int_equal(errno, ENOENT);
        return NULL;
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    if (len != NULL) {
        *len = (size_t)n;
    }
    return data;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

int unit_remove_tree(const char *dir)
{
    /* 16 descriptors: nftw keeps one per level open, and no test tree is deeper than that. */
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int unit_fd_open_on(const char *path)
{
    char link[300]; /* "/proc/self/fd/" and a d_name of up to 255 bytes */
    char target[PATH_MAX];
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    int found = -1;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        ssize_t n;

        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) {
            continue;
        }
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, path) == 0) {
                found = atoi(e->d_name);
            }
        }
    }
    closedir(d);
    return found;
}
