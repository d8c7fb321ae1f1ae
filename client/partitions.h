/* The AWS partitions (aws, aws-cn, aws-us-gov, the ISO ones, the EU sovereign cloud...): which
 * region belongs to which, and the DNS suffixes of their endpoints. One table, partitions.c,
 * generated from botocore's partitions.json by scripts/gen-partitions. */
#ifndef EIC_CLIENT_PARTITIONS_H
#define EIC_CLIENT_PARTITIONS_H

#include <stdbool.h>
#include <stddef.h>

struct eic_partition {
    const char *id;                    /* "aws-us-gov" */
    const char *region_regex;          /* POSIX extended expression */
    const char *const *regions;        /* the regions the partition lists, NULL-terminated */
    const char *dns_suffix;            /* "amazonaws.com" */
    const char *dual_stack_dns_suffix; /* "api.aws" */
    bool supports_fips;
    bool supports_dual_stack;
};

extern const struct eic_partition eic_partitions[];
extern const size_t eic_n_partitions;

#endif
