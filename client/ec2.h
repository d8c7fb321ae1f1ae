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
    char *vpc_id;       /* ^vpc-[0-9a-f]+$ */
    char *subnet_id;    /* ^subnet-[0-9a-f]+$ */
};

/* An Instance Connect Endpoint from DescribeInstanceConnectEndpoints (every value validated). */
struct eic_endpoint {
    char *id;           /* ^eice-[0-9a-f]+$ */
    char *vpc_id;
    char *subnet_id;
    char *state;
    char *dns_name;     /* [a-z0-9.-] only */
    char *fips_dns_name; /* the same, or NULL */
};

#define EIC_EC2_MAX_ENDPOINTS 64

struct eic_endpoint_list {
    struct eic_endpoint items[EIC_EC2_MAX_ENDPOINTS];
    size_t n;
};

/* call holds the endpoint, region, credentials and timeouts; the rest is filled here.
 * On EIC_API_OK info is filled; on EIC_API_SERVICE_ERROR result->error_code/error_message hold
 * EC2's error (e.g. "InvalidInstanceID.NotFound", "AuthFailure", "UnauthorizedOperation");
 * an answer that does not describe the instance is EIC_API_SERVICE_ERROR
 * InvalidInstanceID.NotFound, an unreadable one EIC_API_FAILED. */
void eic_ec2_describe_instance(const struct eic_api_call *call, const char *instance_id,
                               struct eic_instance_info *info, struct eic_api_result *result);
void eic_instance_info_free(struct eic_instance_info *info);

/* DescribeInstanceConnectEndpoints: with endpoint_id, that endpoint; else those of vpc_id.
 * Only endpoints in state create-complete are asked for (Filter state). Outcomes as above. */
void eic_ec2_describe_endpoints(const struct eic_api_call *call, const char *endpoint_id, const char *vpc_id,
                                struct eic_endpoint_list *list, struct eic_api_result *result);
void eic_endpoint_list_free(struct eic_endpoint_list *list);

/* The endpoint to tunnel through (pure; as the AWS CLI chooses): the first create-complete one in
 * subnet_id, else the first create-complete one in vpc_id. NULL when there is none. */
const struct eic_endpoint *eic_endpoint_choose(const struct eic_endpoint_list *list, const char *vpc_id,
                                               const char *subnet_id);

/* The parsers, for tests. Return 0, ENOENT (instance not in the answer / no error element),
 * EBADMSG (not the XML expected) or ENOMEM. */
int eic_ec2_parse_instance(const char *xml, size_t len, const char *instance_id, struct eic_instance_info *info);
int eic_ec2_parse_error(const char *xml, size_t len, char **code, char **message);
int eic_ec2_parse_endpoints(const char *xml, size_t len, struct eic_endpoint_list *list);

#endif
