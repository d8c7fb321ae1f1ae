/* Home directories of IAM-mapped accounts (docs/PAM.md, "Home directories").
 *
 * Nothing here follows a symlink: the parent is opened O_DIRECTORY|O_NOFOLLOW and must be root's
 * and not group- or world-writable (so nobody else can plant anything in it); the home is built
 * under a temporary name (root-owned 0700 while it is filled), with every directory and file of the
 * skeleton opened O_NOFOLLOW and chowned/chmoded through its descriptor, handed to the user once
 * complete, then renamed into place with RENAME_NOREPLACE. When another session of the same user
 * moved its home into place first (two first logins at once), that directory is the home and the
 * temporary one is removed. */
#ifndef PAM_EIC_HOME_H
#define PAM_EIC_HOME_H

#include <sys/types.h>

/* Make sure home exists as a directory. Missing: create it from skel, owned by uid:gid, mode mode.
 * Returns 0 (created, or already a directory: then it is left alone; also when a directory owned
 * by uid appeared there while this call built its own), ELOOP (a symlink is at the
 * home path), ENOTDIR (something else is there), EPERM (unsafe parent), EINVAL (a home path that
 * is not absolute and clean), or another errno. Every refusal is logged. */
int pam_eic_home_ensure(const char *home, const char *skel, uid_t uid, gid_t gid, mode_t mode);

#endif
