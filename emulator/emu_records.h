/* Signed key records and the per-os-user store behind managed-ssh-keys/active-keys/<user>/.
 *
 * A record (docs/PROTOCOL.md):
 *   #Timestamp=<expiry unix seconds>\n#Instance=<id>\n#Caller=<arn>\n#Request=<uuid>\n
 *   <openssh key line>\n<base64 RSA-PSS signature>\n
 * The signed bytes are the four '#' lines and the key line, each with its '\n'.
 * The store serves the unexpired records of a user joined by a blank line. */
#ifndef EMU_RECORDS_H
#define EMU_RECORDS_H

#include <stddef.h>
#include <time.h>

#include "eic_buf.h"
#include "emu_pki.h"

struct emu_record_fields {
    long long expires;          /* #Timestamp */
    const char *instance_id;    /* #Instance */
    const char *caller_arn;     /* #Caller */
    const char *request_id;     /* #Request */
    const char *key_line;       /* OpenSSH one-line key, no newline */
};

/* Build and sign one record (malloc'd text ending in "\n"). With tamper set, one byte of the
 * signed part is changed after signing (the "tampered record" fault). */
int emu_record_make(const struct emu_pki *pki, const struct emu_record_fields *fields, int tamper,
                    char **record);

struct emu_record_store; /* thread-safe */

int emu_record_store_new(struct emu_record_store **out);
void emu_record_store_free(struct emu_record_store *store);
/* Takes a copy of record. Several records per user accumulate. ENOSPC beyond 64 live records per user. */
int emu_record_store_add(struct emu_record_store *store, const char *os_user, const char *record,
                         long long expires);
/* Drop the records with expires <= now, then append the user's records to out, separated by
 * "\n" (so a blank line lies between records). ENOENT when the user has none. */
int emu_record_store_render(struct emu_record_store *store, const char *os_user, long long now,
                            struct eic_buf *out);
/* Make a random RFC 4122 version 4 UUID (lower case) into out[37]. */
int emu_uuid4(char out[37]);

#endif
