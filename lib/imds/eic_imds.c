/* IMDS client over libcurl (IMDSv2).
 *
 * Wire protocol (docs/PROTOCOL.md):
 *     PUT /latest/api/token            X-aws-ec2-metadata-token-ttl-seconds: N   -> 200, body = token
 *     GET /latest/meta-data/...        X-aws-ec2-metadata-token: <token>         -> 200 body | 404 | 401
 *
 * One CURL easy handle per struct eic_imds, reused for every request so that the token PUT and
 * the GETs that follow share one TCP connection. Every request's timeout is the smaller of the
 * per-request timeout and what is left until the operation's deadline, so one eic_imds_get(),
 * token fetch and 401 retry included, never runs past its deadline.
 *
 * Errors are errno values (eic_imds.h lists them). ENOENT means "the server said 404" and
 * nothing else: callers (NSS, the AuthorizedKeysCommand) read it as "no such keys/user", so a
 * failure to get a token is never reported as ENOENT. */
#include "eic_imds.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "eic_config.h"
#include "eic_log.h"
#include "eic_time.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define TOKEN_PATH "/latest/api/token"
#define TOKEN_MAX 512          /* real tokens are ~56 bytes; anything much longer is not a token */
#define PATH_MAX_LEN 1024      /* longest path accepted by eic_imds_get() */
#define TOKEN_MARGIN_MS 30000  /* stop reusing a token this long before it expires ... */
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_TOKEN_TTL 21600
#define DEFAULT_MAX_RESPONSE (1024 * 1024)
#define NONE_ANSWERS "no IMDS answers: " /* discovery's last_error when no endpoint answered */

struct eic_imds {
    CURL *curl;
    char *endpoint;              /* NULL until discovery found one */
    const char *const *discover; /* NULL: endpoint was given */
    long connect_cap_ms;         /* > 0 while discovery tries an endpoint */
    long request_timeout_ms;
    long token_ttl;
    size_t max_response;
    char *token;                 /* NULL when none is cached */
    uint64_t token_reuse_until;  /* CLOCK_MONOTONIC ms after which the token is not used */
    unsigned long token_fetches; /* for eic_imds_stats() */
    unsigned long requests;
    unsigned long retries;
    char errbuf[CURL_ERROR_SIZE];
    char last_error[CURL_ERROR_SIZE + 64]; /* eic_imds_last_error() */
};

/* Where the write callback puts a body, and whether it stopped at the cap. */
struct sink {
    struct eic_buf *buf;
    size_t cap;
    bool overflow;
    bool nomem;
};

/* ---- process-wide initialisation ------------------------------------------------------ */

/* curl_global_init() is not guaranteed thread-safe (it is only since 7.84 on some builds), and
 * this code runs inside multi-threaded hosts (NSS in nscd, sshd's helpers, PAM in any daemon).
 * pthread_once makes it happen exactly once per process. It is never undone: a library loaded
 * into someone else's process cannot know when libcurl is no longer used by anyone else. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- discovery ------------------------------------------------------------------------ */

static const char *const default_discover[] = EIC_IMDS_DISCOVER_DEFAULT;

/* What discovery found in this process, for the list it tried (eicd keeps it for its life). */
static pthread_mutex_t found_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const *found_list;
static const char *found_endpoint;

/* ---- helpers -------------------------------------------------------------------------- */

static void free_token(struct eic_imds *imds)
{
    if (imds->token != NULL) {
        explicit_bzero(imds->token, strlen(imds->token));
        free(imds->token);
        imds->token = NULL;
    }
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *sink = userdata;
    size_t n = size * nmemb; /* size is always 1 for write callbacks */

    if (n > sink->cap || sink->buf->len > sink->cap - n) {
        sink->overflow = true;
        return 0; /* anything but n makes curl abort the transfer with CURLE_WRITE_ERROR */
    }
    if (eic_buf_append(sink->buf, data, n) != 0) {
        sink->nomem = true;
        return 0;
    }
    return n;
}

/* Paths are built by callers from partly untrusted input (the user name sshd passes to the
 * AuthorizedKeysCommand). Allow only RFC 3986 path characters, no query or fragment, and no
 * "." or ".." segment: curl would resolve dot segments, letting ".." escape to another path. */
static int check_path(const char *path)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  "-._~!$&'()*+,;=:@%/";
    size_t len;

    if (path == NULL || path[0] != '/') {
        return EINVAL;
    }
    len = strlen(path);
    if (len > PATH_MAX_LEN || strspn(path, allowed) != len) {
        return EINVAL;
    }
    for (const char *seg = path; seg != NULL; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;
        size_t seg_len = strcspn(s, "/");

        if ((seg_len == 1 && s[0] == '.') || (seg_len == 2 && s[0] == '.' && s[1] == '.')) {
            return EINVAL;
        }
    }
    return 0;
}

/* A token goes back into a header line, so it must be visible ASCII only (no CR/LF header
 * injection, no spaces) and of a sane length. */
static bool token_valid(const char *token, size_t len)
{
    if (len == 0 || len > TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (token[i] < 0x21 || token[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Remembers what went wrong for eic_imds_last_error(), naming the token PUT when it was that. */
static void set_last_error(struct eic_imds *imds, bool token_put, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_last_error(struct eic_imds *imds, bool token_put, const char *fmt, ...)
{
    size_t used = 0;
    va_list ap;

    if (token_put) {
        used = (size_t)snprintf(imds->last_error, sizeof(imds->last_error), "token PUT: ");
    }
    va_start(ap, fmt);
    vsnprintf(imds->last_error + used, sizeof(imds->last_error) - used, fmt, ap);
    va_end(ap);
}

/* Translate a finished transfer into an errno value (HTTP status aside). */
static int map_curl_error(struct eic_imds *imds, CURLcode rc, const struct sink *sink)
{
    long os_errno = 0;

    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return ETIMEDOUT;
    case CURLE_WRITE_ERROR:
        if (sink->overflow) {
            return EMSGSIZE;
        }
        return sink->nomem ? ENOMEM : EIO;
    case CURLE_FILESIZE_EXCEEDED: /* Content-Length announced more than the cap */
        return EMSGSIZE;
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(imds->curl, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == ECONNREFUSED) {
            return ECONNREFUSED;
        }
        if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH) {
            return EHOSTUNREACH;
        }
        if (os_errno == ETIMEDOUT) {
            return ETIMEDOUT;
        }
        return EIO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return EINVAL;
    default:
        /* CURLE_PARTIAL_FILE (a body shorter than its Content-Length), CURLE_GOT_NOTHING,
         * CURLE_RECV_ERROR, CURLE_WEIRD_SERVER_REPLY, ...: the answer cannot be trusted whole. */
        return EIO;
    }
}

/* One HTTP request: PUT of the token (token_put) or GET of path with the cached token. On
 * return *status holds the HTTP status when the transfer completed (0 otherwise), and out holds
 * the body of a completed transfer. */
static int request_once(struct eic_imds *imds, bool token_put, const char *path, uint64_t deadline_ms,
                      struct eic_buf *out, size_t cap, long *status)
{
    struct curl_slist *headers = NULL;
    struct curl_slist *added;
    struct sink sink = {out, cap, false, false};
    char url[PATH_MAX_LEN + 64];
    char header[TOKEN_MAX + 64];
    uint64_t left;
    long timeout;
    long connect_timeout;
    CURLcode rc;
    int ret;

    *status = 0;
    eic_buf_reset(out);
    left = eic_ms_left(deadline_ms);
    if (left == 0) {
        /* Not even 1 ms left: CURLOPT_TIMEOUT_MS 0 would mean "no timeout at all". */
        set_last_error(imds, token_put, "the operation's deadline passed before this request");
        return ETIMEDOUT;
    }
    timeout = imds->request_timeout_ms;
    if (left < (uint64_t)timeout) {
        timeout = (long)left;
    }
    connect_timeout = imds->connect_cap_ms > 0 && imds->connect_cap_ms < timeout ? imds->connect_cap_ms : timeout;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", imds->endpoint, path) >= sizeof(url)) {
        return EINVAL;
    }
    if (token_put) {
        snprintf(header, sizeof(header), "X-aws-ec2-metadata-token-ttl-seconds: %ld", imds->token_ttl);
    } else {
        snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %s", imds->token);
    }
    added = curl_slist_append(headers, header);
    explicit_bzero(header, sizeof(header)); /* curl_slist_append made its own copy */
    if (added == NULL) {
        ret = ENOMEM;
        goto done;
    }
    headers = added;

    if (curl_easy_setopt(imds->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(imds->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(imds->curl, CURLOPT_WRITEDATA, &sink) != CURLE_OK ||
        curl_easy_setopt(imds->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap) != CURLE_OK ||
        curl_easy_setopt(imds->curl, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(imds->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout) != CURLE_OK) {
        ret = ENOMEM;
        goto done;
    }
    if (token_put) {
        /* A PUT without a body: CUSTOMREQUEST changes the method only, so no "Expect:" or
         * upload machinery is involved (this is what `curl -X PUT` in AWS's docs sends). */
        rc = curl_easy_setopt(imds->curl, CURLOPT_CUSTOMREQUEST, "PUT");
    } else {
        rc = curl_easy_setopt(imds->curl, CURLOPT_CUSTOMREQUEST, (char *)NULL);
        if (rc == CURLE_OK) {
            rc = curl_easy_setopt(imds->curl, CURLOPT_HTTPGET, 1L);
        }
    }
    if (rc != CURLE_OK) {
        ret = ENOMEM;
        goto done;
    }

    imds->errbuf[0] = '\0';
    imds->requests++;
    rc = curl_easy_perform(imds->curl);
    ret = map_curl_error(imds, rc, &sink);
    if (ret == 0) {
        curl_easy_getinfo(imds->curl, CURLINFO_RESPONSE_CODE, status);
    } else if (sink.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        set_last_error(imds, token_put, "body over %zu bytes", cap);
    } else if (ret == ETIMEDOUT && timeout < imds->request_timeout_ms) {
        /* Cut short by the operation's deadline, not by imds_timeout_ms: say so, the numbers differ. */
        set_last_error(imds, token_put, "%s; the operation's deadline was reached", imds->errbuf);
    } else {
        set_last_error(imds, token_put, "%s", imds->errbuf[0] != '\0' ? imds->errbuf : curl_easy_strerror(rc));
    }

done:
    /* The handle keeps a pointer to the list (and the list holds the token): detach it before
     * the list is wiped and freed. */
    curl_easy_setopt(imds->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(imds->curl, CURLOPT_WRITEDATA, (void *)NULL);
    for (struct curl_slist *h = headers; h != NULL; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }
    curl_slist_free_all(headers);
    if (ret != 0) {
        eic_buf_reset(out);
    }
    return ret;
}

/* request_once, tried a second time when it ran into its own request timeout while the
 * operation's deadline still leaves a whole request timeout. A login storm can starve the caller of
 * CPU long enough for one request to miss its timeout although IMDS answered (seen with 200
 * simultaneous logins on 2 cores); one more try then usually succeeds. A caller whose deadline is a
 * single request timeout (nss_eic) never retries, and a hanging IMDS costs at most two timeouts. */
static int do_request(struct eic_imds *imds, bool token_put, const char *path, uint64_t deadline_ms,
                      struct eic_buf *out, size_t cap, long *status)
{
    int ret = request_once(imds, token_put, path, deadline_ms, out, cap, status);

    if (ret == ETIMEDOUT && eic_ms_left(deadline_ms) >= (uint64_t)imds->request_timeout_ms) {
        imds->retries++;
        ret = request_once(imds, token_put, path, deadline_ms, out, cap, status);
    }
    return ret;
}

/* The token PUT to each endpoint of the discovery list in turn, until one answers with an HTTP
 * status (eic_imds.h); that one becomes imds->endpoint, here and for the process. */
static int discover(struct eic_imds *imds, uint64_t deadline_ms, struct eic_buf *out, size_t cap, long *status)
{
    char tried[sizeof(imds->last_error) - sizeof(NONE_ANSWERS)];
    size_t used = 0;
    int first = 0; /* what the first endpoint met: the error reported when none answers */
    int ret = EHOSTUNREACH;

    tried[0] = '\0';
    for (const char *const *e = imds->discover; *e != NULL; e++) {
        curl_off_t connected = 0;

        imds->endpoint = strdup(*e);
        if (imds->endpoint == NULL) {
            return ENOMEM;
        }
        imds->connect_cap_ms = EIC_IMDS_DISCOVER_CONNECT_MS;
        ret = request_once(imds, true, TOKEN_PATH, deadline_ms, out, cap, status);
        imds->connect_cap_ms = 0;
        curl_easy_getinfo(imds->curl, CURLINFO_CONNECT_TIME_T, &connected);
        if (ret == 0) {
            pthread_mutex_lock(&found_lock);
            if (found_list != imds->discover || found_endpoint == NULL || strcmp(found_endpoint, *e) != 0) {
                found_list = imds->discover;
                found_endpoint = *e;
                eic_log(LOG_NOTICE, "IMDS answers at %s (discovered%s%s); used from now on", *e,
                        tried[0] != '\0' ? "; no answer from " : "", tried);
            }
            pthread_mutex_unlock(&found_lock);
            return 0;
        }
        free(imds->endpoint);
        imds->endpoint = NULL;
        if (connected > 0 || ret == ENOMEM || ret == EINVAL) {
            /* It connected: this is IMDS, and it is slow or broken. Nothing kept: next time, again. */
            return ret;
        }
        first = first != 0 ? first : ret;
        if (used < sizeof(tried)) {
            used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)", used > 0 ? ", " : "", *e,
                                     imds->last_error);
        }
    }
    snprintf(imds->last_error, sizeof(imds->last_error), NONE_ANSWERS "%s", tried);
    return first != 0 ? first : ret;
}

/* PUT /latest/api/token and cache the token. */
static int fetch_token(struct eic_imds *imds, uint64_t deadline_ms)
{
    struct eic_buf body;
    uint64_t started = eic_monotonic_ms();
    uint64_t ttl_ms = (uint64_t)imds->token_ttl * 1000u;
    uint64_t margin;
    long status = 0;
    int ret;

    free_token(imds);
    eic_buf_init(&body, TOKEN_MAX + 1);
    imds->token_fetches++;
    if (imds->endpoint != NULL) {
        ret = do_request(imds, true, TOKEN_PATH, deadline_ms, &body, TOKEN_MAX + 1, &status);
    } else {
        ret = discover(imds, deadline_ms, &body, TOKEN_MAX + 1, &status);
    }
    if (ret == EMSGSIZE) {
        set_last_error(imds, true, "the answer is not a token (over %d bytes)", TOKEN_MAX);
        ret = EPROTO; /* a "token" of more than TOKEN_MAX bytes is not an answer we understand */
    }
    if (ret != 0) {
        goto done;
    }
    if (status != 200) {
        set_last_error(imds, true, "HTTP %ld", status);
        /* 404 too is EPROTO: "no token service" must not read as "no such path" to callers. */
        ret = status == 401 || status == 403 ? EACCES : EPROTO;
        goto done;
    }
    if (!token_valid(body.data, body.len)) {
        set_last_error(imds, true, "the answer is not a token (empty, too long, or not printable ASCII)");
        ret = EPROTO;
        goto done;
    }
    imds->token = eic_buf_steal(&body);
    /* Counted from before the PUT was sent, so the server's clock for the token can only be
     * later than ours; stop using it 30 s (or 10% of the TTL when that is less) early. */
    margin = ttl_ms / 10 < TOKEN_MARGIN_MS ? ttl_ms / 10 : TOKEN_MARGIN_MS;
    imds->token_reuse_until = started + ttl_ms - margin;
    ret = 0;

done:
    eic_buf_free(&body);
    return ret;
}

/* ---- public API ----------------------------------------------------------------------- */

int eic_imds_new(const struct eic_imds_options *opts, struct eic_imds **out)
{
    struct eic_imds *imds = NULL;
    long timeout = opts->request_timeout_ms ? opts->request_timeout_ms : DEFAULT_TIMEOUT_MS;
    long ttl = opts->token_ttl ? opts->token_ttl : DEFAULT_TOKEN_TTL;
    size_t max_response = opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
    /* eic.conf's "auto" is discovery, as NULL is. */
    const char *endpoint =
        opts->endpoint != NULL && strcmp(opts->endpoint, EIC_IMDS_ENDPOINT_AUTO) == 0 ? NULL : opts->endpoint;
    CURL *c;
    int ret;

    *out = NULL;
    if ((endpoint != NULL && eic_config_check_endpoint(endpoint) != 0) || timeout < 1 || ttl < 1 ||
        ttl > 21600 || max_response > (size_t)LONG_MAX) {
        return EINVAL;
    }
    for (const char *const *e = opts->discover; endpoint == NULL && e != NULL && *e != NULL; e++) {
        if (eic_config_check_endpoint(*e) != 0) {
            return EINVAL;
        }
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        return ENOMEM; /* curl_global_init fails only for want of memory or a broken libcurl */
    }
    imds = calloc(1, sizeof(*imds));
    if (imds == NULL) {
        return ENOMEM;
    }
    imds->request_timeout_ms = timeout;
    imds->token_ttl = ttl;
    imds->max_response = max_response;
    if (endpoint == NULL) {
        imds->discover = opts->discover != NULL ? opts->discover : default_discover;
        /* Found before in this process: no discovery again. */
        pthread_mutex_lock(&found_lock);
        if (found_list == imds->discover && found_endpoint != NULL) {
            imds->endpoint = strdup(found_endpoint);
        }
        pthread_mutex_unlock(&found_lock);
    } else {
        imds->endpoint = strdup(endpoint);
    }
    imds->curl = c = curl_easy_init();
    if ((imds->endpoint == NULL && imds->discover == NULL) || c == NULL) {
        ret = ENOMEM;
        goto done;
    }
    /* Options fixed for the life of the handle. Each one closes a way in which the process
     * environment (proxy variables, ~/.netrc, ...) or the server could steer the client. */
    if (curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||                   /* no SIGALRM in host processes */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0: the _STR forms; the bitmask ones are deprecated */
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http") != CURLE_OK ||
#else
        curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTP) != CURLE_OK ||
#endif
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||              /* a 3xx is just EPROTO */
        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||                       /* ignore http_proxy */
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK || /* never read ~/.netrc */
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, imds->errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, "eic/" PACKAGE_VERSION) != CURLE_OK) {
        ret = ENOMEM;
        goto done;
    }
    /* No CURLOPT_COOKIEFILE/COOKIEJAR: the cookie engine stays off. No CURLOPT_ACCEPT_ENCODING:
     * bodies arrive uncompressed, so the size cap applies to what is actually stored. */
    *out = imds;
    imds = NULL;
    ret = 0;

done:
    eic_imds_free(imds);
    return ret;
}

void eic_imds_free(struct eic_imds *imds)
{
    if (imds == NULL) {
        return;
    }
    free_token(imds);
    if (imds->curl != NULL) {
        curl_easy_cleanup(imds->curl);
    }
    free(imds->endpoint);
    free(imds);
}

int eic_imds_get(struct eic_imds *imds, const char *path, uint64_t deadline_ms, struct eic_buf *out)
{
    size_t cap = out->max < imds->max_response ? out->max : imds->max_response;
    bool fresh_token = false;
    long status = 0;
    int ret;

    eic_buf_reset(out);
    imds->last_error[0] = '\0';
    if (check_path(path) != 0) {
        snprintf(imds->last_error, sizeof(imds->last_error), "path refused");
        return EINVAL;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (imds->token == NULL || eic_monotonic_ms() >= imds->token_reuse_until) {
            ret = fetch_token(imds, deadline_ms);
            if (ret != 0) {
                goto done;
            }
            fresh_token = true;
        }
        ret = do_request(imds, false, path, deadline_ms, out, cap, &status);
        if (ret != 0) {
            goto done;
        }
        if (status != 401 || fresh_token) {
            break;
        }
        /* The server no longer accepts a token we still thought valid (IMDS restarted, clock
         * differences, instance stopped and started): drop it and try once with a new one. */
        free_token(imds);
    }
    if (status != 200 && status != 404) {
        set_last_error(imds, false, "HTTP %ld", status);
    }
    switch (status) {
    case 200:
        ret = 0;
        break;
    case 404:
        ret = ENOENT;
        break;
    case 401:
    case 403:
        ret = EACCES;
        break;
    default:
        ret = EPROTO;
        break;
    }

done:
    if (ret == EACCES) {
        free_token(imds); /* whatever the server thinks of it, do not offer it again */
    }
    if (ret != 0) {
        eic_buf_reset(out);
    }
    return ret;
}

const char *eic_imds_endpoint(const struct eic_imds *imds)
{
    return imds->endpoint;
}

const char *eic_imds_last_error(const struct eic_imds *imds)
{
    return imds->last_error;
}

void eic_imds_stats(const struct eic_imds *imds, unsigned long *token_fetches, unsigned long *requests,
                    unsigned long *retries)
{
    if (token_fetches != NULL) {
        *token_fetches = imds->token_fetches;
    }
    if (requests != NULL) {
        *requests = imds->requests;
    }
    if (retries != NULL) {
        *retries = imds->retries;
    }
}

const char *eic_imds_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case ENOENT:
        return "not found (HTTP 404)";
    case ETIMEDOUT:
        return "timed out";
    case EMSGSIZE:
        return "response larger than the size limit";
    case EACCES:
        return "access denied (HTTP 401/403 with a fresh token)";
    case ECONNREFUSED:
        return "connection refused";
    case EHOSTUNREACH:
        return "host unreachable";
    case EIO:
        return "transport error (connection failed or response incomplete)";
    case EPROTO:
        return "unexpected HTTP status or response";
    case EINVAL:
        return "invalid argument (endpoint or path)";
    case ENOMEM:
        return "out of memory";
    default:
        return "unknown error";
    }
}
