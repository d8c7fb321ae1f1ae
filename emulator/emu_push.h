/* The emulated EC2 Instance Connect API (JSON 1.1 protocol, docs/PROTOCOL.md):
 * POST / with X-Amz-Target: AWSEC2InstanceConnectService.SendSSHPublicKey, SigV4-signed for
 * service "ec2-instance-connect" in the world's region.
 *
 * Order of checks: operation (404/400 UnknownOperationException), signature (AuthException),
 * body (SerializationException), arguments and key (InvalidArgsException), instance and zone
 * (EC2InstanceNotFoundException), policy (AccessDeniedException, as IAM answers). Every refusal is
 * logged with its reason; an accepted push stores a signed record for the OS user. */
#ifndef EMU_PUSH_H
#define EMU_PUSH_H

#include "emu_server.h"

#define EMU_PUSH_TARGET "AWSEC2InstanceConnectService.SendSSHPublicKey"
#define EMU_PUSH_SERVICE "ec2-instance-connect"
#define EMU_JSON_TYPE "application/x-amz-json-1.1"

int emu_push_init(void);
void emu_push_cleanup(void);
/* Answer one push API request (any path outside /latest). Returns 0 (reply filled) or an
 * errno value (internal failure). */
int emu_push_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);
/* An error reply in the JSON 1.1 protocol's shape: {"__type":type,"Message":message} with an
 * x-amzn-RequestId header. */
int emu_push_error(struct emu_reply *reply, unsigned int status, const char *type, const char *message);

/* Verify a request's SigV4 signature for the signing name service (also used by emu_ec2.c).
 * Returns 0 with *out set, EACCES with the reason in msg (EMU_PUSH_MSG_LEN bytes; never a
 * secret or the expected signature), or ENOMEM. */
#define EMU_PUSH_MSG_LEN 512
int emu_push_verify_sigv4(struct emu_server *srv, const struct emu_request *req, const char *service,
                          const struct emu_principal **out, char *msg);

/* The same for a presigned request (SigV4 in the query: X-Amz-Algorithm, X-Amz-Credential,
 * X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature, optional
 * X-Amz-Security-Token), valid from X-Amz-Date for X-Amz-Expires seconds, at most max_expires. */
int emu_push_verify_presigned(struct emu_server *srv, const struct emu_request *req, const char *service,
                              long max_expires, const struct emu_principal **out, char *msg);

#endif
