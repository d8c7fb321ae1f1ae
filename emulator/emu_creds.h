/* Temporary credentials of the world's roles as the compute metadata services hand them out:
 *
 * IMDS (the role with "instance_profile": true): /latest/meta-data/iam/ lists "info" and
 * "security-credentials/"; .../security-credentials/ names the role; .../security-credentials/NAME
 * is {"Code": "Success", "LastUpdated", "Type": "AWS-HMAC", "AccessKeyId", "SecretAccessKey",
 * "Token", "Expiration"}. Caller: arn:aws:sts::ACCOUNT:assumed-role/NAME/INSTANCE-ID.
 *
 * container credentials (a role's "container_path"): GET of that path (with the Authorization
 * header the role names, if it names one) gives {"RoleArn", "AccessKeyId", "SecretAccessKey",
 * "Token", "Expiration"}, as the ECS agent does. Caller: .../assumed-role/NAME/container.
 *
 * Both give the same credentials again until half their lifetime (the role's
 * max_session_duration) has passed, like the real services. */
#ifndef EMU_CREDS_H
#define EMU_CREDS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "emu_server.h"

/* IMDS paths below /latest/meta-data/iam (path already checked for a valid token). Returns
 * ENOENT when path is not one of them, else 0 (reply filled) or an errno value. */
int emu_creds_imds(struct emu_server *srv, const char *path, struct emu_reply *reply);
/* Whether the world has a role served at path (container credentials). */
bool emu_creds_container_request(const struct emu_server *srv, const struct emu_request *req);
int emu_creds_container_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

/* {"AccessKeyId", "SecretAccessKey", "Token"/token_name, "Expiration"} members of p added to obj. */
int emu_creds_add_json(json_object *obj, const struct emu_principal *p, const char *token_name);
/* ISO 8601 UTC time of t into out[32]. */
void emu_creds_iso_time(long long t, char out[32]);

#endif
