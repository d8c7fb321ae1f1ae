#include "emu_ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eic_buf.h"
#include "eic_codec.h"
#include "eic_log.h"
#include "emu_push.h"
#include "emu_records.h"

#define XML_TYPE "text/xml;charset=UTF-8"
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define MAX_IDS 32

/* Whether the form body [body, body+len) has an Action parameter. */
static bool has_action(const char *body, size_t len)
{
    for (size_t i = 0; body != NULL && i + 7 <= len; i++) {
        if ((i == 0 || body[i - 1] == '&') && memcmp(body + i, "Action=", 7) == 0) {
            return true;
        }
    }
    return false;
}

bool emu_ec2_request(const struct emu_request *req)
{
    const char *type = emu_request_header(req, "Content-Type");

    /* curl and others send any POST body as a form by default: only a form that names an
     * Action, without the JSON protocol's X-Amz-Target, is taken for the Query protocol, so
     * that everything else still gets the push API's answers. */
    return strcmp(req->method, "POST") == 0 && type != NULL &&
           strncasecmp(type, EMU_FORM_TYPE, strlen(EMU_FORM_TYPE)) == 0 &&
           emu_request_header(req, "X-Amz-Target") == NULL && has_action(req->body, req->body_len);
}

/* Form decoding of [s, s+len): '+' is a space, %XX a byte; a bad escape or a decoded NUL is
 * EINVAL (no parameter of this API may hold one). */
static int form_decode(const char *s, size_t len, char **out)
{
    char *d = malloc(len + 1);
    size_t j = 0;

    if (d == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
        } else if (s[i] == '%') {
            /* Both hex digits must lie inside the field. */
            int hi = i + 2 < len ? eic_hex_digit_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? eic_hex_digit_value((unsigned char)s[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                return EINVAL;
            }
            d[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

void emu_form_free(struct emu_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
}

/* Split the form body into at most EMU_FORM_MAX_PARAMS decoded pairs. EINVAL: malformed or too many. */
int emu_form_parse(const char *body, size_t len, struct emu_param *p, size_t *n)
{
    size_t pos = 0;
    int ret = 0;

    *n = 0;
    while (pos < len && ret == 0) {
        const char *amp = memchr(body + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *eq = memchr(body + pos, '=', end - pos);
        size_t name_end = eq ? (size_t)(eq - body) : end;

        if (end > pos) {
            if (*n == EMU_FORM_MAX_PARAMS) {
                return EINVAL;
            }
            p[*n].name = NULL;
            p[*n].value = NULL;
            ret = form_decode(body + pos, name_end - pos, &p[*n].name);
            if (ret == 0) {
                ret = eq ? form_decode(eq + 1, end - name_end - 1, &p[*n].value) : form_decode("", 0, &p[*n].value);
            }
            (*n)++;
        }
        pos = end + 1;
    }
    return ret;
}

const char *emu_form_get(const struct emu_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].name, name) == 0) {
            return p[i].value;
        }
    }
    return NULL;
}

/* Text for XML character data: &, <, > and quotes escaped. */
int emu_xml_text(struct eic_buf *buf, const char *s)
{
    int ret = 0;

    for (; *s != '\0' && ret == 0; s++) {
        switch (*s) {
        case '&': ret = eic_buf_append_str(buf, "&amp;"); break;
        case '<': ret = eic_buf_append_str(buf, "&lt;"); break;
        case '>': ret = eic_buf_append_str(buf, "&gt;"); break;
        case '"': ret = eic_buf_append_str(buf, "&quot;"); break;
        case '\'': ret = eic_buf_append_str(buf, "&apos;"); break;
        default: ret = eic_buf_append(buf, s, 1); break;
        }
    }
    return ret;
}

/* An error in the Query protocol's shape. */
static int ec2_error(struct emu_reply *reply, unsigned int status, const char *code, const char *message)
{
    struct eic_buf buf;
    char request_id[37];
    int ret;

    eic_buf_init(&buf, EMU_MAX_REPLY);
    ret = emu_uuid4(request_id);
    if (ret == 0) {
        ret = eic_buf_printf(&buf, XML_HEAD "<Response><Errors><Error><Code>%s</Code><Message>", code);
    }
    if (ret == 0) {
        ret = emu_xml_text(&buf, message);
    }
    if (ret == 0) {
        ret = eic_buf_printf(&buf, "</Message></Error></Errors><RequestID>%s</RequestID></Response>", request_id);
    }
    if (ret == 0) {
        ret = emu_reply_set(reply, status, XML_TYPE, buf.data, buf.len);
    }
    eic_buf_free(&buf);
    return ret;
}

static int describe_instances(struct emu_server *srv, const struct emu_param *p, size_t n, struct emu_reply *reply)
{
    const struct emu_world *w = srv->world;
    struct eic_buf buf;
    char request_id[37];
    char name[32];
    int ret;

    /* InstanceId.1..N; every one must be the world's instance, as EC2 fails the whole call
     * when one of the ids does not exist. */
    for (int i = 1; i <= MAX_IDS; i++) {
        const char *id;

        snprintf(name, sizeof(name), "InstanceId.%d", i);
        id = emu_form_get(p, n, name);
        if (id == NULL) {
            break;
        }
        if (strncmp(id, "i-", 2) != 0 || strlen(id) < 10 || strlen(id) > 19 + 2 ||
            strspn(id + 2, "0123456789abcdef") != strlen(id + 2)) {
            char msg[160];

            snprintf(msg, sizeof(msg), "Invalid id: \"%.64s\"", id);
            return ec2_error(reply, 400, "InvalidInstanceID.Malformed", msg);
        }
        if (strcmp(id, w->instance_id) != 0) {
            char msg[160];

            snprintf(msg, sizeof(msg), "The instance ID '%.64s' does not exist", id);
            eic_log(LOG_NOTICE, "ec2: DescribeInstances: %s", msg);
            return ec2_error(reply, 400, "InvalidInstanceID.NotFound", msg);
        }
    }
    eic_buf_init(&buf, EMU_MAX_REPLY);
    ret = emu_uuid4(request_id);
    if (ret == 0) {
        ret = eic_buf_printf(&buf,
                             XML_HEAD "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/" EMU_EC2_VERSION
                                      "/\">\n    <requestId>%s</requestId>\n    <reservationSet>\n",
                             request_id);
    }
    if (ret == 0) {
        /* The id's hex digits make stable, plausible reservation and interface ids. */
        const char *hex = w->instance_id + 2;

        ret = eic_buf_printf(&buf,
                             "        <item>\n"
                             "            <reservationId>r-%s</reservationId>\n"
                             "            <ownerId>%s</ownerId>\n"
                             "            <groupSet/>\n"
                             "            <instancesSet>\n"
                             "                <item>\n"
                             "                    <instanceId>%s</instanceId>\n"
                             "                    <imageId>ami-%s</imageId>\n"
                             "                    <instanceState><code>16</code><name>running</name></instanceState>\n"
                             "                    <privateDnsName>ip-emulated.ec2.internal</privateDnsName>\n"
                             "                    <instanceType>t3.micro</instanceType>\n"
                             "                    <placement><availabilityZone>%s</availabilityZone>"
                             "<groupName></groupName><tenancy>default</tenancy></placement>\n"
                             "                    <subnetId>%s</subnetId>\n"
                             "                    <vpcId>%s</vpcId>\n",
                             hex, w->account_id, w->instance_id, hex, w->availability_zone, w->subnet_id, w->vpc_id);
        if (ret == 0 && w->private_ip != NULL) {
            ret = eic_buf_printf(&buf, "                    <privateIpAddress>%s</privateIpAddress>\n", w->private_ip);
        }
        if (ret == 0 && w->public_ip != NULL) {
            ret = eic_buf_printf(&buf, "                    <ipAddress>%s</ipAddress>\n", w->public_ip);
        }
        if (ret == 0) {
            ret = eic_buf_printf(&buf,
                                 "                    <networkInterfaceSet>\n"
                                 "                        <item>\n"
                                 "                            <networkInterfaceId>eni-%s</networkInterfaceId>\n"
                                 "                            <status>in-use</status>\n",
                                 hex);
        }
        if (ret == 0 && w->private_ip != NULL) {
            ret = eic_buf_printf(&buf, "                            <privateIpAddress>%s</privateIpAddress>\n",
                                 w->private_ip);
        }
        if (ret == 0 && w->public_ip != NULL) {
            ret = eic_buf_printf(&buf, "                            <association><publicIp>%s</publicIp></association>\n",
                                 w->public_ip);
        }
        if (ret == 0 && w->ipv6 != NULL) {
            ret = eic_buf_printf(&buf,
                                 "                            <ipv6AddressesSet><item><ipv6Address>%s</ipv6Address>"
                                 "</item></ipv6AddressesSet>\n",
                                 w->ipv6);
        }
        if (ret == 0) {
            ret = eic_buf_append_str(&buf, "                        </item>\n"
                                           "                    </networkInterfaceSet>\n");
        }
        if (ret == 0 && w->ipv6 != NULL) {
            ret = eic_buf_printf(&buf, "                    <ipv6Address>%s</ipv6Address>\n", w->ipv6);
        }
        if (ret == 0) {
            ret = eic_buf_append_str(&buf, "                </item>\n"
                                           "            </instancesSet>\n"
                                           "        </item>\n");
        }
    }
    if (ret == 0) {
        ret = eic_buf_append_str(&buf, "    </reservationSet>\n</DescribeInstancesResponse>\n");
    }
    if (ret == 0) {
        ret = emu_reply_set(reply, 200, XML_TYPE, buf.data, buf.len);
    }
    eic_buf_free(&buf);
    return ret;
}

#define MAX_FILTERS 16
#define MAX_FILTER_VALUES 16

/* Filter.N.Name with Filter.N.Value.M: does the value the endpoint has for name match one of the
 * filter's values? (EC2: values of one filter are ORed, filters ANDed.) */
static bool filter_matches(const struct emu_param *p, size_t n, int index, const char *have)
{
    char name[48];

    for (int m = 1; m <= MAX_FILTER_VALUES; m++) {
        const char *v;

        snprintf(name, sizeof(name), "Filter.%d.Value.%d", index, m);
        v = emu_form_get(p, n, name);
        if (v == NULL) {
            break;
        }
        if (strcmp(v, have) == 0) {
            return true;
        }
    }
    return false;
}

static const char *endpoint_attribute(const struct emu_endpoint *e, const char *filter)
{
    if (strcmp(filter, "state") == 0) {
        return e->state;
    }
    if (strcmp(filter, "vpc-id") == 0) {
        return e->vpc_id;
    }
    if (strcmp(filter, "subnet-id") == 0) {
        return e->subnet_id;
    }
    if (strcmp(filter, "instance-connect-endpoint-id") == 0) {
        return e->id;
    }
    return NULL;
}

/* Whether the endpoint passes filter number index, called filter: an attribute or, for tag:KEY,
 * tag-key and tag-value, one of its tags, equal to one of the filter's values. */
static bool endpoint_matches(const struct emu_param *p, size_t n, int index, const char *filter,
                             const struct emu_endpoint *e)
{
    const char *have = endpoint_attribute(e, filter);

    if (have != NULL) {
        return filter_matches(p, n, index, have);
    }
    for (size_t t = 0; t < e->n_tags; t++) {
        const struct emu_tag *tag = &e->tags[t];

        if ((strncmp(filter, "tag:", 4) == 0 && strcmp(filter + 4, tag->key) == 0 &&
             filter_matches(p, n, index, tag->value)) ||
            (strcmp(filter, "tag-key") == 0 && filter_matches(p, n, index, tag->key)) ||
            (strcmp(filter, "tag-value") == 0 && filter_matches(p, n, index, tag->value))) {
            return true;
        }
    }
    return false;
}

static int append_endpoint(struct eic_buf *buf, const struct emu_world *w, const struct emu_endpoint *e)
{
    const char *hex = e->id + 5;
    int ret;

    /* The fields of AWS's InstanceConnectEndpoint; every value here but the tags was validated when
     * the world was read (ids, state, DNS names), so only the tags need escaping. */
    ret = eic_buf_printf(buf,
                         "        <item>\n"
                         "            <ownerId>%s</ownerId>\n"
                         "            <instanceConnectEndpointId>%s</instanceConnectEndpointId>\n"
                         "            <instanceConnectEndpointArn>arn:aws:ec2:%s:%s:instance-connect-endpoint/%s"
                         "</instanceConnectEndpointArn>\n"
                         "            <state>%s</state>\n"
                         "            <stateMessage/>\n"
                         "            <dnsName>%s</dnsName>\n"
                         "            <fipsDnsName>%s</fipsDnsName>\n"
                         "            <networkInterfaceIdSet><item>eni-%s</item></networkInterfaceIdSet>\n"
                         "            <vpcId>%s</vpcId>\n"
                         "            <availabilityZone>%s</availabilityZone>\n"
                         "            <createdAt>2024-01-01T00:00:00.000Z</createdAt>\n"
                         "            <subnetId>%s</subnetId>\n"
                         "            <preserveClientIp>false</preserveClientIp>\n"
                         "            <securityGroupIdSet><item>sg-%s</item></securityGroupIdSet>\n"
                         "            <tagSet>",
                         w->account_id, e->id, w->region, w->account_id, e->id, e->state, e->dns_name,
                         e->fips_dns_name, hex, e->vpc_id, w->availability_zone, e->subnet_id, hex);
    for (size_t t = 0; ret == 0 && t < e->n_tags; t++) {
        ret = eic_buf_append_str(buf, "<item><key>");
        if (ret == 0) {
            ret = emu_xml_text(buf, e->tags[t].key);
        }
        if (ret == 0) {
            ret = eic_buf_append_str(buf, "</key><value>");
        }
        if (ret == 0) {
            ret = emu_xml_text(buf, e->tags[t].value);
        }
        if (ret == 0) {
            ret = eic_buf_append_str(buf, "</value></item>");
        }
    }
    if (ret == 0) {
        ret = eic_buf_append_str(buf, "</tagSet>\n        </item>\n");
    }
    return ret;
}

static int describe_endpoints(struct emu_server *srv, const struct emu_param *p, size_t n, struct emu_reply *reply)
{
    static const char *const filters[] = {"state", "vpc-id", "subnet-id", "instance-connect-endpoint-id",
                                          "tag-key", "tag-value"};
    const struct emu_world *w = srv->world;
    const char *ids[MAX_IDS];
    size_t n_ids = 0;
    struct eic_buf buf;
    char request_id[37];
    char name[48];
    char msg[256];
    int ret;

    for (int i = 1; i <= MAX_IDS; i++) {
        snprintf(name, sizeof(name), "InstanceConnectEndpointId.%d", i);
        ids[n_ids] = emu_form_get(p, n, name);
        if (ids[n_ids] == NULL) {
            break;
        }
        if (strncmp(ids[n_ids], "eice-", 5) != 0 || strlen(ids[n_ids]) > 22 ||
            strspn(ids[n_ids] + 5, "0123456789abcdef") != strlen(ids[n_ids] + 5)) {
            snprintf(msg, sizeof(msg), "Invalid id: \"%.64s\"", ids[n_ids]);
            return ec2_error(reply, 400, "InvalidInstanceConnectEndpointId.Malformed", msg);
        }
        if (emu_world_endpoint(w, ids[n_ids]) == NULL) {
            snprintf(msg, sizeof(msg), "The instanceConnectEndpoint ID '%.64s' does not exist", ids[n_ids]);
            return ec2_error(reply, 400, "InvalidInstanceConnectEndpointId.NotFound", msg);
        }
        n_ids++;
    }
    for (int f = 1; f <= MAX_FILTERS; f++) {
        const char *filter;
        bool known = false;

        snprintf(name, sizeof(name), "Filter.%d.Name", f);
        filter = emu_form_get(p, n, name);
        if (filter == NULL) {
            break;
        }
        known = strncmp(filter, "tag:", 4) == 0 && filter[4] != '\0';
        for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
            known = known || strcmp(filter, filters[i]) == 0;
        }
        if (!known) {
            snprintf(msg, sizeof(msg), "The filter '%.64s' is invalid (the emulator knows state, vpc-id, subnet-id, "
                                       "instance-connect-endpoint-id, tag:KEY, tag-key, tag-value)", filter);
            return ec2_error(reply, 400, "InvalidParameterValue", msg);
        }
    }
    eic_buf_init(&buf, EMU_MAX_REPLY);
    ret = emu_uuid4(request_id);
    if (ret == 0) {
        ret = eic_buf_printf(&buf,
                             XML_HEAD "<DescribeInstanceConnectEndpointsResponse xmlns=\"http://ec2.amazonaws.com/doc/"
                                      EMU_EC2_VERSION "/\">\n    <requestId>%s</requestId>\n"
                                      "    <instanceConnectEndpointSet>\n",
                             request_id);
    }
    for (size_t e = 0; ret == 0 && e < w->n_endpoints; e++) {
        const struct emu_endpoint *ep = &w->endpoints[e];
        bool wanted = n_ids == 0;

        for (size_t i = 0; i < n_ids; i++) {
            wanted = wanted || strcmp(ids[i], ep->id) == 0;
        }
        for (int f = 1; wanted && f <= MAX_FILTERS; f++) {
            const char *filter;

            snprintf(name, sizeof(name), "Filter.%d.Name", f);
            filter = emu_form_get(p, n, name);
            if (filter == NULL) {
                break;
            }
            wanted = endpoint_matches(p, n, f, filter, ep);
        }
        if (wanted) {
            ret = append_endpoint(&buf, w, ep);
        }
    }
    if (ret == 0) {
        ret = eic_buf_append_str(&buf, "    </instanceConnectEndpointSet>\n"
                                       "</DescribeInstanceConnectEndpointsResponse>\n");
    }
    if (ret == 0) {
        ret = emu_reply_set(reply, 200, XML_TYPE, buf.data, buf.len);
    }
    eic_buf_free(&buf);
    return ret;
}

int emu_ec2_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_principal *principal = NULL;
    struct emu_param params[EMU_FORM_MAX_PARAMS];
    size_t n = 0;
    const char *action;
    const char *version;
    char msg[EMU_PUSH_MSG_LEN];
    int ret;

    if (strcmp(req->path, "/") != 0) {
        return ec2_error(reply, 404, "InvalidAction", "The EC2 API is POST /");
    }
    ret = emu_push_verify_sigv4(srv, req, EMU_EC2_SERVICE, &principal, msg);
    if (ret == EACCES) {
        eic_log(LOG_NOTICE, "ec2 refused (AuthFailure) from %s: %s", req->remote ? req->remote : "?", msg);
        return ec2_error(reply, 401, "AuthFailure", msg);
    }
    if (ret != 0) {
        return ret;
    }
    ret = emu_form_parse(req->body ? req->body : "", req->body_len, params, &n);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0) {
        ret = ec2_error(reply, 400, "MalformedQueryString", "The form body cannot be decoded");
        goto done;
    }
    action = emu_form_get(params, n, "Action");
    version = emu_form_get(params, n, "Version");
    if (action == NULL ||
        (strcmp(action, "DescribeInstances") != 0 && strcmp(action, "DescribeInstanceConnectEndpoints") != 0)) {
        snprintf(msg, sizeof(msg), "The action %.64s is not valid for this web service (the emulator has "
                                   "DescribeInstances and DescribeInstanceConnectEndpoints)",
                 action ? action : "(none)");
        ret = ec2_error(reply, 400, "InvalidAction", msg);
        goto done;
    }
    if (version == NULL) {
        ret = ec2_error(reply, 400, "MissingParameter", "The request must contain the parameter Version");
        goto done;
    }
    eic_log(LOG_INFO, "ec2: %s by %s", action, principal->arn);
    if (strcmp(action, "DescribeInstances") == 0) {
        ret = describe_instances(srv, params, n, reply);
    } else {
        ret = describe_endpoints(srv, params, n, reply);
    }
done:
    emu_form_free(params, n);
    return ret;
}
