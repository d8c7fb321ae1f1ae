#include "pam_home.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eic_log.h"
#include "eic_util.h"
#include "pam_args.h"

#define SKEL_MAX_DEPTH 8
#define SKEL_MAX_ENTRIES 10000

struct copy_state {
    uid_t uid;
    gid_t gid;
    size_t entries;
};

static int copy_file(int src_dir, int dst_dir, const char *name, mode_t mode, struct copy_state *cs)
{
    char buf[65536];
    int in = -1, out = -1;
    ssize_t n;
    int ret;

    in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (in < 0) {
        ret = errno;
        goto done;
    }
    out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (out < 0) {
        ret = errno;
        goto done;
    }
    for (;;) {
        n = eic_read_retry(in, buf, sizeof(buf));
        if (n < 0) {
            ret = errno;
            goto done;
        }
        if (n == 0) {
            break;
        }
        ret = eic_write_all(out, buf, (size_t)n);
        if (ret != 0) {
            goto done;
        }
    }
    if (fchown(out, cs->uid, cs->gid) != 0 || fchmod(out, mode) != 0) {
        ret = errno;
        goto done;
    }
    ret = 0;
done:
    if (in >= 0) {
        close(in);
    }
    if (out >= 0 && close(out) != 0 && ret == 0) {
        ret = errno;
    }
    return ret;
}

/* Copy the contents of directory src into directory dst (both open descriptors). */
static int copy_tree(int src, int dst, unsigned depth, struct copy_state *cs)
{
    DIR *d = NULL;
    struct dirent *e;
    int fd;
    int ret = 0;

    if (depth > SKEL_MAX_DEPTH) {
        eic_log(LOG_WARNING, "skeleton directory nested deeper than %d levels; the rest is not copied",
                SKEL_MAX_DEPTH);
        return 0;
    }
    fd = dup(src); /* fdopendir takes ownership of its descriptor */
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        ret = errno;
        if (fd >= 0) {
            close(fd);
        }
        goto done;
    }
    while ((errno = 0, e = readdir(d)) != NULL) {
        struct stat st;
        /* Set-id and sticky bits never come from the skeleton. */
        mode_t mode;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (++cs->entries > SKEL_MAX_ENTRIES) {
            eic_log(LOG_ERR, "skeleton directory has more than %d entries", SKEL_MAX_ENTRIES);
            ret = EFBIG;
            goto done;
        }
        if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            ret = errno;
            goto done;
        }
        mode = st.st_mode & 0777;
        if (S_ISREG(st.st_mode)) {
            ret = copy_file(src, dst, e->d_name, mode, cs);
        } else if (S_ISDIR(st.st_mode)) {
            int s = -1, t = -1;

            if (mkdirat(dst, e->d_name, 0700) != 0) {
                ret = errno;
                goto done;
            }
            s = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            t = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s < 0 || t < 0) {
                ret = errno;
            } else {
                ret = copy_tree(s, t, depth + 1, cs);
                if (ret == 0 && (fchown(t, cs->uid, cs->gid) != 0 || fchmod(t, mode) != 0)) {
                    ret = errno;
                }
            }
            if (s >= 0) {
                close(s);
            }
            if (t >= 0) {
                close(t);
            }
        } else if (S_ISLNK(st.st_mode)) {
            /* A link's target is resolved in the user's home later; copying links would let a
             * skeleton point into places the admin did not mean. */
            eic_log(LOG_NOTICE, "skeleton entry %s is a symlink; not copied", e->d_name);
        } else {
            eic_log(LOG_NOTICE, "skeleton entry %s is not a regular file or directory; not copied", e->d_name);
        }
        if (ret != 0) {
            eic_log(LOG_ERR, "cannot copy skeleton entry %s: %s", e->d_name, strerror(ret));
            goto done;
        }
    }
    if (errno != 0) {
        ret = errno;
    }
done:
    if (d != NULL) {
        closedir(d);
    }
    return ret;
}

/* Remove the half-built temporary home (name in parent). Nothing is followed: entries are
 * unlinked, directories opened O_NOFOLLOW. */
static void remove_tree(int parent, const char *name, unsigned depth)
{
    DIR *d;
    struct dirent *e;
    int fd;

    if (depth <= SKEL_MAX_DEPTH + 1) {
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            d = fdopendir(fd);
            if (d == NULL) {
                close(fd);
            } else {
                while ((e = readdir(d)) != NULL) {
                    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                        continue;
                    }
                    if (unlinkat(dirfd(d), e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM)) {
                        remove_tree(dirfd(d), e->d_name, depth + 1);
                    }
                }
                closedir(d);
            }
        }
    }
    (void)unlinkat(parent, name, AT_REMOVEDIR);
}

/* Split an absolute, clean path into its parent directory and last component. */
static int split_home(const char *home, char *parent, size_t parent_len, const char **base)
{
    const char *slash = strrchr(home, '/');
    size_t plen;

    if (!pam_eic_valid_path(home) || slash == NULL || slash[1] == '\0') {
        return EINVAL;
    }
    *base = slash + 1;
    plen = slash == home ? 1 : (size_t)(slash - home);
    if (plen >= parent_len) {
        return EINVAL;
    }
    memcpy(parent, home, plen);
    parent[plen] = '\0';
    return 0;
}

int pam_eic_home_ensure(const char *home, const char *skel, uid_t uid, gid_t gid, mode_t mode)
{
    char parent[PAM_EIC_PATH_MAX];
    char tmp[PAM_EIC_PATH_MAX];
    const char *base = NULL;
    struct copy_state cs = {uid, gid, 0};
    struct stat st;
    bool made_tmp = false;
    int pfd = -1, hfd = -1, sfd = -1;
    int ret;

    ret = split_home(home, parent, sizeof(parent), &base);
    if (ret != 0) {
        eic_log(LOG_ERR, "home directory %s is not an absolute, clean path; not created", home);
        goto done;
    }
    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
        ret = errno;
        eic_log(LOG_ERR, "cannot open %s, the parent of home directory %s: %s", parent, home, strerror(ret));
        goto done;
    }
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            ret = 0; /* an existing home is the user's business */
        } else if (S_ISLNK(st.st_mode)) {
            ret = ELOOP;
            eic_log(LOG_ERR, "home directory %s is a symlink; refusing the session", home);
        } else {
            ret = ENOTDIR;
            eic_log(LOG_ERR, "home directory %s exists and is not a directory; refusing the session", home);
        }
        goto done;
    }
    if (errno != ENOENT) {
        ret = errno;
        eic_log(LOG_ERR, "cannot check home directory %s: %s", home, strerror(ret));
        goto done;
    }
    if (fstat(pfd, &st) != 0) {
        ret = errno;
        goto done;
    }
    /* Anyone else who can write the parent could swap what we create for a link between two of our
     * steps; then nothing we do by name there can be trusted. */
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ret = EPERM;
        eic_log(LOG_ERR, "%s must be owned by root and not group- or world-writable; not creating %s", parent, home);
        goto done;
    }

    if (snprintf(tmp, sizeof(tmp), ".%s.eic-new.%ld", base, (long)getpid()) >= (int)sizeof(tmp)) {
        ret = ENAMETOOLONG;
        goto done;
    }
    if (mkdirat(pfd, tmp, 0700) != 0) {
        ret = errno;
        eic_log(LOG_ERR, "cannot create %s/%s: %s", parent, tmp, strerror(ret));
        goto done;
    }
    made_tmp = true;
    hfd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (hfd < 0) {
        ret = errno;
        goto done;
    }
    sfd = open(skel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        /* No skeleton is not a reason to refuse a login: the home is created empty. */
        eic_log(LOG_WARNING, "cannot open skeleton directory %s: %s; creating an empty home", skel, strerror(errno));
    } else {
        ret = copy_tree(sfd, hfd, 0, &cs);
        if (ret != 0) {
            goto done;
        }
    }
    /* Handed over once it is complete, through the descriptor (until now only root could enter
     * it), and before it is moved into place: a home never shows at its path owned by root, so a
     * session that finds it there (below) can tell it is the user's. Nothing is done inside the
     * tree after this. */
    if (fchown(hfd, uid, gid) != 0 || fchmod(hfd, mode) != 0) {
        ret = errno;
        eic_log(LOG_ERR, "cannot give home directory %s to uid %lu: %s", home, (unsigned long)uid, strerror(ret));
        goto done;
    }
    if (renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) != 0) {
        ret = errno;
        /* Two first logins of a new account at once (scp after ssh, an IDE's or Ansible's parallel
         * connections): both found no home, the other one moved its home into place first. */
        if (ret == EEXIST && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == uid) {
            eic_log(LOG_INFO, "home directory %s was created by another session meanwhile; using it", home);
            ret = 0;
            goto done;
        }
        eic_log(LOG_ERR, "cannot move the new home directory into place at %s: %s", home, strerror(ret));
        goto done;
    }
    made_tmp = false;
    eic_log(LOG_INFO, "created home directory %s from %s (uid %lu, mode %04o)", home, skel, (unsigned long)uid,
            (unsigned)mode);
    ret = 0;
done:
    if (made_tmp) {
        remove_tree(pfd, tmp, 0);
    }
    if (sfd >= 0) {
        close(sfd);
    }
    if (hfd >= 0) {
        close(hfd);
    }
    if (pfd >= 0) {
        close(pfd);
    }
    return ret;
}
