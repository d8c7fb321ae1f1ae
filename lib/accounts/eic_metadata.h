/* Checks on values that come from IMDS or from the command line before they are used in a
 * URL, a file name, a log line or a comparison (docs/PROTOCOL.md). */
#ifndef EIC_METADATA_H
#define EIC_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#define EIC_LOGIN_NAME_MAX 32

/* ^i-[0-9a-f]{8,32}$ */
bool eic_valid_instance_id(const char *s);
/* ^([a-z]+-){2,3}[0-9][a-z]$ ; on success the region (the zone without its final letter) is
 * written to region (region_len must be at least strlen(zone)). */
bool eic_region_from_zone(const char *zone, char *region, size_t region_len);
/* amazonaws.com, amazonaws.com.cn, c2s.ic.gov or sc2s.sgov.gov. */
bool eic_valid_domain(const char *s);
/* A login name safe to look up and to put in an IMDS path: 1..32 of [A-Za-z0-9._-], not
 * starting with '-' or '.', optionally ending in '$' (Samba machine accounts). The same rule
 * as Debian's adduser default, minus '@' and upper-case only where the OS accepts it. */
bool eic_valid_login_name(const char *s);

#endif
