/* Which address `eic ssh` connects to, and how (pure logic, no I/O; tests/unit/test_addresses.c).
 *
 *   auto    public IPv4 (direct), else private IPv4 (through an Instance Connect Endpoint),
 *           else IPv6 (direct)
 *   direct  public IPv4, else IPv6, else private IPv4 (all direct: no endpoint)
 *   eice    private IPv4 through an Instance Connect Endpoint
 *
 * A missing address (NULL or "") is skipped and the next one in the order is tried. */
#ifndef EIC_CLIENT_ADDRESSES_H
#define EIC_CLIENT_ADDRESSES_H

#include <stdbool.h>

enum eic_conn_type {
    EIC_CONN_AUTO,
    EIC_CONN_DIRECT,
    EIC_CONN_EICE,
};

enum eic_addr_kind {
    EIC_ADDR_PUBLIC_IPV4,
    EIC_ADDR_PRIVATE_IPV4,
    EIC_ADDR_IPV6,
};

struct eic_addresses {
    const char *public_ipv4;  /* NULL or "": none */
    const char *private_ipv4;
    const char *ipv6;
};

struct eic_route {
    enum eic_addr_kind kind;
    const char *address;      /* points into the eic_addresses given */
    bool via_eice;            /* through an Instance Connect Endpoint, else direct */
};

/* "auto", "direct", "eice" → *out. Returns 0 or EINVAL. */
int eic_conn_type_parse(const char *text, enum eic_conn_type *out);
const char *eic_conn_type_name(enum eic_conn_type type);
const char *eic_addr_kind_name(enum eic_addr_kind kind);

/* The first available address in type's order. Returns 0 with *out filled, or ENOENT when the
 * instance has none of the addresses type may use. */
int eic_route_choose(enum eic_conn_type type, const struct eic_addresses *addrs, struct eic_route *out);

/* Append s to buf as one word of an OpenSSH ProxyCommand: ssh expands %-tokens in it first (a
 * literal '%' is written "%%"), then runs it with /bin/sh -c (the word is single-quoted, a "'"
 * written '\''). Returns 0 or the eic_buf error. */
struct eic_buf;
int eic_proxy_word(struct eic_buf *buf, const char *s);

#endif
