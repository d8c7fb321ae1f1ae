/* The account cache's hashes: the UID/GID hash and the file checksum (eic_cache_format.h). */
#include "eic_cache_format.h"

uint64_t eic_cache_fnv1a64(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The file checksum. Byte-wise FNV-1a runs at about one byte per multiply latency, ~30 ms for a
 * 100 000-account file, paid by every process that opens the cache; this uses four independent
 * lanes of 64-bit words with a multiply-rotate-multiply round (as XXH64 does), which runs at
 * several bytes per cycle, then folds the lanes and the tail and mixes the result so every input
 * bit reaches every output bit. Corruption detection only, not a MAC. */
#define CK_P1 0x9e3779b185ebca87ULL
#define CK_P2 0xc2b2ae3d27d4eb4fULL
#define CK_P3 0x165667b19e3779f9ULL

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t ck_round(uint64_t acc, uint64_t w)
{
    acc += w * CK_P2;
    acc = rotl64(acc, 31);
    return acc * CK_P1;
}

struct checksum {
    uint64_t lane[4];
    uint64_t total;
};

static void checksum_init(struct checksum *ck)
{
    ck->lane[0] = CK_P1 + CK_P2;
    ck->lane[1] = CK_P2;
    ck->lane[2] = 0;
    ck->lane[3] = 0 - CK_P1;
    ck->total = 0;
}

/* Feeds len bytes; every call but the last must pass a multiple of 32 bytes. */
static void checksum_update(struct checksum *ck, const unsigned char *p, size_t len)
{
    size_t i = 0;
    uint64_t tail = 0;

    for (; i + 32 <= len; i += 32) {
        ck->lane[0] = ck_round(ck->lane[0], get64(p + i));
        ck->lane[1] = ck_round(ck->lane[1], get64(p + i + 8));
        ck->lane[2] = ck_round(ck->lane[2], get64(p + i + 16));
        ck->lane[3] = ck_round(ck->lane[3], get64(p + i + 24));
    }
    for (; i + 8 <= len; i += 8) {
        ck->lane[0] = ck_round(ck->lane[0], get64(p + i));
        ck->lane[0] = rotl64(ck->lane[0], 27) * CK_P3;
    }
    if (i < len) {
        memcpy(&tail, p + i, len - i);
        ck->lane[1] = ck_round(ck->lane[1], le64toh(tail) ^ ((uint64_t)(len - i) << 56));
    }
    ck->total += len;
}

static uint64_t checksum_final(const struct checksum *ck)
{
    uint64_t h = rotl64(ck->lane[0], 1) + rotl64(ck->lane[1], 7) + rotl64(ck->lane[2], 12) + rotl64(ck->lane[3], 18);

    for (int i = 0; i < 4; i++) {
        h = (h ^ ck_round(0, ck->lane[i])) * CK_P1 + CK_P3;
    }
    h ^= ck->total * CK_P2;
    h ^= h >> 33;
    h *= CK_P2;
    h ^= h >> 29;
    h *= CK_P3;
    h ^= h >> 32;
    return h;
}

/* Bytes 0..15 (magic, version, header size) are fed as 16 bytes padded to 32 with zeros, so the
 * bulk of the file (from byte 24) stays in 32-byte steps. */
uint64_t eic_cache_file_checksum(const unsigned char *file, size_t size)
{
    unsigned char first[32] = {0};
    struct checksum ck;

    memcpy(first, file, H_CHECKSUM);
    checksum_init(&ck);
    checksum_update(&ck, first, sizeof(first));
    checksum_update(&ck, file + H_FILESIZE, size - H_FILESIZE);
    return checksum_final(&ck);
}

uint64_t eic_name_hash(const char *name)
{
    return eic_cache_fnv1a64(name, strlen(name), EIC_CACHE_FNV_OFFSET);
}
