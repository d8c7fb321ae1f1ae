/* The emulated instance metadata service (docs/PROTOCOL.md), served under /latest/.
 *
 * IMDSv2 tokens: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds: 1..21600
 * returns a random token (32 bytes, base64url); a GET carrying X-aws-ec2-metadata-token must
 * name a live token (else 401); a GET without one gets 401 unless IMDSv1 is allowed. */
#ifndef EMU_IMDS_H
#define EMU_IMDS_H

#include "emu_server.h"

#define EMU_IMDS_TOKEN_TTL_MAX 21600
#define EMU_IMDS_MAX_TOKENS 4096

int emu_tokens_new(struct emu_tokens **out);
void emu_tokens_free(struct emu_tokens *tokens);
/* Issue a token valid for ttl seconds into out[64]. */
int emu_tokens_issue(struct emu_tokens *tokens, long ttl, char out[64]);
/* Whether token is one that was issued and has not expired. */
bool emu_tokens_valid(struct emu_tokens *tokens, const char *token);

/* Whether path belongs to IMDS ("/latest" or below). */
bool emu_imds_path(const char *path);
/* Answer one IMDS request. Returns 0 (reply filled) or an errno value (internal failure). */
int emu_imds_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
