#include "emu_world.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eic_buf.h"
#include "eic_json.h"
#include "eic_util.h"

/* The default world, in the world-file format (see emu_world.h). The credentials are public
 * demo values: they are printed at start-up so that tests and people can use them. */
static const char default_world_json[] =
    "{\n"
    "  \"instance\": {\n"
    "    \"id\": \"i-0123456789abcdef0\",\n"
    "    \"availability_zone\": \"us-east-1a\",\n"
    "    \"domain\": \"amazonaws.com\",\n"
    "    \"account_id\": \"111122223333\",\n"
    "    \"imdsv2_required\": true,\n"
    "    \"vpc_id\": \"vpc-0e1c0de5e1c0de500\",\n"
    "    \"subnet_id\": \"subnet-0e1c0de5e1c0de501\"\n"
    "  },\n"
    "  \"instance_connect_endpoints\": [\n"
    "    {\"id\": \"eice-0e1c0de5e1c0de502\", \"vpc_id\": \"vpc-0e1c0de5e1c0de500\",\n"
    "     \"subnet_id\": \"subnet-0e1c0de5e1c0de501\", \"state\": \"create-complete\", \"remote_ports\": [22]}\n"
    "  ],\n"
    "  \"key_lifetime\": 60,\n"
    "  \"principals\": [\n"
    "    {\"arn\": \"arn:aws:iam::111122223333:user/alice\",\n"
    "     \"access_key_id\": \"AKIAEICDEMOALICE0001\", \"secret_access_key\": \"eic-demo-secret-alice\"},\n"
    "    {\"arn\": \"arn:aws:sts::111122223333:assumed-role/Admins/bob\",\n"
    "     \"access_key_id\": \"AKIAEICDEMOBOB000002\", \"secret_access_key\": \"eic-demo-secret-bob\"}\n"
    "  ],\n"
    "  \"policy\": [\n"
    "    {\"principal\": \"arn:aws:iam::111122223333:user/alice\", \"instance\": \"i-0123456789abcdef0\",\n"
    "     \"os_user\": \"*\"},\n"
    "    {\"principal\": \"arn:aws:sts::111122223333:assumed-role/Admins/bob\",\n"
    "     \"instance\": \"i-0123456789abcdef0\", \"os_user\": \"*\"},\n"
    "    {\"action\": \"OpenTunnel\", \"principal\": \"arn:aws:iam::111122223333:user/alice\",\n"
    "     \"instance_connect_endpoint\": \"*\"},\n"
    "    {\"action\": \"OpenTunnel\", \"principal\": \"arn:aws:sts::111122223333:assumed-role/Admins/bob\",\n"
    "     \"instance_connect_endpoint\": \"*\"}\n"
    "  ]\n"
    "}\n";

static const char *const valid_domains[] = {
    "amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov",
};


/* POSIX ERE full match; the patterns here are fixed, so a compile failure is a bug and
 * counts as "no match" (fail closed). */
static bool world_re_match(const char *pattern, const char *s)
{
    regex_t re;
    bool ok;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return false;
    }
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Printable ASCII without spaces: what credentials, ARNs and globs are made of here.
 * Anything else could break a log line or a record. */
static bool is_token(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Every member of obj must be one of allowed (NULL-terminated); path names obj in messages. */
static int check_keys(const char *name, const char *path, json_object *obj, const char *const *allowed,
                      char *err, size_t err_len)
{
    json_object_object_foreach(obj, key, val) {
        bool known = false;

        (void)val;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            eic_set_err(err, err_len, "%s: unknown key \"%s%s%s\"", name, path, path[0] ? "." : "", key);
            return EINVAL;
        }
    }
    return 0;
}

#define VPC_PATTERN "^vpc-[0-9a-f]{8,17}$"
#define SUBNET_PATTERN "^subnet-[0-9a-f]{8,17}$"
#define ENDPOINT_PATTERN "^eice-[0-9a-f]{8,17}$"
#define DEFAULT_VPC "vpc-0e1c0de5e1c0de500"
#define DEFAULT_SUBNET "subnet-0e1c0de5e1c0de501"
#define DEFAULT_ENDPOINT "eice-0e1c0de5e1c0de502"

static int get_string(const char *name, const char *path, json_object *obj, const char *key, bool required,
                      char **out, char *err, size_t err_len);

/* An AWS resource id member matching pattern; absent: a copy of default_value (NULL: required). */
static int get_id(const char *name, const char *path, json_object *obj, const char *key, const char *pattern,
                  const char *default_value, char **out, char *err, size_t err_len)
{
    int ret = get_string(name, path, obj, key, default_value == NULL, out, err, err_len);

    if (ret == 0 && *out == NULL) {
        *out = strdup(default_value);
        return *out ? 0 : ENOMEM;
    }
    if (ret == 0 && !world_re_match(pattern, *out)) {
        eic_set_err(err, err_len, "%s: \"%s.%s\": \"%.64s\" does not match %s", name, path, key, *out, pattern);
        return EINVAL;
    }
    return ret;
}

/* A required (or optional, when *out may stay NULL) string member, copied. */
static int get_string(const char *name, const char *path, json_object *obj, const char *key, bool required,
                      char **out, char *err, size_t err_len)
{
    json_object *member;

    *out = NULL;
    /* An optional key given as null is as good as absent. */
    if (!json_object_object_get_ex(obj, key, &member) || (!required && json_object_is_type(member, json_type_null))) {
        if (required) {
            eic_set_err(err, err_len, "%s: missing key \"%s.%s\"", name, path, key);
            return EINVAL;
        }
        return 0;
    }
    if (!json_object_is_type(member, json_type_string)) {
        eic_set_err(err, err_len, "%s: \"%s.%s\" must be a string", name, path, key);
        return EINVAL;
    }
    *out = strdup(json_object_get_string(member));
    return *out == NULL ? ENOMEM : 0;
}

static int parse_instance(const char *name, json_object *inst, struct emu_world *w, char *err, size_t err_len)
{
    static const char *const keys[] = {
        "id", "availability_zone", "domain", "account_id", "imdsv2_required", "private_ip", "public_ip", "ipv6",
        "vpc_id", "subnet_id", NULL,
    };
    struct in6_addr addr6;
    struct in_addr addr4;
    json_object *member;
    bool domain_ok = false, no_private;
    size_t zlen;
    int ret;

    if (!json_object_is_type(inst, json_type_object)) {
        eic_set_err(err, err_len, "%s: \"instance\" must be an object", name);
        return EINVAL;
    }
    ret = check_keys(name, "instance", inst, keys, err, err_len);
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "id", true, &w->instance_id, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "availability_zone", true, &w->availability_zone, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "domain", false, &w->domain, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "account_id", true, &w->account_id, err, err_len);
    }
    if (ret != 0) {
        return ret;
    }
    /* The same rules eic applies to what IMDS serves (docs/PROTOCOL.md): a world the
     * instance side would refuse is a mistake in the world file. */
    if (!world_re_match("^i-[0-9a-f]{8,32}$", w->instance_id)) {
        eic_set_err(err, err_len, "%s: \"instance.id\": \"%.64s\" is not an instance id (^i-[0-9a-f]{8,32}$)", name,
                w->instance_id);
        return EINVAL;
    }
    if (!world_re_match("^([a-z]+-){2,3}[0-9][a-z]$", w->availability_zone)) {
        eic_set_err(err, err_len,
                "%s: \"instance.availability_zone\": \"%.64s\" is not an availability zone "
                "(^([a-z]+-){2,3}[0-9][a-z]$)",
                name, w->availability_zone);
        return EINVAL;
    }
    zlen = strlen(w->availability_zone);
    w->region = strndup(w->availability_zone, zlen - 1);
    if (w->region == NULL) {
        return ENOMEM;
    }
    if (w->domain == NULL) {
        w->domain = strdup("amazonaws.com");
        if (w->domain == NULL) {
            return ENOMEM;
        }
    }
    for (size_t i = 0; i < sizeof(valid_domains) / sizeof(valid_domains[0]); i++) {
        if (strcmp(w->domain, valid_domains[i]) == 0) {
            domain_ok = true;
        }
    }
    if (!domain_ok) {
        eic_set_err(err, err_len,
                "%s: \"instance.domain\": \"%.64s\" is not one of amazonaws.com, amazonaws.com.cn, c2s.ic.gov, "
                "sc2s.sgov.gov",
                name, w->domain);
        return EINVAL;
    }
    if (!world_re_match("^[0-9]{12}$", w->account_id)) {
        eic_set_err(err, err_len, "%s: \"instance.account_id\": \"%.64s\" is not a 12-digit account id", name,
                w->account_id);
        return EINVAL;
    }
    w->imdsv2_required = true;
    if (json_object_object_get_ex(inst, "imdsv2_required", &member)) {
        if (!json_object_is_type(member, json_type_boolean)) {
            eic_set_err(err, err_len, "%s: \"instance.imdsv2_required\" must be true or false", name);
            return EINVAL;
        }
        w->imdsv2_required = json_object_get_boolean(member);
    }
    /* The addresses DescribeInstances reports (emu_ec2.c). The private one defaults to
     * loopback so that `eic ssh` reaches an sshd on 127.0.0.1 in the test sandbox. */
    /* null: no private IPv4 address (an IPv6-only instance). */
    no_private = json_object_object_get_ex(inst, "private_ip", &member) && json_object_is_type(member, json_type_null);
    ret = no_private ? 0 : get_string(name, "instance", inst, "private_ip", false, &w->private_ip, err, err_len);
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "public_ip", false, &w->public_ip, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, "instance", inst, "ipv6", false, &w->ipv6, err, err_len);
    }
    if (ret == 0 && w->private_ip == NULL && !no_private) {
        w->private_ip = strdup("127.0.0.1");
        ret = w->private_ip ? 0 : ENOMEM;
    }
    if (ret != 0) {
        return ret;
    }
    if ((w->private_ip != NULL && inet_pton(AF_INET, w->private_ip, &addr4) != 1) ||
        (w->public_ip != NULL && inet_pton(AF_INET, w->public_ip, &addr4) != 1)) {
        eic_set_err(err, err_len, "%s: \"instance.%s\" is not an IPv4 address", name,
                    w->private_ip != NULL && inet_pton(AF_INET, w->private_ip, &addr4) != 1 ? "private_ip"
                                                                                             : "public_ip");
        return EINVAL;
    }
    if (w->ipv6 != NULL && inet_pton(AF_INET6, w->ipv6, &addr6) != 1) {
        eic_set_err(err, err_len, "%s: \"instance.ipv6\" is not an IPv6 address", name);
        return EINVAL;
    }
    ret = get_id(name, "instance", inst, "vpc_id", VPC_PATTERN, DEFAULT_VPC, &w->vpc_id, err, err_len);
    if (ret == 0) {
        ret = get_id(name, "instance", inst, "subnet_id", SUBNET_PATTERN, DEFAULT_SUBNET, &w->subnet_id, err,
                     err_len);
    }
    return ret;
}

static const char *const endpoint_states[] = {
    "create-in-progress", "create-complete", "create-failed", "delete-in-progress", "delete-complete",
    "delete-failed", "update-in-progress", "update-complete", "update-failed", NULL,
};

/* A DNS name: labels of [a-z0-9-], dots between, at most 253 characters. */
static bool dns_name_ok(const char *s)
{
    return strlen(s) <= 253 && world_re_match("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$", s);
}

static int parse_ports(const char *name, const char *path, json_object *arr, struct emu_endpoint *e, char *err,
                       size_t err_len)
{
    size_t n;

    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) < 1 ||
        n > EMU_WORLD_MAX_PORTS) {
        eic_set_err(err, err_len, "%s: \"%s.remote_ports\" must be an array of 1 to %d ports", name, path,
                    EMU_WORLD_MAX_PORTS);
        return EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        int64_t port = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;

        if (port < 1 || port > 65535) {
            eic_set_err(err, err_len, "%s: \"%s.remote_ports[%zu]\" must be a port number 1..65535", name, path, i);
            return EINVAL;
        }
        e->remote_ports[e->n_remote_ports++] = (unsigned int)port;
    }
    return 0;
}

/* Printable text without control characters (a tag is echoed in XML and compared in filters). */
static bool tag_text_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

/* "tags": {"Key": "value", ...}, EC2's limits: key 1..128, value 0..256, "aws:" is AWS's prefix. */
static int parse_tags(const char *name, const char *path, json_object *obj, struct emu_endpoint *e, char *err,
                      size_t err_len)
{
    if (!json_object_is_type(obj, json_type_object) || json_object_object_length(obj) > EMU_WORLD_MAX_TAGS) {
        eic_set_err(err, err_len, "%s: \"%s.tags\" must be an object of at most %d string values", name, path,
                    EMU_WORLD_MAX_TAGS);
        return EINVAL;
    }
    json_object_object_foreach(obj, key, value)
    {
        struct emu_tag *t = &e->tags[e->n_tags];

        if (!json_object_is_type(value, json_type_string) || !tag_text_ok(key, 1, 128) ||
            strncmp(key, "aws:", 4) == 0 || !tag_text_ok(json_object_get_string(value), 0, 256)) {
            eic_set_err(err, err_len, "%s: \"%s.tags.%.128s\": a key is 1..128 characters not starting with "
                        "\"aws:\", a value a string of 0..256, neither with control characters", name, path, key);
            return EINVAL;
        }
        t->key = strdup(key);
        t->value = strdup(json_object_get_string(value));
        e->n_tags++; /* counted before the NULL check: emu_world_free frees what was copied */
        if (t->key == NULL || t->value == NULL) {
            return ENOMEM;
        }
    }
    return 0;
}

static int parse_endpoint(const char *name, const char *path, json_object *obj, const struct emu_world *w,
                          struct emu_endpoint *e, char *err, size_t err_len)
{
    static const char *const keys[] = {"id", "vpc_id", "subnet_id", "state", "dns_name", "fips_dns_name", "tags",
                                       "remote_ports", NULL};
    json_object *member;
    bool state_ok = false;
    int ret;

    if (!json_object_is_type(obj, json_type_object)) {
        eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
        return EINVAL;
    }
    ret = check_keys(name, path, obj, keys, err, err_len);
    if (ret == 0) {
        ret = get_id(name, path, obj, "id", ENDPOINT_PATTERN, NULL, &e->id, err, err_len);
    }
    if (ret == 0) {
        ret = get_id(name, path, obj, "vpc_id", VPC_PATTERN, w->vpc_id, &e->vpc_id, err, err_len);
    }
    if (ret == 0) {
        ret = get_id(name, path, obj, "subnet_id", SUBNET_PATTERN, w->subnet_id, &e->subnet_id, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, obj, "state", false, &e->state, err, err_len);
    }
    if (ret == 0 && e->state == NULL) {
        e->state = strdup("create-complete");
        ret = e->state ? 0 : ENOMEM;
    }
    for (size_t i = 0; ret == 0 && endpoint_states[i] != NULL; i++) {
        state_ok = state_ok || strcmp(e->state, endpoint_states[i]) == 0;
    }
    if (ret == 0 && !state_ok) {
        eic_set_err(err, err_len, "%s: \"%s.state\": \"%.32s\" is not an Instance Connect Endpoint state", name,
                    path, e->state);
        return EINVAL;
    }
    if (ret == 0) {
        ret = get_string(name, path, obj, "dns_name", false, &e->dns_name, err, err_len);
    }
    if (ret == 0 && e->dns_name == NULL) {
        /* The shape of AWS's names: <id>.<8 hex>.ec2-instance-connect-endpoint.<region>.amazonaws.com */
        ret = asprintf(&e->dns_name, "%s.0e1c0de5.ec2-instance-connect-endpoint.%s.%s", e->id, w->region,
                       w->domain) < 0 ? ENOMEM : 0;
        if (ret != 0) {
            e->dns_name = NULL;
        }
    }
    if (ret == 0 && !dns_name_ok(e->dns_name)) {
        eic_set_err(err, err_len, "%s: \"%s.dns_name\" is not a DNS name", name, path);
        return EINVAL;
    }
    if (ret == 0) {
        ret = get_string(name, path, obj, "fips_dns_name", false, &e->fips_dns_name, err, err_len);
    }
    if (ret == 0 && e->fips_dns_name == NULL) {
        /* AWS's FIPS name is the DNS name with "fips." before "ec2-instance-connect-endpoint". */
        ret = asprintf(&e->fips_dns_name, "%s.0e1c0de5.fips.ec2-instance-connect-endpoint.%s.%s", e->id, w->region,
                       w->domain) < 0 ? ENOMEM : 0;
        if (ret != 0) {
            e->fips_dns_name = NULL;
        }
    }
    if (ret == 0 && !dns_name_ok(e->fips_dns_name)) {
        eic_set_err(err, err_len, "%s: \"%s.fips_dns_name\" is not a DNS name", name, path);
        return EINVAL;
    }
    if (ret == 0 && json_object_object_get_ex(obj, "tags", &member) && !json_object_is_type(member, json_type_null)) {
        ret = parse_tags(name, path, member, e, err, err_len);
    }
    if (ret == 0 && json_object_object_get_ex(obj, "remote_ports", &member)) {
        ret = parse_ports(name, path, member, e, err, err_len);
    } else if (ret == 0) {
        e->remote_ports[e->n_remote_ports++] = 22;
    }
    return ret;
}

static int parse_endpoints(const char *name, json_object *arr, struct emu_world *w, char *err, size_t err_len)
{
    size_t n;
    int ret = 0;

    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) > EMU_WORLD_MAX_ENDPOINTS) {
        eic_set_err(err, err_len, "%s: \"instance_connect_endpoints\" must be an array of at most %d endpoints",
                    name, EMU_WORLD_MAX_ENDPOINTS);
        return EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    w->endpoints = calloc(n, sizeof(*w->endpoints));
    if (w->endpoints == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        char path[64];

        w->n_endpoints = i + 1;
        snprintf(path, sizeof(path), "instance_connect_endpoints[%zu]", i);
        ret = parse_endpoint(name, path, json_object_array_get_idx(arr, i), w, &w->endpoints[i], err, err_len);
        for (size_t j = 0; ret == 0 && j < i; j++) {
            if (strcmp(w->endpoints[j].id, w->endpoints[i].id) == 0) {
                eic_set_err(err, err_len, "%s: \"%s.id\": %s is already used", name, path, w->endpoints[i].id);
                ret = EINVAL;
            }
        }
    }
    return ret;
}

/* No "instance_connect_endpoints" key: one endpoint in the instance's subnet. */
static int default_endpoints(const char *name, struct emu_world *w, char *err, size_t err_len)
{
    static const char text[] = "[{\"id\": \"" DEFAULT_ENDPOINT "\"}]";
    json_object *arr = NULL;
    int ret = eic_json_parse(text, sizeof(text) - 1, sizeof(text), &arr);

    if (ret == 0) {
        ret = parse_endpoints(name, arr, w, err, err_len);
    }
    json_object_put(arr);
    return ret;
}

static int parse_principals(const char *name, json_object *arr, struct emu_world *w, char *err, size_t err_len)
{
    static const char *const keys[] = {"arn", "access_key_id", "secret_access_key", "session_token", NULL};
    size_t n;
    int ret = 0;

    if (!json_object_is_type(arr, json_type_array)) {
        eic_set_err(err, err_len, "%s: \"principals\" must be an array", name);
        return EINVAL;
    }
    n = json_object_array_length(arr);
    if (n < 1 || n > EMU_WORLD_MAX_PRINCIPALS) {
        eic_set_err(err, err_len, "%s: \"principals\" must hold 1 to %d entries", name, EMU_WORLD_MAX_PRINCIPALS);
        return EINVAL;
    }
    w->principals = calloc(n, sizeof(*w->principals));
    if (w->principals == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(arr, i);
        struct emu_principal *pr = &w->principals[i];
        char path[32];

        w->n_principals = i + 1; /* so that emu_world_free releases what was filled */
        snprintf(path, sizeof(path), "principals[%zu]", i);
        if (!json_object_is_type(p, json_type_object)) {
            eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
            return EINVAL;
        }
        ret = check_keys(name, path, p, keys, err, err_len);
        if (ret == 0) {
            ret = get_string(name, path, p, "arn", true, &pr->arn, err, err_len);
        }
        if (ret == 0) {
            ret = get_string(name, path, p, "access_key_id", true, &pr->access_key_id, err, err_len);
        }
        if (ret == 0) {
            ret = get_string(name, path, p, "secret_access_key", true, &pr->secret_access_key, err, err_len);
        }
        if (ret == 0) {
            ret = get_string(name, path, p, "session_token", false, &pr->session_token, err, err_len);
        }
        if (ret != 0) {
            return ret;
        }
        if (!is_token(pr->arn, 1, 2048) || !world_re_match("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[^ ]+$", pr->arn)) {
            eic_set_err(err, err_len, "%s: \"%s.arn\": \"%.80s\" is not an IAM or STS principal ARN", name, path,
                    pr->arn);
            return EINVAL;
        }
        if (!world_re_match("^[A-Z0-9]{16,128}$", pr->access_key_id)) {
            eic_set_err(err, err_len, "%s: \"%s.access_key_id\": \"%.80s\" is not an access key id ([A-Z0-9]{16,128})",
                    name, path, pr->access_key_id);
            return EINVAL;
        }
        /* The secret's value is never echoed, not even in an error message. */
        if (!is_token(pr->secret_access_key, 1, 256)) {
            eic_set_err(err, err_len, "%s: \"%s.secret_access_key\" must be 1 to 256 printable characters without "
                    "spaces", name, path);
            return EINVAL;
        }
        if (pr->session_token != NULL && !is_token(pr->session_token, 1, 4096)) {
            eic_set_err(err, err_len, "%s: \"%s.session_token\" must be 1 to 4096 printable characters without spaces",
                    name, path);
            return EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w->principals[j].access_key_id, pr->access_key_id) == 0) {
                eic_set_err(err, err_len, "%s: \"%s.access_key_id\": %s is already used by principals[%zu]", name, path,
                        pr->access_key_id, j);
                return EINVAL;
            }
        }
    }
    return 0;
}

static int parse_policy(const char *name, json_object *arr, struct emu_world *w, char *err, size_t err_len)
{
    static const char *const push_keys[] = {"action", "principal", "instance", "os_user", NULL};
    static const char *const tunnel_keys[] = {"action", "principal", "instance_connect_endpoint", NULL};
    size_t n;
    int ret = 0;

    if (!json_object_is_type(arr, json_type_array)) {
        eic_set_err(err, err_len, "%s: \"policy\" must be an array", name);
        return EINVAL;
    }
    n = json_object_array_length(arr);
    if (n > EMU_WORLD_MAX_POLICY) {
        eic_set_err(err, err_len, "%s: \"policy\" holds more than %d rules", name, EMU_WORLD_MAX_POLICY);
        return EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    w->policy = calloc(n, sizeof(*w->policy));
    if (w->policy == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(arr, i);
        struct emu_policy_rule *rule = &w->policy[i];
        char *action = NULL;
        const char *bad = NULL;
        char path[32];

        w->n_policy = i + 1;
        snprintf(path, sizeof(path), "policy[%zu]", i);
        if (!json_object_is_type(r, json_type_object)) {
            eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
            return EINVAL;
        }
        ret = get_string(name, path, r, "action", false, &action, err, err_len);
        if (ret != 0) {
            return ret;
        }
        if (action == NULL || strcmp(action, "SendSSHPublicKey") == 0) {
            rule->action = EMU_ACTION_PUSH;
        } else if (strcmp(action, "OpenTunnel") == 0) {
            rule->action = EMU_ACTION_OPEN_TUNNEL;
        } else {
            eic_set_err(err, err_len, "%s: \"%s.action\" must be \"SendSSHPublicKey\" or \"OpenTunnel\"", name, path);
            free(action);
            return EINVAL;
        }
        free(action);
        ret = check_keys(name, path, r, rule->action == EMU_ACTION_PUSH ? push_keys : tunnel_keys, err, err_len);
        if (ret == 0) {
            ret = get_string(name, path, r, "principal", true, &rule->principal, err, err_len);
        }
        if (ret == 0 && rule->action == EMU_ACTION_PUSH) {
            ret = get_string(name, path, r, "instance", true, &rule->instance, err, err_len);
            if (ret == 0) {
                ret = get_string(name, path, r, "os_user", true, &rule->os_user, err, err_len);
            }
        } else if (ret == 0) {
            ret = get_string(name, path, r, "instance_connect_endpoint", true, &rule->endpoint, err, err_len);
        }
        if (ret != 0) {
            return ret;
        }
        if (!is_token(rule->principal, 1, 2048)) {
            bad = "principal";
        } else if (rule->instance != NULL && !is_token(rule->instance, 1, 64)) {
            bad = "instance";
        } else if (rule->os_user != NULL && !is_token(rule->os_user, 1, 64)) {
            bad = "os_user";
        } else if (rule->endpoint != NULL && !is_token(rule->endpoint, 1, 64)) {
            bad = "instance_connect_endpoint";
        }
        if (bad != NULL) {
            eic_set_err(err, err_len, "%s: \"%s.%s\" must be a non-empty glob of printable characters without spaces",
                    name, path, bad);
            return EINVAL;
        }
    }
    return 0;
}


/* Whether path is IMDS's (which the container endpoint must not shadow). */
static bool emu_imds_like(const char *path)
{
    return strcmp(path, "/latest") == 0 || strncmp(path, "/latest/", 8) == 0;
}

/* An optional array of 1..EMU_ROLE_MAX_ITEMS strings of printable characters without spaces. */
static int get_string_list(const char *name, const char *path, json_object *obj, const char *key, char **out,
                           size_t *n_out, char *err, size_t err_len)
{
    json_object *arr;
    size_t n;

    *n_out = 0;
    if (!json_object_object_get_ex(obj, key, &arr)) {
        return 0;
    }
    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) == 0 ||
        n > EMU_ROLE_MAX_ITEMS) {
        eic_set_err(err, err_len, "%s: \"%s.%s\" must be an array of 1 to %d strings", name, path, key,
                    EMU_ROLE_MAX_ITEMS);
        return EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);

        if (!json_object_is_type(v, json_type_string) || !is_token(json_object_get_string(v), 1, 4096)) {
            eic_set_err(err, err_len, "%s: \"%s.%s[%zu]\" must be 1 to 4096 printable characters without spaces",
                        name, path, key, i);
            return EINVAL;
        }
        out[i] = strdup(json_object_get_string(v));
        if (out[i] == NULL) {
            return ENOMEM;
        }
        *n_out = i + 1;
    }
    return 0;
}

static int parse_role(const char *name, const char *path, json_object *r, struct emu_role *role, char *err,
                      size_t err_len)
{
    static const char *const keys[] = {"arn", "trusted", "external_id", "web_identity_tokens", "instance_profile",
                                       "container_path", "container_authorization", "sso_role_name",
                                       "sso_access_tokens", "mfa_serial", "mfa_code", "max_session_duration",
                                       "credential_lifetime", NULL};
    json_object *member;
    const char *slash;
    int ret;

    if (!json_object_is_type(r, json_type_object)) {
        eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
        return EINVAL;
    }
    ret = check_keys(name, path, r, keys, err, err_len);
    if (ret == 0) {
        ret = get_string(name, path, r, "arn", true, &role->arn, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "external_id", false, &role->external_id, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "container_path", false, &role->container_path, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "container_authorization", false, &role->container_authorization, err,
                         err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "sso_role_name", false, &role->sso_role_name, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "mfa_serial", false, &role->mfa_serial, err, err_len);
    }
    if (ret == 0) {
        ret = get_string(name, path, r, "mfa_code", false, &role->mfa_code, err, err_len);
    }
    if (ret == 0) {
        ret = get_string_list(name, path, r, "trusted", role->trusted, &role->n_trusted, err, err_len);
    }
    if (ret == 0) {
        ret = get_string_list(name, path, r, "web_identity_tokens", role->web_identity_tokens,
                              &role->n_web_identity_tokens, err, err_len);
    }
    if (ret == 0) {
        ret = get_string_list(name, path, r, "sso_access_tokens", role->sso_access_tokens, &role->n_sso_access_tokens,
                              err, err_len);
    }
    if (ret != 0) {
        return ret;
    }
    /* arn:aws:iam::ACCOUNT:role/[PATH/]NAME, NAME as IAM allows it. */
    if (!world_re_match("^arn:aws[a-z-]*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$",
                        role->arn)) {
        eic_set_err(err, err_len, "%s: \"%s.arn\": \"%.80s\" is not an IAM role ARN", name, path, role->arn);
        return EINVAL;
    }
    role->account_id = strndup(strstr(role->arn, "::") + 2, 12);
    slash = strrchr(role->arn, '/');
    role->name = strdup(slash + 1);
    if (role->account_id == NULL || role->name == NULL) {
        return ENOMEM;
    }
    if (role->external_id != NULL && !world_re_match("^[A-Za-z0-9+=,.@:/_-]{2,1224}$", role->external_id)) {
        eic_set_err(err, err_len, "%s: \"%s.external_id\" must be 2 to 1224 of [A-Za-z0-9+=,.@:/_-]", name, path);
        return EINVAL;
    }
    if (role->container_path != NULL &&
        (!world_re_match("^/[A-Za-z0-9._~/-]{1,255}$", role->container_path) || emu_imds_like(role->container_path))) {
        eic_set_err(err, err_len, "%s: \"%s.container_path\" must be an absolute path of [A-Za-z0-9._~/-] outside "
                    "/latest", name, path);
        return EINVAL;
    }
    if (role->container_authorization != NULL && !is_token(role->container_authorization, 1, 4096)) {
        eic_set_err(err, err_len, "%s: \"%s.container_authorization\" must be 1 to 4096 printable characters "
                    "without spaces", name, path);
        return EINVAL;
    }
    if ((role->sso_role_name != NULL) != (role->n_sso_access_tokens > 0) ||
        (role->sso_role_name != NULL && !world_re_match("^[A-Za-z0-9+=,.@_-]{1,64}$", role->sso_role_name))) {
        eic_set_err(err, err_len, "%s: \"%s\": \"sso_role_name\" (a role name) and \"sso_access_tokens\" go "
                    "together", name, path);
        return EINVAL;
    }
    /* STS's SerialNumber (an MFA device ARN or a hardware serial) and TokenCode (6 digits). */
    if ((role->mfa_serial != NULL) != (role->mfa_code != NULL) ||
        (role->mfa_serial != NULL && (!world_re_match("^[A-Za-z0-9+=/:,.@_-]{9,256}$", role->mfa_serial) ||
                                      !world_re_match("^[0-9]{6}$", role->mfa_code)))) {
        eic_set_err(err, err_len, "%s: \"%s\": \"mfa_serial\" (9 to 256 of [A-Za-z0-9+=/:,.@_-]) and "
                    "\"mfa_code\" (6 digits) go together", name, path);
        return EINVAL;
    }
    role->instance_profile = false;
    if (json_object_object_get_ex(r, "instance_profile", &member)) {
        if (!json_object_is_type(member, json_type_boolean)) {
            eic_set_err(err, err_len, "%s: \"%s.instance_profile\" must be true or false", name, path);
            return EINVAL;
        }
        role->instance_profile = json_object_get_boolean(member);
    }
    role->max_session_duration = 3600;
    if (json_object_object_get_ex(r, "max_session_duration", &member)) {
        int64_t v = json_object_is_type(member, json_type_int) ? json_object_get_int64(member) : -1;

        if (v < 900 || v > 43200) {
            eic_set_err(err, err_len, "%s: \"%s.max_session_duration\" must be an integer in 900..43200", name, path);
            return EINVAL;
        }
        role->max_session_duration = (long)v;
    }
    role->credential_lifetime = 0;
    if (json_object_object_get_ex(r, "credential_lifetime", &member)) {
        int64_t v = json_object_is_type(member, json_type_int) ? json_object_get_int64(member) : -1;

        if (v < 60 || v > 43200) {
            eic_set_err(err, err_len, "%s: \"%s.credential_lifetime\" must be an integer in 60..43200", name, path);
            return EINVAL;
        }
        role->credential_lifetime = (long)v;
    }
    return 0;
}

static int parse_roles(const char *name, json_object *arr, struct emu_world *w, char *err, size_t err_len)
{
    size_t n;
    int ret;

    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) > EMU_WORLD_MAX_ROLES) {
        eic_set_err(err, err_len, "%s: \"roles\" must be an array of at most %d roles", name, EMU_WORLD_MAX_ROLES);
        return EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    w->roles = calloc(n, sizeof(*w->roles));
    if (w->roles == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char path[32];
        bool profile_seen = false;

        w->n_roles = i + 1;
        snprintf(path, sizeof(path), "roles[%zu]", i);
        ret = parse_role(name, path, json_object_array_get_idx(arr, i), &w->roles[i], err, err_len);
        if (ret != 0) {
            return ret;
        }
        for (size_t j = 0; j < i; j++) {
            const struct emu_role *a = &w->roles[j], *b = &w->roles[i];

            profile_seen = profile_seen || a->instance_profile;
            if (strcmp(a->arn, b->arn) == 0 ||
                (a->container_path && b->container_path && strcmp(a->container_path, b->container_path) == 0) ||
                (a->sso_role_name && b->sso_role_name && strcmp(a->account_id, b->account_id) == 0 &&
                 strcmp(a->sso_role_name, b->sso_role_name) == 0)) {
                eic_set_err(err, err_len, "%s: \"%s\" repeats the ARN, container_path or SSO role of roles[%zu]",
                            name, path, j);
                return EINVAL;
            }
        }
        if (profile_seen && w->roles[i].instance_profile) {
            eic_set_err(err, err_len, "%s: \"%s.instance_profile\": an instance has one instance profile role", name,
                        path);
            return EINVAL;
        }
    }
    return 0;
}

/* "sso_users": [{"name", "access_tokens", "refresh_tokens"}]: who signed in to the portal with
 * which tokens, and which refresh tokens sso-oidc renews their first access token for. */
static int parse_sso_users(const char *name, json_object *arr, struct emu_world *w, char *err, size_t err_len)
{
    static const char *const keys[] = {"name", "access_tokens", "refresh_tokens", NULL};
    size_t n;
    int ret = 0;

    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) > EMU_WORLD_MAX_ROLES) {
        eic_set_err(err, err_len, "%s: \"sso_users\" must be an array of at most %d users", name,
                    EMU_WORLD_MAX_ROLES);
        return EINVAL;
    }
    w->sso_users = calloc(n ? n : 1, sizeof(*w->sso_users));
    if (w->sso_users == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        json_object *u = json_object_array_get_idx(arr, i);
        struct emu_sso_user *user = &w->sso_users[i];
        char path[32];

        w->n_sso_users = i + 1;
        snprintf(path, sizeof(path), "sso_users[%zu]", i);
        if (!json_object_is_type(u, json_type_object)) {
            eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
            return EINVAL;
        }
        ret = check_keys(name, path, u, keys, err, err_len);
        if (ret == 0) {
            ret = get_string(name, path, u, "name", true, &user->name, err, err_len);
        }
        if (ret == 0) {
            ret = get_string_list(name, path, u, "access_tokens", user->access_tokens, &user->n_access_tokens, err,
                                  err_len);
        }
        if (ret == 0) {
            ret = get_string_list(name, path, u, "refresh_tokens", user->refresh_tokens, &user->n_refresh_tokens, err,
                                  err_len);
        }
        /* The name becomes the role session name: STS's rule for those. */
        if (ret == 0 && (!world_re_match("^[A-Za-z0-9+=,.@_-]{2,64}$", user->name) || user->n_access_tokens == 0)) {
            eic_set_err(err, err_len, "%s: \"%s\": \"name\" (2 to 64 of [A-Za-z0-9+=,.@_-]) and \"access_tokens\" "
                        "are required", name, path);
            ret = EINVAL;
        }
    }
    return ret;
}

/* "sso_oidc_clients": [{"client_id", "client_secret"}]: the clients registered with sso-oidc
 * (RegisterClient, as `aws sso login` does), whose refresh tokens CreateToken takes. */
static int parse_sso_oidc_clients(const char *name, json_object *arr, struct emu_world *w, char *err,
                                  size_t err_len)
{
    static const char *const keys[] = {"client_id", "client_secret", NULL};
    size_t n;
    int ret = 0;

    if (!json_object_is_type(arr, json_type_array) || (n = json_object_array_length(arr)) > EMU_ROLE_MAX_ITEMS) {
        eic_set_err(err, err_len, "%s: \"sso_oidc_clients\" must be an array of at most %d clients", name,
                    EMU_ROLE_MAX_ITEMS);
        return EINVAL;
    }
    w->sso_oidc_clients = calloc(n ? n : 1, sizeof(*w->sso_oidc_clients));
    if (w->sso_oidc_clients == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        struct emu_sso_client *client = &w->sso_oidc_clients[i];
        char path[40];

        w->n_sso_oidc_clients = i + 1;
        snprintf(path, sizeof(path), "sso_oidc_clients[%zu]", i);
        if (!json_object_is_type(c, json_type_object)) {
            eic_set_err(err, err_len, "%s: \"%s\" must be an object", name, path);
            return EINVAL;
        }
        ret = check_keys(name, path, c, keys, err, err_len);
        if (ret == 0) {
            ret = get_string(name, path, c, "client_id", true, &client->client_id, err, err_len);
        }
        if (ret == 0) {
            ret = get_string(name, path, c, "client_secret", true, &client->client_secret, err, err_len);
        }
        if (ret == 0 && (!is_token(client->client_id, 1, 4096) || !is_token(client->client_secret, 1, 4096))) {
            eic_set_err(err, err_len, "%s: \"%s\": \"client_id\" and \"client_secret\" must be 1 to 4096 printable "
                        "characters without spaces", name, path);
            ret = EINVAL;
        }
    }
    return ret;
}

/* No "policy" key: each principal may push for any OS user of the world's instance and open
 * tunnels through any endpoint (the convenient default for test worlds); written out as rules
 * so there is one code path. */
static int default_policy(struct emu_world *w)
{
    size_t n = w->n_principals + w->n_roles;

    w->policy = calloc(2 * n, sizeof(*w->policy));
    if (w->policy == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct emu_policy_rule *push = &w->policy[2 * i], *tunnel = &w->policy[2 * i + 1];
        char *who = NULL;

        /* A role's sessions: arn:aws:sts::ACCOUNT:assumed-role/NAME/<any session name>. */
        if (i < w->n_principals) {
            who = strdup(w->principals[i].arn);
        } else if (asprintf(&who, "arn:aws:sts::%s:assumed-role/%s/*", w->roles[i - w->n_principals].account_id,
                            w->roles[i - w->n_principals].name) < 0) {
            who = NULL;
        }
        w->n_policy = 2 * i + 2;
        push->action = EMU_ACTION_PUSH;
        push->principal = who;
        push->instance = strdup(w->instance_id);
        push->os_user = strdup("*");
        tunnel->action = EMU_ACTION_OPEN_TUNNEL;
        tunnel->principal = who ? strdup(who) : NULL;
        tunnel->endpoint = strdup("*");
        if (push->principal == NULL || push->instance == NULL || push->os_user == NULL || tunnel->principal == NULL ||
            tunnel->endpoint == NULL) {
            return ENOMEM;
        }
    }
    return 0;
}

int emu_world_parse(const char *name, const char *text, size_t len, struct emu_world **out, char *err,
                    size_t err_len)
{
    static const char *const keys[] = {"instance", "instance_connect_endpoints", "key_lifetime", "principals", "roles",
                                       "sso_users", "sso_oidc_clients", "policy", NULL};
    struct emu_world *w = NULL;
    json_object *root = NULL;
    json_object *member;
    int ret;

    *out = NULL;
    ret = eic_json_parse(text, len, EMU_WORLD_MAX_SIZE, &root);
    if (ret == EBADMSG) {
        eic_set_err(err, err_len, "%s: not valid JSON", name);
        ret = EINVAL;
        goto done;
    }
    if (ret == EMSGSIZE) {
        eic_set_err(err, err_len, "%s: larger than %d bytes", name, EMU_WORLD_MAX_SIZE);
        ret = EINVAL;
        goto done;
    }
    if (ret != 0) {
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        eic_set_err(err, err_len, "%s: the world must be a JSON object", name);
        ret = EINVAL;
        goto done;
    }
    ret = check_keys(name, "", root, keys, err, err_len);
    if (ret != 0) {
        goto done;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        ret = ENOMEM;
        goto done;
    }
    w->source = strdup(name);
    if (w->source == NULL) {
        ret = ENOMEM;
        goto done;
    }
    if (!json_object_object_get_ex(root, "instance", &member)) {
        eic_set_err(err, err_len, "%s: missing key \"instance\"", name);
        ret = EINVAL;
        goto done;
    }
    ret = parse_instance(name, member, w, err, err_len);
    if (ret != 0) {
        goto done;
    }
    if (json_object_object_get_ex(root, "instance_connect_endpoints", &member)) {
        ret = parse_endpoints(name, member, w, err, err_len);
    } else {
        ret = default_endpoints(name, w, err, err_len);
    }
    if (ret != 0) {
        goto done;
    }
    w->key_lifetime = 60;
    if (json_object_object_get_ex(root, "key_lifetime", &member)) {
        int64_t v;

        if (!json_object_is_type(member, json_type_int)) {
            eic_set_err(err, err_len, "%s: \"key_lifetime\" must be an integer (seconds)", name);
            ret = EINVAL;
            goto done;
        }
        v = json_object_get_int64(member);
        if (v < EMU_KEY_LIFETIME_MIN || v > EMU_KEY_LIFETIME_MAX) {
            eic_set_err(err, err_len, "%s: \"key_lifetime\": %lld is outside %d..%d", name, (long long)v,
                    EMU_KEY_LIFETIME_MIN, EMU_KEY_LIFETIME_MAX);
            ret = EINVAL;
            goto done;
        }
        w->key_lifetime = (long)v;
    }
    if (!json_object_object_get_ex(root, "principals", &member)) {
        eic_set_err(err, err_len, "%s: missing key \"principals\"", name);
        ret = EINVAL;
        goto done;
    }
    ret = parse_principals(name, member, w, err, err_len);
    if (ret != 0) {
        goto done;
    }
    if (json_object_object_get_ex(root, "roles", &member)) {
        ret = parse_roles(name, member, w, err, err_len);
        if (ret != 0) {
            goto done;
        }
    }
    if (json_object_object_get_ex(root, "sso_users", &member)) {
        ret = parse_sso_users(name, member, w, err, err_len);
        if (ret != 0) {
            goto done;
        }
    }
    if (json_object_object_get_ex(root, "sso_oidc_clients", &member)) {
        ret = parse_sso_oidc_clients(name, member, w, err, err_len);
        if (ret != 0) {
            goto done;
        }
    }
    if (json_object_object_get_ex(root, "policy", &member)) {
        ret = parse_policy(name, member, w, err, err_len);
    } else {
        ret = default_policy(w);
    }
    if (ret != 0) {
        goto done;
    }
    *out = w;
    w = NULL;
done:
    if (ret == ENOMEM) {
        eic_set_err(err, err_len, "%s: out of memory", name);
    }
    emu_world_free(w);
    json_object_put(root);
    return ret;
}

int emu_world_default(struct emu_world **out)
{
    char err[256];
    int ret = emu_world_parse("embedded default", default_world_json, sizeof(default_world_json) - 1, out, err,
                              sizeof(err));

    if (ret == 0) {
        (*out)->is_default = true;
    }
    return ret;
}

int emu_world_load(const char *path, struct emu_world **out, char *err, size_t err_len)
{
    struct eic_buf text;
    char chunk[4096];
    struct stat st;
    ssize_t n;
    int fd;
    int ret;

    *out = NULL;
    eic_buf_init(&text, EMU_WORLD_MAX_SIZE);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        ret = errno;
        eic_set_err(err, err_len, "%s: %s", path, strerror(ret));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = EINVAL;
        eic_set_err(err, err_len, "%s: not a regular file", path);
        goto done;
    }
    for (;;) {
        n = eic_read_retry(fd, chunk, sizeof(chunk));
        if (n < 0) {
            ret = errno;
            eic_set_err(err, err_len, "%s: %s", path, strerror(ret));
            goto done;
        }
        if (n == 0) {
            break;
        }
        ret = eic_buf_append(&text, chunk, (size_t)n);
        if (ret == EMSGSIZE) {
            eic_set_err(err, err_len, "%s: larger than %d bytes", path, EMU_WORLD_MAX_SIZE);
            goto done;
        }
        if (ret != 0) {
            goto done;
        }
    }
    ret = emu_world_parse(path, text.data ? text.data : "", text.len, out, err, err_len);
done:
    if (fd >= 0) {
        close(fd);
    }
    eic_buf_free(&text);
    return ret;
}

void emu_world_free(struct emu_world *w)
{
    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < w->n_principals; i++) {
        free(w->principals[i].arn);
        free(w->principals[i].access_key_id);
        if (w->principals[i].secret_access_key != NULL) {
            explicit_bzero(w->principals[i].secret_access_key, strlen(w->principals[i].secret_access_key));
        }
        free(w->principals[i].secret_access_key);
        free(w->principals[i].session_token);
    }
    free(w->principals);
    for (size_t i = 0; i < w->n_roles; i++) {
        struct emu_role *r = &w->roles[i];

        free(r->arn);
        free(r->account_id);
        free(r->name);
        free(r->external_id);
        free(r->container_path);
        if (r->container_authorization != NULL) {
            explicit_bzero(r->container_authorization, strlen(r->container_authorization));
        }
        free(r->container_authorization);
        free(r->sso_role_name);
        free(r->mfa_serial);
        free(r->mfa_code);
        for (size_t j = 0; j < r->n_trusted; j++) {
            free(r->trusted[j]);
        }
        for (size_t j = 0; j < r->n_web_identity_tokens; j++) {
            explicit_bzero(r->web_identity_tokens[j], strlen(r->web_identity_tokens[j]));
            free(r->web_identity_tokens[j]);
        }
        for (size_t j = 0; j < r->n_sso_access_tokens; j++) {
            explicit_bzero(r->sso_access_tokens[j], strlen(r->sso_access_tokens[j]));
            free(r->sso_access_tokens[j]);
        }
    }
    free(w->roles);
    for (size_t i = 0; i < w->n_sso_users; i++) {
        free(w->sso_users[i].name);
        for (size_t j = 0; j < w->sso_users[i].n_access_tokens; j++) {
            explicit_bzero(w->sso_users[i].access_tokens[j], strlen(w->sso_users[i].access_tokens[j]));
            free(w->sso_users[i].access_tokens[j]);
        }
        for (size_t j = 0; j < w->sso_users[i].n_refresh_tokens; j++) {
            explicit_bzero(w->sso_users[i].refresh_tokens[j], strlen(w->sso_users[i].refresh_tokens[j]));
            free(w->sso_users[i].refresh_tokens[j]);
        }
    }
    free(w->sso_users);
    for (size_t i = 0; i < w->n_sso_oidc_clients; i++) {
        free(w->sso_oidc_clients[i].client_id);
        if (w->sso_oidc_clients[i].client_secret != NULL) {
            explicit_bzero(w->sso_oidc_clients[i].client_secret, strlen(w->sso_oidc_clients[i].client_secret));
        }
        free(w->sso_oidc_clients[i].client_secret);
    }
    free(w->sso_oidc_clients);
    for (size_t i = 0; i < w->n_policy; i++) {
        free(w->policy[i].principal);
        free(w->policy[i].instance);
        free(w->policy[i].os_user);
        free(w->policy[i].endpoint);
    }
    for (size_t i = 0; i < w->n_endpoints; i++) {
        free(w->endpoints[i].id);
        free(w->endpoints[i].vpc_id);
        free(w->endpoints[i].subnet_id);
        free(w->endpoints[i].state);
        free(w->endpoints[i].dns_name);
        free(w->endpoints[i].fips_dns_name);
        for (size_t t = 0; t < w->endpoints[i].n_tags; t++) {
            free(w->endpoints[i].tags[t].key);
            free(w->endpoints[i].tags[t].value);
        }
    }
    free(w->endpoints);
    free(w->vpc_id);
    free(w->subnet_id);
    free(w->policy);
    free(w->source);
    free(w->instance_id);
    free(w->availability_zone);
    free(w->region);
    free(w->domain);
    free(w->account_id);
    free(w->private_ip);
    free(w->public_ip);
    free(w->ipv6);
    free(w);
}

const struct emu_principal *emu_world_principal(const struct emu_world *w, const char *access_key_id)
{
    for (size_t i = 0; i < w->n_principals; i++) {
        if (strcmp(w->principals[i].access_key_id, access_key_id) == 0) {
            return &w->principals[i];
        }
    }
    return NULL;
}

bool emu_world_allows(const struct emu_world *w, const char *principal_arn, const char *instance_id,
                      const char *os_user)
{
    for (size_t i = 0; i < w->n_policy; i++) {
        const struct emu_policy_rule *r = &w->policy[i];

        if (r->action == EMU_ACTION_PUSH && fnmatch(r->principal, principal_arn, 0) == 0 &&
            fnmatch(r->instance, instance_id, 0) == 0 &&
            fnmatch(r->os_user, os_user, 0) == 0) {
            return true;
        }
    }
    return false;
}

bool emu_world_allows_tunnel(const struct emu_world *w, const char *principal_arn, const char *endpoint_id)
{
    for (size_t i = 0; i < w->n_policy; i++) {
        const struct emu_policy_rule *r = &w->policy[i];

        if (r->action == EMU_ACTION_OPEN_TUNNEL && fnmatch(r->principal, principal_arn, 0) == 0 &&
            fnmatch(r->endpoint, endpoint_id, 0) == 0) {
            return true;
        }
    }
    return false;
}

const struct emu_endpoint *emu_world_endpoint(const struct emu_world *w, const char *id)
{
    for (size_t i = 0; i < w->n_endpoints; i++) {
        if (strcmp(w->endpoints[i].id, id) == 0) {
            return &w->endpoints[i];
        }
    }
    return NULL;
}

const struct emu_role *emu_world_role(const struct emu_world *w, const char *arn)
{
    for (size_t i = 0; i < w->n_roles; i++) {
        if (strcmp(w->roles[i].arn, arn) == 0) {
            return &w->roles[i];
        }
    }
    return NULL;
}

long emu_role_lifetime(const struct emu_role *role, long asked)
{
    return role->credential_lifetime > 0 ? role->credential_lifetime : asked;
}

const struct emu_role *emu_world_instance_role(const struct emu_world *w)
{
    for (size_t i = 0; i < w->n_roles; i++) {
        if (w->roles[i].instance_profile) {
            return &w->roles[i];
        }
    }
    return NULL;
}

void emu_world_print(const struct emu_world *w, FILE *out)
{
    fprintf(out, "world:        %s\n", w->source);
    fprintf(out, "instance:     %s\n", w->instance_id);
    fprintf(out, "zone:         %s (region %s)\n", w->availability_zone, w->region);
    fprintf(out, "domain:       %s\n", w->domain);
    fprintf(out, "account:      %s\n", w->account_id);
    fprintf(out, "imds:         %s\n", w->imdsv2_required ? "IMDSv2 required" : "IMDSv1 allowed");
    fprintf(out, "addresses:    private %s, public %s, IPv6 %s (DescribeInstances)\n",
            w->private_ip ? w->private_ip : "none",
            w->public_ip ? w->public_ip : "none", w->ipv6 ? w->ipv6 : "none");
    fprintf(out, "network:      %s, %s\n", w->vpc_id, w->subnet_id);
    for (size_t i = 0; i < w->n_endpoints; i++) {
        const struct emu_endpoint *e = &w->endpoints[i];

        fprintf(out, "endpoint:     %s (%s, %s, %s) %s, ports", e->id, e->state, e->vpc_id, e->subnet_id,
                e->dns_name);
        for (size_t j = 0; j < e->n_remote_ports; j++) {
            fprintf(out, "%s%u", j ? "," : " ", e->remote_ports[j]);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "key lifetime: %ld s\n", w->key_lifetime);
    for (size_t i = 0; i < w->n_principals; i++) {
        const struct emu_principal *p = &w->principals[i];

        fprintf(out, "principal:    %s\n", p->arn);
        fprintf(out, "  access key: %s\n", p->access_key_id);
        /* Only the embedded demo secrets are public; a world file's are never printed. */
        fprintf(out, "  secret key: %s\n", w->is_default ? p->secret_access_key : "(from the world file)");
        if (p->session_token != NULL) {
            fprintf(out, "  session token: (from the world file)\n");
        }
    }
    for (size_t i = 0; i < w->n_roles; i++) {
        const struct emu_role *r = &w->roles[i];

        fprintf(out, "role:         %s (sessions up to %ld s)%s%s%s%s%s%s\n", r->arn, r->max_session_duration,
                r->n_trusted ? ", AssumeRole" : "", r->n_web_identity_tokens ? ", AssumeRoleWithWebIdentity" : "",
                r->instance_profile ? ", IMDS instance profile" : "", r->container_path ? ", container at " : "",
                r->container_path ? r->container_path : "", r->sso_role_name ? ", SSO portal" : "");
    }
    if (w->n_policy == 0) {
        fprintf(out, "policy:       (empty: nobody may push or open tunnels)\n");
    }
    for (size_t i = 0; i < w->n_policy; i++) {
        if (w->policy[i].action == EMU_ACTION_PUSH) {
            fprintf(out, "policy:       %s may push to %s for os-user %s\n", w->policy[i].principal,
                    w->policy[i].instance, w->policy[i].os_user);
        } else {
            fprintf(out, "policy:       %s may open tunnels through %s\n", w->policy[i].principal,
                    w->policy[i].endpoint);
        }
    }
}
