/* The emulated EC2 API, just DescribeInstances for the world's one instance (what `eic ssh`
 * and `aws ec2 describe-instances` need). EC2 speaks the Query protocol: POST / with a form
 * body "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=...", SigV4-signed for service
 * "ec2", answered with XML in AWS's shape (errors: <Response><Errors><Error><Code>...). */
#ifndef EMU_EC2_H
#define EMU_EC2_H

#include <stdbool.h>
#include <stddef.h>

#include "eic_buf.h"

#include "emu_server.h"

#define EMU_EC2_SERVICE "ec2"
#define EMU_EC2_VERSION "2016-11-15"
#define EMU_FORM_TYPE "application/x-www-form-urlencoded"

/* Whether req is for the EC2 API: a POST with a form body naming an Action and no X-Amz-Target
 * (the push API's JSON protocol always sends one). */
bool emu_ec2_request(const struct emu_request *req);
/* The Query protocol's form body (shared with emu_sts.c). */
#define EMU_FORM_MAX_PARAMS 64
struct emu_param {
    char *name;
    char *value;
};
/* Split a form body into at most EMU_FORM_MAX_PARAMS decoded pairs. EINVAL: malformed or too many
 * (the pairs parsed so far are in p[0..*n), to be freed). */
int emu_form_parse(const char *body, size_t len, struct emu_param *p, size_t *n);
const char *emu_form_get(const struct emu_param *p, size_t n, const char *name);
void emu_form_free(struct emu_param *p, size_t n);
/* Append s as XML character data. */
int emu_xml_text(struct eic_buf *buf, const char *s);

/* Answer one EC2 API request. Returns 0 (reply filled) or an errno value (internal failure). */
int emu_ec2_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply);

#endif
