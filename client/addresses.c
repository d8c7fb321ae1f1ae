#include "addresses.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "eic_buf.h"

struct step {
    enum eic_addr_kind kind;
    bool via_eice;
};

/* The orders of addresses.h, one table per connection type. */
static const struct step auto_order[] = {
    {EIC_ADDR_PUBLIC_IPV4, false},
    {EIC_ADDR_PRIVATE_IPV4, true},
    {EIC_ADDR_IPV6, false},
};
static const struct step direct_order[] = {
    {EIC_ADDR_PUBLIC_IPV4, false},
    {EIC_ADDR_IPV6, false},
    {EIC_ADDR_PRIVATE_IPV4, false},
};
static const struct step eice_order[] = {
    {EIC_ADDR_PRIVATE_IPV4, true},
};

int eic_conn_type_parse(const char *text, enum eic_conn_type *out)
{
    if (strcmp(text, "auto") == 0) {
        *out = EIC_CONN_AUTO;
    } else if (strcmp(text, "direct") == 0) {
        *out = EIC_CONN_DIRECT;
    } else if (strcmp(text, "eice") == 0) {
        *out = EIC_CONN_EICE;
    } else {
        return EINVAL;
    }
    return 0;
}

const char *eic_conn_type_name(enum eic_conn_type type)
{
    switch (type) {
    case EIC_CONN_AUTO: return "auto";
    case EIC_CONN_DIRECT: return "direct";
    case EIC_CONN_EICE: return "eice";
    }
    return "?";
}

const char *eic_addr_kind_name(enum eic_addr_kind kind)
{
    switch (kind) {
    case EIC_ADDR_PUBLIC_IPV4: return "public IPv4";
    case EIC_ADDR_PRIVATE_IPV4: return "private IPv4";
    case EIC_ADDR_IPV6: return "IPv6";
    }
    return "?";
}

static const char *address_of(const struct eic_addresses *addrs, enum eic_addr_kind kind)
{
    const char *a = NULL;

    switch (kind) {
    case EIC_ADDR_PUBLIC_IPV4: a = addrs->public_ipv4; break;
    case EIC_ADDR_PRIVATE_IPV4: a = addrs->private_ipv4; break;
    case EIC_ADDR_IPV6: a = addrs->ipv6; break;
    }
    return (a != NULL && a[0] != '\0') ? a : NULL;
}

int eic_route_choose(enum eic_conn_type type, const struct eic_addresses *addrs, struct eic_route *out)
{
    const struct step *order = auto_order;
    size_t n = sizeof(auto_order) / sizeof(auto_order[0]);

    if (type == EIC_CONN_DIRECT) {
        order = direct_order;
        n = sizeof(direct_order) / sizeof(direct_order[0]);
    } else if (type == EIC_CONN_EICE) {
        order = eice_order;
        n = sizeof(eice_order) / sizeof(eice_order[0]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *a = address_of(addrs, order[i].kind);

        if (a != NULL) {
            out->kind = order[i].kind;
            out->address = a;
            out->via_eice = order[i].via_eice;
            return 0;
        }
    }
    return ENOENT;
}

int eic_proxy_word(struct eic_buf *buf, const char *s)
{
    int ret = eic_buf_append_str(buf, buf->len ? " '" : "'");

    for (; ret == 0 && *s != '\0'; s++) {
        if (*s == '\'') {
            ret = eic_buf_append_str(buf, "'\\''");
        } else if (*s == '%') {
            ret = eic_buf_append_str(buf, "%%");
        } else {
            ret = eic_buf_append(buf, s, 1);
        }
    }
    return ret == 0 ? eic_buf_append_str(buf, "'") : ret;
}
