/* eic send-ssh-public-key: the AWS CLI's `aws ec2-instance-connect send-ssh-public-key`, with
 * the same flags, output and exit statuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "args.h"
#include "credentials.h"
#include "eic.h"
#include "eic_log.h"
#include "eic_util.h"
#include "endpoints.h"

#define CMD "send-ssh-public-key"
#define SERVICE "ec2-instance-connect"
#define TARGET "AWSEC2InstanceConnectService.SendSSHPublicKey"
#define OPERATION "SendSSHPublicKey"
#define MAX_KEY_FILE (64 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_S 10
#define DEFAULT_READ_TIMEOUT_S 60
#define MAX_TIMEOUT_S 3600

static void help(FILE *out)
{
    fprintf(out,
            "usage: eic send-ssh-public-key --instance-id ID --instance-os-user USER --ssh-public-key KEY\n"
            "                               [--availability-zone ZONE] [--region REGION]\n"
            "                               [--endpoint-url URL] [--profile PROFILE] [options]\n"
            "\n"
            "Pushes an SSH public key to the instance's metadata, where it is valid for 60 seconds for\n"
            "a login as USER (the API of `aws ec2-instance-connect send-ssh-public-key`).\n"
            "\n"
            "  --instance-id ID          the instance, e.g. i-0123456789abcdef0\n"
            "  --instance-os-user USER   the account on the instance the key is for\n"
            "  --ssh-public-key KEY      the public key: file://PATH (or fileb://PATH) reads it from PATH,\n"
            "                            anything else is the key itself (OpenSSH or RFC 4716 form);\n"
            "                            RSA 2048/4096 and ED25519 keys are accepted by the service\n"
            "  --availability-zone ZONE  the instance's zone (optional; also gives the region when\n"
            "                            none is configured)\n"
            "  --region REGION           else AWS_REGION, AWS_DEFAULT_REGION, the profile's region in\n"
            "                            ~/.aws/config, or the zone without its letter\n"
            "  --endpoint-url URL        the Instance Connect API's URL; else AWS_ENDPOINT_URL_EC2_\n"
            "                            INSTANCE_CONNECT, AWS_ENDPOINT_URL, the profile's services\n"
            "                            section or endpoint_url, else https://ec2-instance-connect.\n"
            "                            REGION.<partition's DNS suffix> (FIPS, dual-stack: eic(1))\n"
            "  --profile PROFILE         credentials from this profile of ~/.aws/credentials or\n"
            "                            ~/.aws/config (default: AWS_PROFILE, else \"default\"); without\n"
            "                            it AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN\n"
            "                            come first\n"
            "  --cli-connect-timeout S   seconds to connect (default %d)\n"
            "  --cli-read-timeout S      seconds for the whole call, retries included (default %d)\n"
            "  --ca-bundle FILE          CA certificates for https (else AWS_CA_BUNDLE, else the\n"
            "                            profile's ca_bundle, else the system's)\n"
            "  --no-verify-ssl           do not verify the https certificate\n"
            "  --output json             the only output format\n"
            "  --no-cli-pager            accepted for compatibility (eic never pages)\n"
            "  --debug                   log the canonical request and each attempt to stderr\n"
            "\n"
            "Prints the answer ({\"RequestId\": ..., \"Success\": true}) and exits 0. Exits 254 when the\n"
            "service refuses (\"An error occurred (AuthException) ...\" on stderr), 253 without\n"
            "credentials or region, 255 when the service cannot be reached, 2 on a usage error.\n",
            DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S);
}

/* file://PATH or fileb://PATH: the file's content (AWS CLI paramfile); else the text itself. */
static int load_key(const char *arg, char **key, char *err, size_t err_len)
{
    const char *path = NULL;
    size_t len = 0;
    int ret;

    *key = NULL;
    if (strncmp(arg, "file://", 7) == 0) {
        path = arg + 7;
    } else if (strncmp(arg, "fileb://", 8) == 0) {
        path = arg + 8;
    }
    if (path == NULL) {
        *key = strdup(arg);
        return *key ? 0 : ENOMEM;
    }
    ret = eic_read_file(path, 0, MAX_KEY_FILE, key, &len);
    if (ret == EINVAL || ret == EFBIG) {
        snprintf(err, err_len, "Unable to load paramfile %s: not a regular file of at most %d bytes", arg,
                 MAX_KEY_FILE);
    } else if (ret != 0) {
        snprintf(err, err_len, "Unable to load paramfile %s: %s", arg, strerror(ret));
    } else if (strlen(*key) != len) {
        snprintf(err, err_len, "Unable to load paramfile %s: the file holds a NUL byte", arg);
        free(*key);
        *key = NULL;
        ret = EINVAL;
    }
    return ret;
}

/* Seconds in [0, MAX_TIMEOUT_S]; 0 means "the longest" (the AWS CLI's "no timeout", bounded). */
static int parse_timeout(const char *name, const char *text, long dflt, long *ms)
{
    char *end = NULL;
    long v;

    if (text == NULL) {
        *ms = dflt * 1000;
        return 0;
    }
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 0 || v > MAX_TIMEOUT_S) {
        return eic_usage_error(CMD, "argument --%s: invalid int value: '%s'", name, text);
    }
    *ms = (v == 0 ? MAX_TIMEOUT_S : v) * 1000;
    return 0;
}

char *eic_send_key_request_body(const char *instance_id, const char *os_user, const char *key, const char *zone)
{
    json_object *obj = json_object_new_object();
    char *body = NULL;

    if (obj == NULL) {
        return NULL;
    }
    /* The member order of the AWS CLI's serializer. */
    if (json_object_object_add(obj, "InstanceId", json_object_new_string(instance_id)) == 0 &&
        json_object_object_add(obj, "InstanceOSUser", json_object_new_string(os_user)) == 0 &&
        json_object_object_add(obj, "SSHPublicKey", json_object_new_string(key)) == 0 &&
        (zone == NULL || json_object_object_add(obj, "AvailabilityZone", json_object_new_string(zone)) == 0)) {
        const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        body = text ? strdup(text) : NULL;
    }
    json_object_put(obj);
    return body;
}

/* The AWS CLI's layout: json.dumps(indent=4). json-c indents by two spaces; as it escapes
 * every control character inside strings, each line break it writes is structural and each
 * line's leading spaces are indentation only, so doubling them gives four per level. */
static void print_json(FILE *out, json_object *obj)
{
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);

    while (text != NULL && *text != '\0') {
        size_t indent = strspn(text, " ");
        size_t len = strcspn(text + indent, "\n");

        fprintf(out, "%*s%.*s\n", (int)(2 * indent), "", (int)len, text + indent);
        text += indent + len;
        if (*text == '\n') {
            text++;
        }
    }
}

int eic_cmd_send_ssh_public_key(int argc, char **argv)
{
    const char *instance_id = NULL, *os_user = NULL, *key_arg = NULL, *zone = NULL, *region_arg = NULL;
    const char *endpoint = NULL, *profile = NULL, *connect_arg = NULL, *read_arg = NULL, *ca_bundle = NULL;
    const char *output = NULL;
    bool want_help = false, no_verify = false, debug = false, no_pager = false;
    const struct eic_opt opts[] = {
        {"instance-id", &instance_id, NULL},
        {"instance-os-user", &os_user, NULL},
        {"ssh-public-key", &key_arg, NULL},
        {"availability-zone", &zone, NULL},
        {"region", &region_arg, NULL},
        {"endpoint-url", &endpoint, NULL},
        {"profile", &profile, NULL},
        {"cli-connect-timeout", &connect_arg, NULL},
        {"cli-read-timeout", &read_arg, NULL},
        {"ca-bundle", &ca_bundle, NULL},
        {"output", &output, NULL},
        {"no-verify-ssl", NULL, &no_verify},
        {"no-cli-pager", NULL, &no_pager},
        {"debug", NULL, &debug},
        {"help", NULL, &want_help},
    };
    struct eic_credentials creds = {0};
    struct eic_api_result result = {0};
    struct eic_api_call call = {0};
    char *key = NULL, *region = NULL, *body = NULL, *url = NULL, *bundle = NULL;
    char err[512] = "";
    int status;
    int ret;

    status = eic_args_parse(CMD, argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (status != 0) {
        return status;
    }
    if (want_help) {
        help(stdout);
        return EIC_EXIT_OK;
    }
    if (eic_ca_bundle_option(ca_bundle) != 0) {
        fprintf(stderr, "eic: out of memory\n");
        return EIC_EXIT_OTHER;
    }
    if (instance_id == NULL || os_user == NULL || key_arg == NULL) {
        const char *missing[3];
        size_t n = 0;

        if (instance_id == NULL) {
            missing[n++] = "--instance-id";
        }
        if (os_user == NULL) {
            missing[n++] = "--instance-os-user";
        }
        if (key_arg == NULL) {
            missing[n++] = "--ssh-public-key";
        }
        return eic_usage_error(CMD, "the following arguments are required: %s%s%s%s%s", missing[0],
                               n > 1 ? ", " : "", n > 1 ? missing[1] : "", n > 2 ? ", " : "",
                               n > 2 ? missing[2] : "");
    }
    if (output != NULL && strcmp(output, "json") != 0) {
        return eic_usage_error(CMD, "argument --output: eic prints json only, not '%s'", output);
    }
    if (debug) {
        eic_log_set_level(LOG_DEBUG);
    }
    call.service = SERVICE;
    call.target = TARGET;
    call.insecure = no_verify;
    status = parse_timeout("cli-connect-timeout", connect_arg, DEFAULT_CONNECT_TIMEOUT_S, &call.connect_timeout_ms);
    if (status == 0) {
        status = parse_timeout("cli-read-timeout", read_arg, DEFAULT_READ_TIMEOUT_S, &call.read_timeout_ms);
    }
    if (status != 0) {
        return status;
    }

    ret = load_key(key_arg, &key, err, sizeof(err));
    if (ret != 0) {
        status = ret == ENOMEM ? EIC_EXIT_OTHER : eic_usage_error(CMD, "Error parsing parameter '--ssh-public-key': %s", err);
        goto done;
    }
    status = eic_region_and_credentials_resolve(region_arg, profile, zone, &region, &creds);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    body = eic_send_key_request_body(instance_id, os_user, key, zone);
    if (body == NULL || eic_ca_bundle_resolve(ca_bundle, profile, &bundle) != 0) {
        fprintf(stderr, "out of memory\n");
        status = EIC_EXIT_OTHER;
        goto done;
    }
    call.ca_bundle = bundle;
    call.region = region;
    call.body = body;
    call.credentials = &creds;
    status = eic_endpoint_for_call(&call, profile, endpoint, &url);
    if (status != EIC_EXIT_OK) {
        goto done;
    }
    eic_api_invoke(&call, &result);
    status = eic_api_report(CMD, OPERATION, &result);
    if (status == EIC_EXIT_OK) {
        print_json(stdout, result.answer);
        status = fflush(stdout) == 0 ? EIC_EXIT_OK : EIC_EXIT_OTHER;
    }
done:
    eic_api_result_free(&result);
    eic_credentials_free(&creds);
    free(key);
    free(region);
    free(url);
    free(body);
    free(bundle);
    return status;
}
