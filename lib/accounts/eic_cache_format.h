/* The account cache's file, as its reader (eic_cache_reader.c, linked by every client) and its
 * writer (lib/service/eic_cache_writer.c, in eicd only) both see it. Not an interface of its own:
 * eic_cache.h (reading) and eic_cache_writer.h (writing) are.
 *
 *
 * ON-DISK FORMAT, version 1. Little-endian; every offset is from the start of the file; the
 * sections follow each other in this order with no gaps (the reader requires the exact offsets
 * below, so there is no room for overlapping or dangling sections):
 *
 *   header      96 bytes
 *     0  magic "EICACHE\0"             8  u32 version (1)          12 u32 header size (96)
 *     16 u64 checksum                  24 u64 file size            32 u64 generation
 *     40 i64 written (Unix s)          48 u32 n_users              52 u32 user record size (104)
 *     56 u32 users offset (96)         60 u32 uid index offset     64 u32 n_groups
 *     68 u32 group record size (24)    72 u32 groups offset        76 u32 gid index offset
 *     80 u32 n_members                 84 u32 members offset       88 u32 strings offset
 *     92 u32 strings size (the rest of the file)
 *   users       n_users x 104, sorted by name (strcmp), names unique:
 *     0 u32 name  4 u32 principal  8 u32 gecos  12 u32 home  16 u32 shell   (string offsets)
 *     20 u32 uid  24 u32 gid  28 u32 n_groups (<= 16)  32 i64 created  40 u32 groups[16]
 *   uid index   n_users x u32 user positions, sorted by uid, uids unique; padded to 8 bytes
 *   groups      n_groups x 24, sorted by name, names unique:
 *     0 u32 name  4 u32 gid  8 u32 kind (1 private, 2 eic-managed)  12 u32 first member
 *     16 u32 n_members  20 u32 reserved (0)
 *   gid index   n_groups x u32 group positions, sorted by gid, gids unique
 *   members     n_members x u32 user positions; a group's members are a contiguous run
 *   strings     NUL-terminated strings; offset 0 is ""; the section ends with a NUL, so every
 *               offset below its size names a string that ends inside the file
 *
 * The checksum covers the whole file except its own 8 bytes (bytes 0..15, then 24..end). It
 * detects corruption (a torn copy, a flipped bit), not forgery: the file is root-owned.
 * Local groups named by rules (e.g. "sudo") are not in the group table (files already serves
 * them); their gids are in the users' groups[] so initgroups can add them. */
#ifndef EIC_CACHE_FORMAT_H
#define EIC_CACHE_FORMAT_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "eic_cache.h"

#define CACHE_MAGIC "EICACHE\0"
#define CACHE_VERSION 1u
#define HDR_SIZE 96u
#define USER_REC 104u
#define GROUP_REC 24u
#define LOCK_FILE "accounts.lock"
#define TEMP_TEMPLATE ".accounts.db.XXXXXX"
/* A file this large is not one we wrote (100 000 accounts take about 30 MiB); refusing it keeps
 * every offset within u32 and a corrupt size from mapping the disk. */
#define CACHE_MAX_FILE (1024u * 1024u * 1024u)
#define NAME_MAX_LEN 255u
#define PRINCIPAL_MAX_LEN 2048u
#define PATH_MAX_LEN 1024u

enum group_kind {
    GROUP_PRIVATE = 1, /* the user of the same name's primary group, gid == uid */
    GROUP_MANAGED = 2, /* a rule group no local group provides */
};

/* Header field offsets. */
enum {
    H_MAGIC = 0, H_VERSION = 8, H_HDRSIZE = 12, H_CHECKSUM = 16, H_FILESIZE = 24, H_GENERATION = 32,
    H_WRITTEN = 40, H_NUSERS = 48, H_USERREC = 52, H_USERS = 56, H_UIDIDX = 60, H_NGROUPS = 64,
    H_GROUPREC = 68, H_GROUPS = 72, H_GIDIDX = 76, H_NMEMBERS = 80, H_MEMBERS = 84, H_STRINGS = 88,
    H_STRSIZE = 92,
};
/* User and group record field offsets. */
enum {
    U_NAME = 0, U_PRINCIPAL = 4, U_GECOS = 8, U_HOME = 12, U_SHELL = 16, U_UID = 20, U_GID = 24,
    U_NGROUPS = 28, U_CREATED = 32, U_GROUPS = 40,
};
enum { G_NAME = 0, G_GID = 4, G_KIND = 8, G_FIRST = 12, G_NMEMBERS = 16, G_RESERVED = 20 };

/* The users and the groups sections share one layout: n records of rec_size bytes sorted by the
 * name (a string offset) at name_field, then an index of their positions sorted by the u32 id at
 * id_field. The checks at open and the searches work on this description. */
struct rec_table {
    const unsigned char *recs;
    const unsigned char *id_index;
    uint32_t n;
    uint32_t rec_size;
    uint32_t name_field;
    uint32_t id_field;
};

struct eic_cache {
    const unsigned char *map;
    size_t size;
    char *path;               /* for eic_cache_stale() */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    uint64_t generation;
    struct rec_table users, groups;
    uint32_t n_members, strings_size;
    const unsigned char *members;
    const char *strings;
};

/* ---------- little-endian access (memcpy: no alignment assumption on a hostile file) ---------- */

static inline uint32_t get32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static inline uint64_t get64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static inline void put32(unsigned char *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static inline void put64(unsigned char *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

/* ---------- hashing (eic_cache_format.c) ---------- */

#define EIC_CACHE_FNV_OFFSET 0xcbf29ce484222325ULL

/* FNV-1a, 64 bit: the UID/GID hash. Its output is part of the on-host contract (the same name
 * gets the same UID on every host), so it must never change. */
uint64_t eic_cache_fnv1a64(const void *data, size_t len, uint64_t h);
/* The file's checksum: every byte but the checksum field's own 8. */
uint64_t eic_cache_file_checksum(const unsigned char *file, size_t size);

/* ---------- records of a verified file ---------- */

static inline const char *str_at(const struct eic_cache *c, uint32_t off)
{
    return c->strings + off; /* off < strings_size: checked at open for every stored offset */
}

static inline const unsigned char *rec_at(const struct rec_table *t, uint32_t pos)
{
    return t->recs + (size_t)pos * t->rec_size;
}

static inline const char *name_at(const struct eic_cache *c, const struct rec_table *t, uint32_t pos)
{
    return str_at(c, get32(rec_at(t, pos) + t->name_field));
}

static inline uint32_t id_at(const struct rec_table *t, uint32_t pos)
{
    return get32(rec_at(t, pos) + t->id_field);
}

static inline const unsigned char *user_rec(const struct eic_cache *c, uint32_t pos)
{
    return rec_at(&c->users, pos);
}

static inline const unsigned char *group_rec(const struct eic_cache *c, uint32_t pos)
{
    return rec_at(&c->groups, pos);
}

/* ---------- the reader's checks, which the writer uses too (eic_cache_reader.c) ---------- */

/* Checks the header and every record of c->map[0..c->size); fills c's section pointers. 0 or
 * EBADMSG (the reason logged at debug level). The writer reads back every new version with it. */
int eic_cache_verify(struct eic_cache *c);
/* Maps and verifies an open descriptor (which it does not close). */
int eic_cache_map_fd(int fd, const char *path, struct eic_cache **out);
int eic_cache_join_path(char *buf, size_t len, const char *dir, const char *name);
void eic_cache_fill_user(const struct eic_cache *c, uint32_t pos, struct eic_cached_user *out);
/* Binary search over t's records, sorted by name. 0 with *pos, or ENOENT. */
int eic_cache_find_by_name(const struct eic_cache *c, const struct rec_table *t, const char *name, uint32_t *pos);

#endif
