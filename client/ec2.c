/* libxml2 is not linked into eic: the two answers read here (DescribeInstancesResponse and the
 * Query protocol's <Response><Errors><Error>) have a fixed shape, so a small, strict walker
 * suffices. It tracks the element path (bounded depth and name length), hands element text to a
 * callback, skips the XML declaration, comments and attributes (quotes honoured), and refuses
 * what these answers never hold (DTDs, CDATA, mismatched tags, overlong names). Entities in text
 * are not decoded: the values taken (addresses, zone, error code) never contain one, and every
 * value is validated afterwards (inet_pton, the zone pattern); only the error message, which is
 * for people, has the five predefined entities decoded. */
#include "ec2.h"

#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "eic_log.h"
#include "endpoints.h"

#define XML_MAX_DEPTH 32
#define XML_MAX_NAME 64
#define EC2_VERSION "2016-11-15"
#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

struct xml_path {
    char names[XML_MAX_DEPTH][XML_MAX_NAME + 1];
    size_t depth;
};

/* Called for each run of text directly inside an element. Returns 0 to go on or an errno. */
typedef int (*xml_text_cb)(const struct xml_path *path, const char *text, size_t len, void *ctx);
/* Called when an element closes (after its text). */
typedef int (*xml_close_cb)(const struct xml_path *path, void *ctx);

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);

    for (; (size_t)(end - p) >= n; p++) {
        if (memcmp(p, needle, n) == 0) {
            return p;
        }
    }
    return NULL;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
}

static int xml_walk(const char *xml, size_t len, xml_text_cb on_text, xml_close_cb on_close, void *ctx)
{
    struct xml_path *path = calloc(1, sizeof(*path));
    const char *p = xml, *end = xml + len;
    int ret = 0;

    if (path == NULL) {
        return ENOMEM;
    }
    while (p < end && ret == 0) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        const char *stop = lt ? lt : end;

        if (stop > p && path->depth > 0 && on_text != NULL) {
            ret = on_text(path, p, (size_t)(stop - p), ctx);
        }
        if (lt == NULL || ret != 0) {
            break;
        }
        p = lt + 1;
        if (p < end && *p == '?') { /* <?xml ...?> */
            const char *q = find(p, end, "?>");

            ret = q ? 0 : EBADMSG;
            p = q ? q + 2 : end;
        } else if (end - p >= 3 && memcmp(p, "!--", 3) == 0) {
            const char *q = find(p + 3, end, "-->");

            ret = q ? 0 : EBADMSG;
            p = q ? q + 3 : end;
        } else if (p < end && *p == '!') {
            ret = EBADMSG; /* DOCTYPE, CDATA: never in these answers */
        } else {
            bool closing = p < end && *p == '/';
            const char *name = closing ? p + 1 : p;
            const char *q = name;
            bool self_closing = false;
            char quote = 0;
            size_t n;

            while (q < end && name_char(*q)) {
                q++;
            }
            n = (size_t)(q - name);
            if (n == 0 || n > XML_MAX_NAME) {
                ret = EBADMSG;
                break;
            }
            /* To the end of the tag, skipping attribute values. */
            for (; q < end && (quote != 0 || *q != '>'); q++) {
                if (quote != 0) {
                    quote = *q == quote ? 0 : quote;
                } else if (*q == '"' || *q == '\'') {
                    quote = *q;
                }
            }
            if (q == end) {
                ret = EBADMSG;
                break;
            }
            self_closing = !closing && q[-1] == '/';
            p = q + 1;
            if (closing) {
                if (path->depth == 0 || strlen(path->names[path->depth - 1]) != n ||
                    memcmp(path->names[path->depth - 1], name, n) != 0) {
                    ret = EBADMSG;
                    break;
                }
                ret = on_close ? on_close(path, ctx) : 0;
                path->depth--;
                continue;
            }
            if (path->depth == XML_MAX_DEPTH) {
                ret = EBADMSG;
                break;
            }
            memcpy(path->names[path->depth], name, n);
            path->names[path->depth][n] = '\0';
            path->depth++;
            if (self_closing) {
                ret = on_close ? on_close(path, ctx) : 0;
                path->depth--;
            }
        }
    }
    if (ret == 0 && path->depth != 0) {
        ret = EBADMSG; /* truncated */
    }
    free(path);
    return ret;
}

/* Whether the path, from index from on, is exactly the names given (NULL-terminated). */
static bool path_is(const struct xml_path *path, size_t from, const char *const *names)
{
    size_t i = 0;

    for (; names[i] != NULL; i++) {
        if (from + i >= path->depth || strcmp(path->names[from + i], names[i]) != 0) {
            return false;
        }
    }
    return from + i == path->depth;
}

/* The depth of the innermost ".../instancesSet/item" element on the path, or 0. */
static size_t instance_level(const struct xml_path *path)
{
    for (size_t i = path->depth; i >= 2; i--) {
        if (strcmp(path->names[i - 1], "item") == 0 && strcmp(path->names[i - 2], "instancesSet") == 0) {
            return i;
        }
    }
    return 0;
}

struct instance_ctx {
    const char *wanted;
    struct eic_instance_info cur; /* the instance item being read */
    char *cur_id;
    struct eic_instance_info *out;
    bool found;
};

/* Keep the first value seen (an instance has one of each that eic uses); trimmed. */
static int keep(char **slot, const char *text, size_t len)
{
    while (len > 0 && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\r' ||
                       text[len - 1] == '\t')) {
        len--;
    }
    if (*slot != NULL || len == 0) {
        return 0;
    }
    if (len > 255) {
        return EBADMSG;
    }
    *slot = strndup(text, len);
    return *slot ? 0 : ENOMEM;
}

static int instance_text(const struct xml_path *path, const char *text, size_t len, void *arg)
{
    static const char *const id[] = {"instanceId", NULL};
    static const char *const priv[] = {"privateIpAddress", NULL};
    static const char *const pub[] = {"ipAddress", NULL};
    static const char *const zone[] = {"placement", "availabilityZone", NULL};
    static const char *const v6[] = {"ipv6Address", NULL};
    static const char *const vpc[] = {"vpcId", NULL};
    static const char *const subnet[] = {"subnetId", NULL};
    static const char *const eni_v6[] = {"networkInterfaceSet", "item", "ipv6AddressesSet", "item", "ipv6Address",
                                         NULL};
    struct instance_ctx *c = arg;
    size_t lvl = instance_level(path);

    if (lvl == 0) {
        return 0;
    }
    if (path_is(path, lvl, id)) {
        return keep(&c->cur_id, text, len);
    }
    if (path_is(path, lvl, priv)) {
        return keep(&c->cur.private_ipv4, text, len);
    }
    if (path_is(path, lvl, pub)) {
        return keep(&c->cur.public_ipv4, text, len);
    }
    if (path_is(path, lvl, zone)) {
        return keep(&c->cur.zone, text, len);
    }
    if (path_is(path, lvl, v6) || path_is(path, lvl, eni_v6)) {
        return keep(&c->cur.ipv6, text, len);
    }
    if (path_is(path, lvl, vpc)) {
        return keep(&c->cur.vpc_id, text, len);
    }
    if (path_is(path, lvl, subnet)) {
        return keep(&c->cur.subnet_id, text, len);
    }
    return 0;
}

/* An AWS resource id: prefix then at least 8 lower-case hex digits (at most 32). NULL is fine
 * (absent). */
static bool valid_id(const char *prefix, const char *text)
{
    size_t n = strlen(prefix);

    return text == NULL || (strncmp(text, prefix, n) == 0 && strlen(text + n) >= 8 && strlen(text + n) <= 32 &&
                            strspn(text + n, "0123456789abcdef") == strlen(text + n));
}

static int instance_close(const struct xml_path *path, void *arg)
{
    struct instance_ctx *c = arg;

    if (path->depth < 2 || instance_level(path) != path->depth) {
        return 0;
    }
    /* One instance item ends: keep it when it is the one asked for. */
    if (!c->found && c->cur_id != NULL && strcmp(c->cur_id, c->wanted) == 0) {
        *c->out = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
        c->found = true;
    }
    eic_instance_info_free(&c->cur);
    free(c->cur_id);
    c->cur_id = NULL;
    return 0;
}

static bool valid_address(int af, const char *text)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return text == NULL || inet_pton(af, text, buf) == 1;
}

int eic_ec2_parse_instance(const char *xml, size_t len, const char *instance_id, struct eic_instance_info *info)
{
    struct instance_ctx c = {.wanted = instance_id, .out = info};
    regex_t zone_re;
    int ret;

    memset(info, 0, sizeof(*info));
    if (len < 20 || find(xml, xml + len, "<DescribeInstancesResponse") == NULL) {
        return EBADMSG;
    }
    ret = xml_walk(xml, len, instance_text, instance_close, &c);
    eic_instance_info_free(&c.cur);
    free(c.cur_id);
    if (ret == 0 && !c.found) {
        ret = ENOENT;
    }
    if (ret == 0 && (!valid_address(AF_INET, info->private_ipv4) || !valid_address(AF_INET, info->public_ipv4) ||
                     !valid_address(AF_INET6, info->ipv6) || !valid_id("vpc-", info->vpc_id) ||
                     !valid_id("subnet-", info->subnet_id))) {
        ret = EBADMSG;
    }
    if (ret == 0 && info->zone != NULL) {
        /* The zone pattern of docs/PROTOCOL.md: the zone goes into the push and names the region. */
        if (regcomp(&zone_re, "^([a-z]+-){2,3}[0-9][a-z]$", REG_EXTENDED | REG_NOSUB) != 0) {
            ret = ENOMEM;
        } else {
            ret = regexec(&zone_re, info->zone, 0, NULL, 0) == 0 ? 0 : EBADMSG;
            regfree(&zone_re);
        }
    }
    if (ret != 0) {
        eic_instance_info_free(info);
    }
    return ret;
}

/* The five predefined entities, in place (the message is for people; AWS escapes quotes). An
 * unknown or numeric entity is left as it is. */
static void unescape(char *s)
{
    static const struct {
        const char *entity;
        char c;
    } table[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *w = s;

    while (*s != '\0') {
        bool replaced = false;

        for (size_t i = 0; *s == '&' && i < sizeof(table) / sizeof(table[0]); i++) {
            size_t n = strlen(table[i].entity);

            if (strncmp(s, table[i].entity, n) == 0) {
                *w++ = table[i].c;
                s += n;
                replaced = true;
                break;
            }
        }
        if (!replaced) {
            *w++ = *s++;
        }
    }
    *w = '\0';
}

struct error_ctx {
    char *code;
    char *message;
};

static int error_text(const struct xml_path *path, const char *text, size_t len, void *arg)
{
    static const char *const code[] = {"Errors", "Error", "Code", NULL};
    static const char *const message[] = {"Errors", "Error", "Message", NULL};
    struct error_ctx *c = arg;

    /* <Response><Errors><Error>... (EC2); the root's name is not checked. */
    if (path->depth >= 1 && path_is(path, 1, code)) {
        return keep(&c->code, text, len);
    }
    if (path->depth >= 1 && path_is(path, 1, message)) {
        return keep(&c->message, text, len > 1024 ? 1024 : len);
    }
    return 0;
}

int eic_ec2_parse_error(const char *xml, size_t len, char **code, char **message)
{
    struct error_ctx c = {0};
    int ret = xml_walk(xml, len, error_text, NULL, &c);

    if (ret == 0 && c.code == NULL) {
        ret = ENOENT;
    }
    if (ret != 0) {
        free(c.code);
        free(c.message);
        return ret;
    }
    if (c.message != NULL) {
        unescape(c.message);
    }
    *code = c.code;
    *message = c.message;
    return 0;
}

void eic_instance_info_free(struct eic_instance_info *info)
{
    free(info->private_ipv4);
    free(info->public_ipv4);
    free(info->ipv6);
    free(info->zone);
    free(info->vpc_id);
    free(info->subnet_id);
    memset(info, 0, sizeof(*info));
}

/* ---- DescribeInstanceConnectEndpoints ---- */

struct endpoints_ctx {
    struct eic_endpoint cur;
    struct eic_endpoint_list *out;
};

static bool in_endpoint_item(const struct xml_path *path, size_t *lvl)
{
    /* <DescribeInstanceConnectEndpointsResponse><instanceConnectEndpointSet><item>... */
    if (path->depth >= 3 && strcmp(path->names[1], "instanceConnectEndpointSet") == 0 &&
        strcmp(path->names[2], "item") == 0) {
        *lvl = 3;
        return true;
    }
    return false;
}

static int endpoint_text(const struct xml_path *path, const char *text, size_t len, void *arg)
{
    static const char *const id[] = {"instanceConnectEndpointId", NULL};
    static const char *const vpc[] = {"vpcId", NULL};
    static const char *const subnet[] = {"subnetId", NULL};
    static const char *const state[] = {"state", NULL};
    static const char *const dns[] = {"dnsName", NULL};
    static const char *const fips_dns[] = {"fipsDnsName", NULL};
    struct endpoints_ctx *c = arg;
    size_t lvl;

    if (!in_endpoint_item(path, &lvl)) {
        return 0;
    }
    if (path_is(path, lvl, id)) {
        return keep(&c->cur.id, text, len);
    }
    if (path_is(path, lvl, vpc)) {
        return keep(&c->cur.vpc_id, text, len);
    }
    if (path_is(path, lvl, subnet)) {
        return keep(&c->cur.subnet_id, text, len);
    }
    if (path_is(path, lvl, state)) {
        return keep(&c->cur.state, text, len);
    }
    if (path_is(path, lvl, dns)) {
        return keep(&c->cur.dns_name, text, len);
    }
    if (path_is(path, lvl, fips_dns)) {
        return keep(&c->cur.fips_dns_name, text, len);
    }
    return 0;
}

static void endpoint_free(struct eic_endpoint *e)
{
    free(e->id);
    free(e->vpc_id);
    free(e->subnet_id);
    free(e->state);
    free(e->dns_name);
    free(e->fips_dns_name);
    memset(e, 0, sizeof(*e));
}

/* A DNS name as it may go into a URL and a Host header: [a-z0-9.-], no leading dot or dash. */
static bool valid_dns_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int endpoint_close(const struct xml_path *path, void *arg)
{
    struct endpoints_ctx *c = arg;
    size_t lvl;
    struct eic_endpoint *e = &c->cur;

    if (!in_endpoint_item(path, &lvl) || path->depth != lvl) {
        return 0;
    }
    /* One endpoint item ends: all of it must be sound, or the answer is not used at all. */
    if (e->id == NULL || e->vpc_id == NULL || e->state == NULL || !valid_id("eice-", e->id) ||
        !valid_id("vpc-", e->vpc_id) || !valid_id("subnet-", e->subnet_id) ||
        strspn(e->state, "abcdefghijklmnopqrstuvwxyz-") != strlen(e->state) ||
        (e->dns_name != NULL && !valid_dns_name(e->dns_name)) ||
        (e->fips_dns_name != NULL && !valid_dns_name(e->fips_dns_name))) {
        endpoint_free(e);
        return EBADMSG;
    }
    if (c->out->n == EIC_EC2_MAX_ENDPOINTS) {
        endpoint_free(e); /* more than eic looks at: the first ones are kept */
        return 0;
    }
    c->out->items[c->out->n++] = *e;
    memset(e, 0, sizeof(*e));
    return 0;
}

int eic_ec2_parse_endpoints(const char *xml, size_t len, struct eic_endpoint_list *list)
{
    struct endpoints_ctx c = {.out = list};
    int ret;

    memset(list, 0, sizeof(*list));
    if (len < 20 || find(xml, xml + len, "<DescribeInstanceConnectEndpointsResponse") == NULL) {
        return EBADMSG;
    }
    ret = xml_walk(xml, len, endpoint_text, endpoint_close, &c);
    endpoint_free(&c.cur);
    if (ret != 0) {
        eic_endpoint_list_free(list);
    }
    return ret;
}

void eic_endpoint_list_free(struct eic_endpoint_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        endpoint_free(&list->items[i]);
    }
    list->n = 0;
}

const struct eic_endpoint *eic_endpoint_choose(const struct eic_endpoint_list *list, const char *vpc_id,
                                               const char *subnet_id)
{
    const struct eic_endpoint *in_vpc = NULL;

    for (size_t i = 0; i < list->n; i++) {
        const struct eic_endpoint *e = &list->items[i];

        if (strcmp(e->state, "create-complete") != 0 || e->dns_name == NULL || vpc_id == NULL ||
            strcmp(e->vpc_id, vpc_id) != 0) {
            continue;
        }
        if (subnet_id != NULL && e->subnet_id != NULL && strcmp(e->subnet_id, subnet_id) == 0) {
            return e;
        }
        if (in_vpc == NULL) {
            in_vpc = e;
        }
    }
    return in_vpc;
}

/* A Query-protocol call whose XML answer the caller parses; errors are decoded here. */
static void query_call(const struct eic_api_call *base, const char *body, struct eic_api_result *result)
{
    struct eic_api_call call = *base;

    call.service = EIC_SERVICE_EC2;
    call.target = NULL;
    call.content_type = FORM_TYPE;
    call.raw_answer = true;
    call.body = body;
    eic_log(LOG_DEBUG, "EC2 Query: %s", body);
    eic_api_invoke(&call, result);
    if (result->outcome == EIC_API_SERVICE_ERROR && result->body != NULL) {
        char *code = NULL, *message = NULL;

        if (eic_ec2_parse_error(result->body, strlen(result->body), &code, &message) == 0) {
            free(result->error_code);
            free(result->error_message);
            result->error_code = code;
            result->error_message = message ? message : strdup("(no message)");
        }
    }
}

void eic_ec2_describe_endpoints(const struct eic_api_call *call, const char *endpoint_id, const char *vpc_id,
                                struct eic_endpoint_list *list, struct eic_api_result *result)
{
    char *escaped = curl_easy_escape(NULL, endpoint_id ? endpoint_id : vpc_id ? vpc_id : "", 0);
    char *body = NULL;
    int ret;

    memset(list, 0, sizeof(*list));
    memset(result, 0, sizeof(*result));
    if (escaped == NULL ||
        asprintf(&body, "Action=DescribeInstanceConnectEndpoints&Version=" EC2_VERSION
                        "&Filter.1.Name=state&Filter.1.Value.1=create-complete&%s=%s",
                 endpoint_id ? "InstanceConnectEndpointId.1" : "Filter.2.Name=vpc-id&Filter.2.Value.1",
                 escaped) < 0) {
        body = NULL;
        result->outcome = EIC_API_FAILED;
        result->error_message = strdup("out of memory");
        goto done;
    }
    query_call(call, body, result);
    if (result->outcome == EIC_API_OK) {
        ret = eic_ec2_parse_endpoints(result->body ? result->body : "", result->body ? strlen(result->body) : 0,
                                      list);
        if (ret != 0) {
            result->outcome = EIC_API_FAILED;
            result->error_message = strdup(ret == ENOMEM ? "out of memory"
                                                         : "The DescribeInstanceConnectEndpoints answer is not the XML "
                                                           "expected");
        }
    }
    if (result->outcome != EIC_API_OK && result->error_message == NULL) {
        result->error_message = strdup("out of memory");
    }
done:
    curl_free(escaped);
    free(body);
}

void eic_ec2_describe_instance(const struct eic_api_call *base, const char *instance_id,
                               struct eic_instance_info *info, struct eic_api_result *result)
{
    char *escaped = curl_easy_escape(NULL, instance_id, 0);
    char *body = NULL;
    int ret;

    memset(info, 0, sizeof(*info));
    memset(result, 0, sizeof(*result));
    if (escaped == NULL || asprintf(&body, "Action=DescribeInstances&Version=" EC2_VERSION "&InstanceId.1=%s",
                                    escaped) < 0) {
        body = NULL;
        result->outcome = EIC_API_FAILED;
        result->error_message = strdup("out of memory");
        goto done;
    }
    query_call(base, body, result);
    if (result->outcome == EIC_API_OK) {
        ret = eic_ec2_parse_instance(result->body ? result->body : "", result->body ? strlen(result->body) : 0,
                                     instance_id, info);
        if (ret == ENOENT) {
            result->outcome = EIC_API_SERVICE_ERROR;
            result->error_code = strdup("InvalidInstanceID.NotFound");
            if (asprintf(&result->error_message, "The instance ID '%s' is not in the answer", instance_id) < 0) {
                result->error_message = NULL;
            }
        } else if (ret != 0) {
            result->outcome = EIC_API_FAILED;
            result->error_message = strdup(ret == ENOMEM ? "out of memory"
                                                         : "The DescribeInstances answer is not the XML expected");
        }
    }
    if (result->outcome != EIC_API_OK && result->error_message == NULL) {
        result->error_message = strdup("out of memory");
    }
done:
    curl_free(escaped);
    free(body);
}
