/* eicd: the root service that owns eic's trust work (docs/SERVICE.md). Private header.
 *
 *   main.c      command line, configuration, logging, signals
 *   server.c    the listening socket (its own, or systemd's), one thread per client, limits
 *   handlers.c  one request: who may ask it (peer credentials), and its answer
 *   admissions.c  the keys the AKC let in, for the session of the same login */
#ifndef EICD_H
#define EICD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eic_proto.h"

/* A client has this long to send its whole request, and to take the answer: a slow or stuck
 * client is dropped and holds nothing that another client waits for. */
#define EICD_IO_TIMEOUT_MS 1000
/* Clients served at once: all callers, and any one unprivileged uid (which can ask nothing but
 * still costs a thread until its request is refused). Root and the AuthorizedKeysCommandUser are
 * bounded by the total only. */
#define EICD_MAX_CLIENTS 256
#define EICD_MAX_CLIENTS_PER_USER 4

struct eicd_options {
    const char *config_path;
    const char *socket_path;  /* NULL: the configuration's service_socket */
    bool foreground;          /* not socket-activated: make and own the socket */
    long idle_exit_s;         /* exit after this long without clients; 0: never */
};

/* Serve until SIGTERM/SIGINT (or idle_exit_s without a client). Returns an exit status. */
int eicd_serve(const struct eicd_options *opt);

/* The uid of the configured AuthorizedKeysCommandUser (authorized_keys_user); (uid_t)-1 when there
 * is no such account. */
struct eic_config;
uid_t eicd_akc_uid(const struct eic_config *cfg);

/* Answer one request (req_len bytes, a whole message) from a peer with uid peer_uid, within
 * deadline_ms for the trust work. *resp is a malloc'd message to send. Returns 0, or EBADMSG when
 * the request is malformed (no answer: the client is dropped), or ENOMEM. */
int eicd_handle(const char *config_path, uid_t peer_uid, pid_t peer_pid, const uint8_t *req, size_t req_len,
                uint8_t **resp, size_t *resp_len);

/* How long a key the AKC let in answers pam_eic's session of the same login: sshd's default
 * LoginGraceTime, the longest an authentication may take before the session opens. */
#define EICD_ADMISSION_MS (120 * 1000)

/* Remember that the AKC let key (fingerprint, #Caller, #Request) in for user now. */
void eicd_admission_note(const char *user, const char *fingerprint, const char *key, const char *caller,
                         const char *request_id);
/* The key let in for user with fingerprint within EICD_ADMISSION_MS, as malloc'd copies. 0,
 * ENOENT, ENOMEM. */
int eicd_admission_find(const char *user, const char *fingerprint, char **key, char **caller, char **request_id);
/* The #Caller of the key let in last for user within EICD_ADMISSION_MS (the principal of the login
 * being set up), as a malloc'd copy. 0, ENOENT, ENOMEM. */
int eicd_admission_latest_caller(const char *user, char **caller);
/* At exit (leak checkers). */
void eicd_admissions_free(void);

#endif
