/* EC2 DescribeInstances for one instance: its addresses and availability zone (for `eic ssh`).
 * EC2 speaks the Query protocol: a SigV4-signed (service "ec2") form POST
 * "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=ID", answered in XML. */
#ifndef EIC_CLIENT_EC2_H
#define EIC_CLIENT_EC2_H

#include <stddef.h>

#include "api.h"

#define EIC_EC2_MAX_ANSWER (1024 * 1024)

struct eic_instance_info {
    char *private_ipv4; /* NULL when absent */
    char *public_ipv4;
    char *ipv6;
    char *zone;
};

/* call holds the endpoint, region, credentials and timeouts; the rest is filled here.
 * On EIC_API_OK info is filled; on EIC_API_SERVICE_ERROR result->error_code/error_message hold
 * EC2's error (e.g. "InvalidInstanceID.NotFound", "AuthFailure", "UnauthorizedOperation");
 * an answer that does not describe the instance is EIC_API_SERVICE_ERROR
 * InvalidInstanceID.NotFound, an unreadable one EIC_API_FAILED. */
void eic_ec2_describe_instance(const struct eic_api_call *call, const char *instance_id,
                               struct eic_instance_info *info, struct eic_api_result *result);
void eic_instance_info_free(struct eic_instance_info *info);

/* The parsers, for tests. Return 0, ENOENT (instance not in the answer / no error element),
 * EBADMSG (not the XML expected) or ENOMEM. */
int eic_ec2_parse_instance(const char *xml, size_t len, const char *instance_id, struct eic_instance_info *info);
int eic_ec2_parse_error(const char *xml, size_t len, char **code, char **message);

#endif
