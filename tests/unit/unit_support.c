#include "unit_support.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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
