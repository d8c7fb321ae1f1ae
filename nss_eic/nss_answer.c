/* nss_eic: what glibc gets back. The entry copied into the caller's buffer, and the status the
 * errno-style result of a lookup becomes at the _nss_eic_* boundary. The two are one contract:
 * ERANGE from a copy is the only way to TRYAGAIN, which glibc takes to mean "retry with a larger
 * buffer". See nss_common.h. */
#include "nss_common.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Append s (NUL included) at *pos; the caller has checked the room. */
static char *put_string(char **pos, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *pos;

    memcpy(dst, s, n);
    *pos += n;
    return dst;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

int nss_fill_passwd(const struct eic_cached_user *u, struct passwd *pw, char *buf, size_t buflen)
{
    size_t need = strlen(u->name) + 1 + 2 + strlen(or_empty(u->gecos)) + 1 + strlen(or_empty(u->home)) + 1 +
                  strlen(or_empty(u->shell)) + 1;
    char *pos = buf;

    if (buf == NULL || need > buflen) {
        return ERANGE; /* not ENOMEM: ERANGE is what glibc looks for to retry with a larger buffer */
    }
    pw->pw_name = put_string(&pos, u->name);
    /* "*", not "x": with "x" and no shadow entry, pam_unix's account check fails. */
    pw->pw_passwd = put_string(&pos, "*");
    pw->pw_uid = u->uid;
    pw->pw_gid = u->gid;
    pw->pw_gecos = put_string(&pos, or_empty(u->gecos));
    pw->pw_dir = put_string(&pos, or_empty(u->home));
    pw->pw_shell = put_string(&pos, or_empty(u->shell));
    return 0;
}

int nss_fill_group(const struct eic_cache *cache, const struct eic_cached_group *g, struct group *gr, char *buf,
                   size_t buflen)
{
    const size_t align = __alignof__(char *);
    size_t pad;
    size_t need;
    size_t n = 0;
    char **mem;
    char *pos;

    if (buf == NULL) {
        return ERANGE;
    }
    /* gr_mem comes first, aligned: the caller's buffer is a char array with no alignment. */
    pad = (align - (uintptr_t)buf % align) % align;
    need = strlen(g->name) + 1 + 2;
    for (size_t i = 0; i < g->n_members; i++) {
        const char *m = eic_cache_group_member(cache, g, i);

        if (m != NULL) {
            need += strlen(m) + 1;
            n++;
        }
    }
    if (n > (SIZE_MAX - need - pad) / sizeof(char *) - 1 || pad + (n + 1) * sizeof(char *) + need > buflen) {
        return ERANGE;
    }
    mem = (char **)(void *)(buf + pad);
    pos = buf + pad + (n + 1) * sizeof(char *);
    gr->gr_name = put_string(&pos, g->name);
    gr->gr_passwd = put_string(&pos, "*");
    gr->gr_gid = g->gid;
    n = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        const char *m = eic_cache_group_member(cache, g, i);

        if (m != NULL) {
            mem[n++] = put_string(&pos, m);
        }
    }
    mem[n] = NULL;
    gr->gr_mem = mem;
    return 0;
}

enum nss_status nss_status(int err, int *errnop)
{
    switch (err) {
    case 0:
        return NSS_STATUS_SUCCESS;
    case ERANGE:
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    case ENOENT:
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    default:
        /* IMDS unreachable or not trusted, out of memory: the back end cannot answer. Never
         * TRYAGAIN here: glibc callers take TRYAGAIN to mean "give me a larger buffer". */
        *errnop = err;
        return NSS_STATUS_UNAVAIL;
    }
}
