#include "emu_ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eic_buf.h"
#include "eic_log.h"
#include "emu_push.h"
#include "emu_records.h"

#define XML_TYPE "text/xml;charset=UTF-8"
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define MAX_PARAMS 64
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

struct param {
    char *name;
    char *value;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
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
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

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

static void params_free(struct param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
}

/* Split the form body into at most MAX_PARAMS decoded pairs. EINVAL: malformed or too many. */
static int parse_form(const char *body, size_t len, struct param *p, size_t *n)
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
            if (*n == MAX_PARAMS) {
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

static const char *param_get(const struct param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].name, name) == 0) {
            return p[i].value;
        }
    }
    return NULL;
}

/* Text for XML character data: &, <, > and quotes escaped. */
static int xml_text(struct eic_buf *buf, const char *s)
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
        ret = xml_text(&buf, message);
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

static int describe_instances(struct emu_server *srv, const struct param *p, size_t n, struct emu_reply *reply)
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
        id = param_get(p, n, name);
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
                             "                    <privateIpAddress>%s</privateIpAddress>\n",
                             hex, w->account_id, w->instance_id, hex, w->availability_zone, w->private_ip);
        if (ret == 0 && w->public_ip != NULL) {
            ret = eic_buf_printf(&buf, "                    <ipAddress>%s</ipAddress>\n", w->public_ip);
        }
        if (ret == 0) {
            ret = eic_buf_printf(&buf,
                                 "                    <networkInterfaceSet>\n"
                                 "                        <item>\n"
                                 "                            <networkInterfaceId>eni-%s</networkInterfaceId>\n"
                                 "                            <status>in-use</status>\n"
                                 "                            <privateIpAddress>%s</privateIpAddress>\n",
                                 hex, w->private_ip);
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

int emu_ec2_handle(struct emu_server *srv, const struct emu_request *req, struct emu_reply *reply)
{
    const struct emu_principal *principal = NULL;
    struct param params[MAX_PARAMS];
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
    ret = parse_form(req->body ? req->body : "", req->body_len, params, &n);
    if (ret == ENOMEM) {
        goto done;
    }
    if (ret != 0) {
        ret = ec2_error(reply, 400, "MalformedQueryString", "The form body cannot be decoded");
        goto done;
    }
    action = param_get(params, n, "Action");
    version = param_get(params, n, "Version");
    if (action == NULL || strcmp(action, "DescribeInstances") != 0) {
        snprintf(msg, sizeof(msg), "The action %.64s is not valid for this web service (the emulator has "
                                   "DescribeInstances only)", action ? action : "(none)");
        ret = ec2_error(reply, 400, "InvalidAction", msg);
        goto done;
    }
    if (version == NULL) {
        ret = ec2_error(reply, 400, "MissingParameter", "The request must contain the parameter Version");
        goto done;
    }
    eic_log(LOG_INFO, "ec2: DescribeInstances by %s", principal->arn);
    ret = describe_instances(srv, params, n, reply);
done:
    params_free(params, n);
    return ret;
}
