/* Helpers shared by the unit tests (cmocka). Each fails the running test on an error, so no test
 * goes on with half-read data. */
#ifndef EIC_UNIT_SUPPORT_H
#define EIC_UNIT_SUPPORT_H

#include <stddef.h>

/* The whole file at path, NUL-terminated (binary files too); its length in *len unless len is
 * NULL. NULL when the file does not exist; any other error fails the test. Free with free(). */
char *unit_read_file(const char *path, size_t *len);

/* Remove dir and everything under it (a test's own mkdtemp tree): depth first, no symbolic link
 * followed. 0, or -1 when something could not be removed. */
int unit_remove_tree(const char *dir);

/* The descriptor number this process has open on path (found through /proc/self/fd), or -1: how
 * a test finds a module's own descriptor, e.g. the logger's, to play a host that closes it. */
int unit_fd_open_on(const char *path);

#endif
