/* The eicd socket protocol: what eic-authorized-keys, nss_eic and pam_eic ask the service, and
 * what it answers (docs/SERVICE.md). libc only: nss_eic's light part links it.
 *
 * One request and one response per connection, each one message:
 *
 *   offset  size  field
 *   0       4     length of the whole message, header included (big-endian), 8..max
 *   4       2     version, EIC_PROTO_VERSION (big-endian)
 *   6       2     code (big-endian): the request type in a request, an errno value in a response
 *                 (0: success)
 *   8       ...   fields, each a 2-byte big-endian length and that many bytes, no NUL among them
 *
 * A message with another version, a length out of bounds, a field running past the end, a NUL
 * in a field or more fields than the reader accepts is malformed (EBADMSG): the service drops the
 * client, a client treats it as "no answer". Requests are small (EIC_PROTO_REQUEST_MAX), answers
 * bounded (EIC_PROTO_RESPONSE_MAX).
 *
 * Requests and their fields:
 *   EIC_REQ_KEYS     user, fingerprint ("" for none): the pushed keys that may log in as user now.
 *                    Answer: 0 and four fields per key (key line, fingerprint, #Caller, #Request;
 *                    "" when the record has none), or an errno and one field, a reason for the log.
 *                    Callers: root and the AuthorizedKeysCommandUser.
 *   EIC_REQ_RESOLVE  name: make name an IAM-mapped account if a verified record maps to it (the
 *                    only request that can create an account or reach IMDS for a name). Answer: 0
 *                    (the account is in the cache now), ENOENT, EEXIST (a local account), or why
 *                    IMDS could not answer; one field, a reason. Callers: root.
 *   EIC_REQ_ACCOUNT  user: pam_eic's account step for an IAM-mapped account. The rules as they are
 *                    now must still give the account to its cached principal, and the cache entry
 *                    is brought in line with the rule that does (groups, shell): eicd is the only
 *                    writer of the account cache. Answer: 0 (allowed), ENOENT (not IAM-mapped),
 *                    EPERM (refused by the rules) or why the cache could not be brought in line;
 *                    one field, a reason. Callers: root.
 *   EIC_REQ_SESSION  user, fingerprint: pam_eic's session step in sshd. The key with that
 *                    fingerprint that the AuthorizedKeysCommand let in for user during this login
 *                    (within sshd's LoginGraceTime, even if its record has expired since), else as
 *                    EIC_REQ_KEYS. Answer: as EIC_REQ_KEYS. Callers: root. */
#ifndef EIC_PROTO_H
#define EIC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EIC_PROTO_VERSION 1
#define EIC_PROTO_HEADER_LEN 8
#define EIC_PROTO_REQUEST_MAX 4096
#define EIC_PROTO_RESPONSE_MAX (1024 * 1024)
#define EIC_PROTO_FIELDS_MAX 1024
#define EIC_SERVICE_SOCKET_DEFAULT "/run/eic/eicd.sock"

enum eic_proto_request {
    EIC_REQ_KEYS = 1,
    EIC_REQ_RESOLVE = 2,
    EIC_REQ_ACCOUNT = 3,
    EIC_REQ_SESSION = 4,
};

/* Four response fields per key of an EIC_REQ_KEYS answer. */
enum { EIC_KEY_LINE, EIC_KEY_FINGERPRINT, EIC_KEY_CALLER, EIC_KEY_REQUEST_ID, EIC_KEY_FIELDS };

/* A decoded message: fields are NUL-terminated copies (lens without the NUL). */
struct eic_proto_msg {
    uint16_t code;
    size_t n_fields;
    char **fields;
};

/* Encode one message into a malloc'd buffer, *out (*out_len bytes). Fields with a NUL
 * are not allowed (EINVAL); EMSGSIZE when the message would exceed max. */
int eic_proto_encode(uint16_t code, const char *const *fields, size_t n_fields, size_t max, uint8_t **out,
                     size_t *out_len);

/* The total length announced by a header, checked against max and the version: 0, or EBADMSG
 * (bad version or length), EMSGSIZE (over max). */
int eic_proto_check_header(const uint8_t *hdr, size_t max, size_t *total_len);

/* Decode a whole message (len bytes, as announced by its header). Returns 0 with msg filled (free
 * with eic_proto_msg_free), EBADMSG, or ENOMEM; on error msg is empty. */
int eic_proto_decode(const uint8_t *buf, size_t len, size_t max_fields, struct eic_proto_msg *msg);
void eic_proto_msg_free(struct eic_proto_msg *msg);

/* Send all of buf on fd before deadline_ms (monotonic); never raises SIGPIPE. 0, ETIMEDOUT, or
 * send's errno. fd may be blocking or not. */
int eic_proto_send(int fd, const uint8_t *buf, size_t len, uint64_t deadline_ms);
/* Receive one whole message of at most max bytes before deadline_ms into a malloc'd *buf. 0,
 * ETIMEDOUT, ECONNRESET (closed before a whole message), EBADMSG, EMSGSIZE, ENOMEM, or recv's
 * errno. */
int eic_proto_recv(int fd, size_t max, uint64_t deadline_ms, uint8_t **buf, size_t *len);

/* The client side: connect to the service at socket_path, send (code, fields), read and decode
 * the answer, all before deadline_ms. 0 with *answer filled, or ENOENT/ECONNREFUSED (no service
 * listening), EACCES, ETIMEDOUT, EBADMSG, ENOMEM... The socket is close-on-exec and closed again
 * before returning. */
int eic_proto_call(const char *socket_path, uint16_t code, const char *const *fields, size_t n_fields,
                   uint64_t deadline_ms, struct eic_proto_msg *answer);

/* Does err, from eic_proto_call, mean that no service answered on the socket (nothing listening,
 * no socket, reset, a malformed answer), so that a client may check without it? A timeout is not
 * (the deadline is spent), nor are ENOMEM and ENAMETOOLONG (local trouble). */
bool eic_proto_no_service(int err);

#endif
