#include "credentials.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cred_source.h"
#include "eic.h"
#include "eic_log.h"
#include "eic_util.h"

#define INI_MAX_SIZE (1024 * 1024) /* far above any real ~/.aws file */

/* ---- INI files ---- */

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1])) {
        (*len)--;
    }
}

static bool span_equals(const char *s, size_t len, const char *what)
{
    return len == strlen(what) && memcmp(s, what, len) == 0;
}

/* Does the header text (between the brackets) name this profile (or sso-session)? */
static bool section_matches(const char *s, size_t len, const char *profile, int config_style)
{
    const char *prefix = config_style == EIC_INI_SSO_SESSION ? "sso-session" : "profile";
    size_t n = strlen(prefix);

    trim(&s, &len);
    if (!config_style) {
        return span_equals(s, len, profile);
    }
    if (config_style != EIC_INI_SSO_SESSION && span_equals(s, len, "default")) {
        return strcmp(profile, "default") == 0;
    }
    /* "profile NAME", "sso-session NAME" (botocore splits it shell-style: a quoted NAME loses
     * its quotes). */
    if (len < n + 1 || memcmp(s, prefix, n) != 0 || !isspace((unsigned char)s[n])) {
        return false;
    }
    s += n + 1;
    len -= n + 1;
    trim(&s, &len);
    if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
        s++;
        len -= 2;
    }
    return span_equals(s, len, profile);
}

int eic_ini_get(const char *path, const char *profile, int config_style, const char *key, char **value)
{
    char *text = NULL;
    size_t text_len = 0;
    bool in_section = false, section_seen = false;
    size_t option_indent = 0;
    bool have_option = false;
    int ret;

    *value = NULL;
    ret = eic_read_file(path, 0, INI_MAX_SIZE, &text, &text_len);
    if (ret != 0) {
        return ret;
    }
    ret = ESRCH;
    for (size_t pos = 0; pos < text_len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', text_len - pos);
        size_t len = nl ? (size_t)(nl - line) : text_len - pos;
        size_t indent = 0;
        const char *delim;

        pos += len + 1;
        while (indent < len && (line[indent] == ' ' || line[indent] == '\t')) {
            indent++;
        }
        if (indent == len || line[indent] == '#' || line[indent] == ';') {
            continue; /* blank or comment */
        }
        if (have_option && indent > option_indent) {
            /* A continuation of the value above (botocore's nested "s3 =" blocks): kept when
             * that is the value asked for, as configparser keeps it ("\nline\nline"). */
            if (*value != NULL) {
                char *more = NULL;

                if (asprintf(&more, "%s\n%.*s", *value, (int)(len - indent), line + indent) < 0) {
                    ret = ENOMEM;
                    goto done;
                }
                free(*value);
                *value = more;
            }
            continue;
        }
        if (*value != NULL) {
            break; /* the value asked for ended */
        }
        have_option = false;
        if (line[indent] == '[') {
            const char *close = memchr(line, ']', len);

            in_section = close != NULL &&
                         section_matches(line + indent + 1, (size_t)(close - line - indent - 1), profile, config_style);
            section_seen = section_seen || in_section;
            continue;
        }
        delim = NULL;
        for (size_t i = indent; i < len; i++) {
            if (line[i] == '=' || line[i] == ':') {
                delim = line + i;
                break;
            }
        }
        if (delim == NULL) {
            continue;
        }
        have_option = true;
        option_indent = indent;
        if (in_section) {
            const char *k = line + indent, *v = delim + 1;
            size_t k_len = (size_t)(delim - k), v_len = len - (size_t)(v - line);

            trim(&k, &k_len);
            trim(&v, &v_len);
            if (k_len == strlen(key) && strncasecmp(k, key, k_len) == 0) {
                *value = strndup(v, v_len);
                if (*value == NULL) {
                    ret = ENOMEM;
                    goto done;
                }
            }
        }
    }
    ret = *value != NULL ? 0 : section_seen ? ENOENT : ESRCH;
done:
    if (ret != 0) {
        free(*value);
        *value = NULL;
    }
    if (text != NULL) {
        OPENSSL_cleanse(text, text_len); /* the credentials file holds secrets */
        free(text);
    }
    return ret;
}

/* ---- where the files are ---- */

static char *home_dir(void)
{
    const char *home = getenv("HOME");
    struct passwd pw, *result = NULL;
    char buf[4096];

    if (home != NULL && home[0] != '\0') {
        return strdup(home);
    }
    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &result) == 0 && result != NULL && pw.pw_dir != NULL) {
        return strdup(pw.pw_dir);
    }
    return NULL;
}

char *eic_cred_home_path(const char *relative)
{
    char *home = home_dir(), *path = NULL;

    if (home != NULL && asprintf(&path, "%s/%s", home, relative) < 0) {
        path = NULL;
    }
    free(home);
    return path;
}

char *eic_cred_aws_file(const char *env_name, const char *default_name)
{
    const char *env = getenv(env_name);
    char *rel = NULL, *path;

    if (env != NULL && env[0] != '\0') {
        return strncmp(env, "~/", 2) == 0 ? eic_cred_home_path(env + 2) : strdup(env);
    }
    if (asprintf(&rel, ".aws/%s", default_name) < 0) {
        return NULL;
    }
    path = eic_cred_home_path(rel);
    free(rel);
    return path;
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *profile_name(const char *profile_arg)
{
    const char *p = profile_arg;

    if (p == NULL) {
        p = nonempty_env("AWS_PROFILE");
    }
    if (p == NULL) {
        p = nonempty_env("AWS_DEFAULT_PROFILE");
    }
    return p ? p : "default";
}

/* ---- credentials ---- */

static int dup_or_null(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL) {
        return 0;
    }
    *out = strdup(s);
    return *out ? 0 : ENOMEM;
}

/* Credentials from one file. Returns 0, ENOENT (none there), ESRCH (no such section),
 * EINVAL (only some of them). */
static int from_file(const char *path, const char *profile, int config_style, const char *source,
                     struct eic_credentials *out, char *err, size_t err_len)
{
    char *ak = NULL, *sk = NULL, *token = NULL;
    int ret;

    ret = eic_ini_get(path, profile, config_style, "aws_access_key_id", &ak);
    if (ret == ENOENT || ret == ESRCH) {
        return ret;
    }
    if (ret != 0) {
        /* A missing or unreadable file is as if it were empty, as for botocore. */
        return ret == ENOMEM ? ENOMEM : ESRCH;
    }
    ret = eic_ini_get(path, profile, config_style, "aws_secret_access_key", &sk);
    if (ret == ENOENT || ret == ESRCH) {
        snprintf(err, err_len, "Partial credentials found in %s, missing: aws_secret_access_key", source);
        ret = EINVAL;
        goto done;
    }
    if (ret == 0) {
        ret = eic_ini_get(path, profile, config_style, "aws_session_token", &token);
        if (ret == ENOENT) {
            ret = eic_ini_get(path, profile, config_style, "aws_security_token", &token);
        }
        if (ret == ENOENT) {
            ret = 0;
        }
    }
    if (ret != 0) {
        goto done;
    }
    out->access_key_id = ak;
    out->secret_access_key = sk;
    out->session_token = token;
    ak = sk = token = NULL;
    snprintf(out->source, sizeof(out->source), "%s", source);
done:
    free(ak);
    if (sk != NULL) {
        OPENSSL_cleanse(sk, strlen(sk));
    }
    free(sk);
    if (token != NULL) {
        OPENSSL_cleanse(token, strlen(token));
    }
    free(token);
    return ret;
}

int eic_profile_get(const char *profile, const char *key, char **value)
{
    char *path;
    int ret = ENOENT;

    *value = NULL;
    path = eic_cred_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    if (path != NULL) {
        ret = eic_ini_get(path, profile, 0, key, value);
        free(path);
    }
    if (ret == 0 || ret == ENOMEM) {
        return ret;
    }
    path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
    ret = ENOENT;
    if (path != NULL) {
        ret = eic_ini_get(path, profile, 1, key, value);
        free(path);
    }
    return ret == 0 || ret == ENOMEM ? ret : ENOENT;
}

const char *eic_profile_name(const char *profile_arg)
{
    return profile_name(profile_arg);
}

int eic_config_section_get(const char *section, const char *key, char **value)
{
    char *path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
    int ret;

    *value = NULL;
    if (path == NULL) {
        return ENOMEM;
    }
    ret = eic_ini_get(path, section, 0, key, value);
    free(path);
    return ret == 0 || ret == ENOMEM || ret == ESRCH ? ret : ENOENT;
}

int eic_ca_bundle_option(const char *option)
{
    return option == NULL || setenv("AWS_CA_BUNDLE", option, 1) == 0 ? 0 : errno;
}

int eic_ca_bundle_resolve(const char *option, const char *profile_arg, char **out)
{
    const char *env = nonempty_env("AWS_CA_BUNDLE");
    int ret;

    *out = NULL;
    if (option != NULL || env != NULL) {
        *out = strdup(option != NULL ? option : env);
        return *out != NULL ? 0 : ENOMEM;
    }
    /* Set but empty counts as unset, here as for AWS_CA_BUNDLE: the system's CAs, never none. */
    ret = eic_profile_get(profile_name(profile_arg), "ca_bundle", out);
    if (ret == 0 && (*out)[0] == '\0') {
        free(*out);
        *out = NULL;
    }
    return ret == ENOMEM ? ENOMEM : 0;
}

/* Whether either file has a section for profile. */
static bool profile_exists(const char *profile)
{
    char *path, *value = NULL;
    bool seen = false;

    for (int config_style = 0; config_style <= 1 && !seen; config_style++) {
        path = config_style ? eic_cred_aws_file("AWS_CONFIG_FILE", "config")
                            : eic_cred_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        if (path != NULL) {
            int ret = eic_ini_get(path, profile, config_style, "__eic_no_such_key__", &value);

            seen = ret == 0 || ret == ENOENT;
            free(value);
            value = NULL;
            free(path);
        }
    }
    return seen;
}

static int from_env(struct eic_credentials *out, char *err, size_t err_len)
{
    const char *token = nonempty_env("AWS_SESSION_TOKEN");
    int ret;

    if (nonempty_env("AWS_SECRET_ACCESS_KEY") == NULL) {
        snprintf(err, err_len, "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY");
        return EINVAL;
    }
    ret = dup_or_null(getenv("AWS_ACCESS_KEY_ID"), &out->access_key_id);
    if (ret == 0) {
        ret = dup_or_null(getenv("AWS_SECRET_ACCESS_KEY"), &out->secret_access_key);
    }
    if (ret == 0) {
        ret = dup_or_null(token ? token : nonempty_env("AWS_SECURITY_TOKEN"), &out->session_token);
    }
    snprintf(out->source, sizeof(out->source), "env");
    if (ret != 0) {
        eic_credentials_free(out);
    }
    return ret;
}

/* The profile's credential_process, if it has one. */
static int from_process(const char *profile, struct eic_credentials *out, char *err, size_t err_len)
{
    char *command = NULL;
    int ret = eic_profile_get(profile, "credential_process", &command);

    if (ret != 0) {
        return ret;
    }
    ret = eic_cred_process(command, out, err, err_len);
    free(command);
    return ret;
}

#define MAX_ROLE_CHAIN 8 /* source_profile hops; a loop ends here */

static int profile_chain(const char *profile, int depth, bool env_web_identity, struct eic_credentials *out,
                         char *err, size_t err_len);

/* The static keys of profile itself (a source_profile naming its own profile). */
static int own_static_keys(const char *profile, struct eic_credentials *out, char *err, size_t err_len)
{
    char *path = eic_cred_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    int ret = path ? from_file(path, profile, 0, "shared-credentials-file", out, err, err_len) : ESRCH;

    free(path);
    if (ret == ENOENT || ret == ESRCH) {
        path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
        ret = path ? from_file(path, profile, 1, "config-file", out, err, err_len) : ESRCH;
        free(path);
    }
    return ret == ESRCH ? ENOENT : ret;
}

/* role_arn with source_profile or credential_source: the source credentials, then AssumeRole. */
static int assume_role(const char *profile, const char *role_arn, int depth, struct eic_credentials *out, char *err,
                       size_t err_len)
{
    char *source_profile = NULL, *credential_source = NULL;
    struct eic_credentials source;
    int ret;

    memset(&source, 0, sizeof(source));
    if (depth >= MAX_ROLE_CHAIN) {
        snprintf(err, err_len, "Infinite loop in credential configuration detected (profile %s)", profile);
        return ELOOP;
    }
    if (eic_profile_get(profile, "source_profile", &source_profile) == ENOMEM ||
        eic_profile_get(profile, "credential_source", &credential_source) == ENOMEM) {
        ret = ENOMEM;
        goto done;
    }
    if ((source_profile == NULL) == (credential_source == NULL)) {
        snprintf(err, err_len, source_profile ? "The profile \"%s\" contains both source_profile and "
                                                "credential_source."
                                              : "The profile \"%s\" contains role_arn but neither source_profile "
                                                "nor credential_source.", profile);
        ret = EINVAL;
        goto done;
    }
    if (source_profile != NULL) {
        if (!profile_exists(source_profile)) {
            snprintf(err, err_len, "The source_profile \"%s\" referenced in the profile \"%s\" does not exist.",
                     source_profile, profile);
            ret = ESRCH;
            goto done;
        }
        ret = strcmp(source_profile, profile) == 0 ? own_static_keys(profile, &source, err, err_len)
                                                    : profile_chain(source_profile, depth + 1, false, &source, err,
                                                                    err_len);
        if (ret == ENOENT) {
            snprintf(err, err_len, "The source profile \"%s\" must have credentials.", source_profile);
            ret = EINVAL;
        }
    } else if (strcmp(credential_source, "Environment") == 0) {
        ret = nonempty_env("AWS_ACCESS_KEY_ID") ? from_env(&source, err, err_len) : ENOENT;
    } else if (strcmp(credential_source, "EcsContainer") == 0) {
        ret = eic_cred_container(&source, err, err_len);
    } else if (strcmp(credential_source, "Ec2InstanceMetadata") == 0) {
        ret = eic_cred_imds(profile, &source, err, err_len);
    } else {
        snprintf(err, err_len, "Unsupported credential source: %.64s (Environment, Ec2InstanceMetadata or "
                 "EcsContainer)", credential_source);
        ret = EINVAL;
        goto done;
    }
    if (ret == ENOENT) {
        snprintf(err, err_len, "No credentials found in credential_source referenced in profile %s", profile);
        ret = EINVAL;
    }
    if (ret != 0) {
        goto done;
    }
    ret = eic_cred_sts_assume_role(profile, &source, role_arn, out, err, err_len);
done:
    eic_credentials_free(&source);
    free(source_profile);
    free(credential_source);
    return ret;
}

/* Web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (when env_web_identity), else the
 * profile's web_identity_token_file + role_arn. */
static int web_identity(const char *profile, bool env_web_identity, struct eic_credentials *out, char *err,
                        size_t err_len)
{
    char *file = NULL, *role = NULL, *session = NULL;
    int ret = ENOENT;

    if (env_web_identity && nonempty_env("AWS_WEB_IDENTITY_TOKEN_FILE") != NULL) {
        if (nonempty_env("AWS_ROLE_ARN") == NULL) {
            snprintf(err, err_len, "Error when retrieving credentials from assume-role-with-web-identity: "
                     "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
            return EINVAL;
        }
        return eic_cred_sts_web_identity(profile, getenv("AWS_ROLE_ARN"), getenv("AWS_WEB_IDENTITY_TOKEN_FILE"),
                                         nonempty_env("AWS_ROLE_SESSION_NAME"), out, err, err_len);
    }
    if (eic_profile_get(profile, "web_identity_token_file", &file) == ENOMEM ||
        eic_profile_get(profile, "role_arn", &role) == ENOMEM ||
        eic_profile_get(profile, "role_session_name", &session) == ENOMEM) {
        ret = ENOMEM;
    } else if (file != NULL && role == NULL) {
        snprintf(err, err_len, "The profile \"%s\" has web_identity_token_file but no role_arn", profile);
        ret = EINVAL;
    } else if (file != NULL) {
        ret = eic_cred_sts_web_identity(profile, role, file, session, out, err, err_len);
    }
    free(file);
    free(role);
    free(session);
    return ret;
}

/* The sources that belong to a profile, in botocore's order: assume-role, web identity, SSO,
 * the credentials file, credential_process, the config file. */
static int profile_chain(const char *profile, int depth, bool env_web_identity, struct eic_credentials *out,
                         char *err, size_t err_len)
{
    char *role_arn = NULL, *wit = NULL, *path = NULL;
    int ret;

    if (eic_profile_get(profile, "role_arn", &role_arn) == ENOMEM ||
        eic_profile_get(profile, "web_identity_token_file", &wit) == ENOMEM) {
        ret = ENOMEM;
        goto done;
    }
    if (role_arn != NULL && wit == NULL) {
        ret = assume_role(profile, role_arn, depth, out, err, err_len);
        goto done;
    }
    ret = web_identity(profile, env_web_identity, out, err, err_len);
    if (ret != ENOENT) {
        goto done;
    }
    ret = eic_cred_sso(profile, out, err, err_len);
    if (ret != ENOENT) {
        goto done;
    }
    path = eic_cred_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    ret = path ? from_file(path, profile, 0, "shared-credentials-file", out, err, err_len) : ESRCH;
    free(path);
    if (ret == 0 || (ret != ENOENT && ret != ESRCH)) {
        goto done;
    }
    ret = from_process(profile, out, err, err_len);
    if (ret != ENOENT) {
        goto done;
    }
    path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
    ret = path ? from_file(path, profile, 1, "config-file", out, err, err_len) : ESRCH;
    free(path);
    if (ret == ESRCH) {
        ret = ENOENT;
    }
done:
    free(role_arn);
    free(wit);
    return ret;
}

int eic_credentials_resolve(const char *profile_arg, struct eic_credentials *out, char *err, size_t err_len)
{
    const char *profile = profile_name(profile_arg);
    bool profile_named = strcmp(profile, "default") != 0 || profile_arg != NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    /* botocore: an explicit --profile disables the environment variables. */
    if (profile_arg == NULL && nonempty_env("AWS_ACCESS_KEY_ID") != NULL) {
        return from_env(out, err, err_len);
    }
    if (profile_named && !profile_exists(profile)) {
        snprintf(err, err_len, "The config profile (%s) could not be found", profile);
        return ESRCH;
    }
    ret = profile_chain(profile, 0, profile_arg == NULL, out, err, err_len);
    if (ret != ENOENT) {
        return ret;
    }
    ret = eic_cred_container(out, err, err_len);
    if (ret != ENOENT) {
        return ret;
    }
    ret = eic_cred_imds(profile, out, err, err_len);
    if (ret != ENOENT) {
        return ret;
    }
    snprintf(err, err_len, "Unable to locate credentials. You can configure credentials by running \"aws configure\".");
    return ENOENT;
}

void eic_credentials_free(struct eic_credentials *creds)
{
    if (creds == NULL) {
        return;
    }
    if (creds->secret_access_key != NULL) {
        OPENSSL_cleanse(creds->secret_access_key, strlen(creds->secret_access_key));
    }
    if (creds->session_token != NULL) {
        OPENSSL_cleanse(creds->session_token, strlen(creds->session_token));
    }
    free(creds->access_key_id);
    free(creds->secret_access_key);
    free(creds->session_token);
    memset(creds, 0, sizeof(*creds));
}

/* botocore's RefreshableCredentials: refresh when less than this is left (advisory: keep the old
 * ones if that fails), and fail when less than the mandatory window is left and refreshing fails. */
#define ADVISORY_REFRESH_S (15 * 60)
#define MANDATORY_REFRESH_S (10 * 60)

int eic_credentials_refresh(const char *profile_arg, struct eic_credentials *creds)
{
    struct eic_credentials fresh;
    char err[512] = "";
    long long left;
    int ret;

    if (creds->expiration == 0) {
        return EIC_EXIT_OK;
    }
    left = (long long)creds->expiration - (long long)time(NULL);
    if (left >= ADVISORY_REFRESH_S) {
        return EIC_EXIT_OK;
    }
    ret = eic_credentials_resolve(profile_arg, &fresh, err, sizeof(err));
    if (ret == 0 && strcmp(fresh.source, creds->source) != 0) {
        /* Another source answers now (a file changed): not a refresh of these credentials. */
        snprintf(err, sizeof(err), "credentials from %s were to be refreshed but %s answered instead", creds->source,
                 fresh.source);
        eic_credentials_free(&fresh);
        ret = EINVAL;
    }
    if (ret != 0) {
        if (ret != ENOMEM && left >= MANDATORY_REFRESH_S) {
            eic_log(LOG_WARNING, "credentials from %s expire in %lld s and refreshing them failed: %s", creds->source,
                    left, err);
            return EIC_EXIT_OK;
        }
        fprintf(stderr, "%s\n", ret == ENOMEM ? "out of memory" : err);
        return ret == ENOMEM ? EIC_EXIT_OTHER : EIC_EXIT_CONFIG;
    }
    eic_log(LOG_DEBUG, "credentials from %s refreshed (%lld s were left): access key %s", fresh.source, left,
            fresh.access_key_id);
    eic_credentials_free(creds);
    *creds = fresh;
    return EIC_EXIT_OK;
}

/* ---- region ---- */

bool eic_region_name_ok(const char *r)
{
    size_t len = strlen(r);

    if (len == 0 || len > 63 || r[0] == '-' || r[len - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-')) {
            return false;
        }
    }
    return true;
}

/* ^([a-z]+-){2,3}[0-9][a-z]$ (docs/PROTOCOL.md). */
static bool zone_ok(const char *z)
{
    size_t len = strlen(z);
    int dashes = 0;
    size_t i = 0;

    if (len < 2 || !(z[len - 1] >= 'a' && z[len - 1] <= 'z') || !(z[len - 2] >= '0' && z[len - 2] <= '9')) {
        return false;
    }
    while (i < len - 2) {
        size_t word = 0;

        while (i < len - 2 && z[i] >= 'a' && z[i] <= 'z') {
            i++;
            word++;
        }
        if (word == 0 || i >= len - 2 || z[i] != '-') {
            return false;
        }
        i++;
        dashes++;
    }
    return dashes >= 2 && dashes <= 3;
}

int eic_region_resolve(const char *region_arg, const char *profile_arg, const char *zone, char **region,
                       char *err, size_t err_len)
{
    const char *r = region_arg;
    char *from_config = NULL;
    char *path = NULL;
    int ret = 0;

    *region = NULL;
    err[0] = '\0';
    if (r == NULL) {
        r = nonempty_env("AWS_REGION");
    }
    if (r == NULL) {
        r = nonempty_env("AWS_DEFAULT_REGION");
    }
    if (r == NULL) {
        path = eic_cred_aws_file("AWS_CONFIG_FILE", "config");
        if (path != NULL && eic_ini_get(path, profile_name(profile_arg), 1, "region", &from_config) == 0 &&
            from_config[0] != '\0') {
            r = from_config;
        }
        free(path);
    }
    if (r != NULL) {
        if (!eic_region_name_ok(r)) {
            snprintf(err, err_len, "Provided region_name '%.64s' doesn't match a supported format.", r);
            ret = EINVAL;
        } else {
            *region = strdup(r);
            ret = *region ? 0 : ENOMEM;
        }
    } else if (zone != NULL) {
        if (!zone_ok(zone)) {
            snprintf(err, err_len, "Availability zone '%.64s' is not a zone name (such as us-east-1a).", zone);
            ret = EINVAL;
        } else {
            *region = strndup(zone, strlen(zone) - 1);
            ret = *region ? 0 : ENOMEM;
        }
    } else {
        snprintf(err, err_len,
                 "You must specify a region. You can also configure your region by running \"aws configure\".");
        ret = ENOENT;
    }
    free(from_config);
    return ret;
}

int eic_region_and_credentials_resolve(const char *region_arg, const char *profile_arg, const char *zone,
                                       char **region, struct eic_credentials *creds)
{
    char err[512] = "";
    int ret = eic_region_resolve(region_arg, profile_arg, zone, region, err, sizeof(err));

    if (ret == 0) {
        ret = eic_credentials_resolve(profile_arg, creds, err, sizeof(err));
    }
    if (ret != 0) {
        fprintf(stderr, "%s\n", ret == ENOMEM ? "out of memory" : err);
        return ret == ENOMEM ? EIC_EXIT_OTHER : EIC_EXIT_CONFIG;
    }
    eic_log(LOG_DEBUG, "credentials from %s, access key %s%s, region %s", creds->source, creds->access_key_id,
            creds->session_token ? " (with a session token)" : "", *region);
    return EIC_EXIT_OK;
}
