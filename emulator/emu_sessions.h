/* Temporary credentials the emulator issues (STS, IMDS role credentials, container credentials,
 * the SSO portal): an access key id ASIA..., a secret and a session token, for a caller ARN
 * (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), until an expiry time. The push, EC2 and
 * tunnel handlers accept them like the world's principals (emu_push_verify_*), and refuse them
 * once expired.
 *
 * The table is bounded (EMU_MAX_SESSIONS). A slot is reused only an hour after its credentials
 * expired, so that a pointer handed out by emu_sessions_find stays valid for the request that
 * looked it up. */
#ifndef EMU_SESSIONS_H
#define EMU_SESSIONS_H

#include "emu_world.h"

#define EMU_MAX_SESSIONS 4096

struct emu_sessions;

int emu_sessions_new(struct emu_sessions **out);
void emu_sessions_free(struct emu_sessions *sessions);

/* Credentials for arn, valid from now for duration seconds. With reuse_key (e.g. "imds"), the
 * credentials issued last under that key are given again while more than half their lifetime is
 * left, as IMDS and the container agent hand out the same credentials until they rotate them.
 * Returns 0 with *out set, ENOSPC (the table is full of live credentials), ENOMEM or EIO (no
 * randomness). */
int emu_sessions_issue(struct emu_sessions *sessions, const char *arn, long long now, long duration,
                       const char *reuse_key, const struct emu_principal **out);

/* The credentials whose access key id is access_key_id (expired ones included: the caller says
 * "expired"), or NULL. */
const struct emu_principal *emu_sessions_find(struct emu_sessions *sessions, const char *access_key_id);

#endif
