/* nss_eic: enumeration (setpwent/getpwent_r/endpwent and the group ones). Each database has one
 * cursor, as glibc's interface has one per process; what to skip and what to copy is the
 * database's own (nss_passwd.c, nss_group.c). See nss_common.h. */
#include "nss_common.h"

int nss_cursor_rewind(struct nss_cursor *c)
{
    struct nss_view *view = NULL;
    int ret;

    /* Outside the cursor's lock, which is held only to swap views. (Under it the view's lock may
     * be taken, never the other way round.) */
    ret = nss_view_acquire(&view);
    pthread_mutex_lock(&c->lock);
    nss_view_release(c->view);
    c->view = view;
    c->next = 0;
    pthread_mutex_unlock(&c->lock);
    return ret;
}

void nss_cursor_close(struct nss_cursor *c)
{
    pthread_mutex_lock(&c->lock);
    nss_view_release(c->view);
    c->view = NULL;
    c->next = 0;
    pthread_mutex_unlock(&c->lock);
}

int nss_cursor_lock(struct nss_cursor *c)
{
    int ret = 0;

    pthread_mutex_lock(&c->lock);
    if (c->view == NULL) {
        /* get*ent without set*ent is allowed: start at the beginning. */
        ret = nss_view_acquire(&c->view);
        c->next = 0;
    }
    return ret;
}

void nss_cursor_unlock(struct nss_cursor *c)
{
    pthread_mutex_unlock(&c->lock);
}
