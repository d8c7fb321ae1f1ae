/* The emulated EC2 API, just DescribeInstances for the world's one instance (what `eic ssh`
 * and `aws ec2 describe-instances` need). EC2 speaks the Query protocol: POST / with a form
 * body "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=...", SigV4-signed for service
 * "ec2", answered with XML in AWS's shape (errors: <Response><Errors><Error><Code>...). */
#ifndef EMU_EC2_H
#define EMU_EC2_H

#include <stdbool.h>

#include "emu_server.h"

#define EMU_EC2_SERVICE "ec2"
#define EMU_EC2_VERSION "2016-11-15"
#define EMU_FORM_TYPE "application/x-www-form-urlencoded"

/* Whether req is for the EC2 API: a POST with a form body naming an Action and no X-Amz-Target
 * (the push API's JSON protocol always sends one). */
bool emu_ec2_request(const struct emu_request *req);
/* Answer one EC2 API request. Returns 0 (reply filled) or an errno value (internal failure). */
int emu_ec2_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
