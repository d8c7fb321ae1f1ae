/* The eic client: shared definitions of the subcommands. */
#ifndef EIC_CLIENT_H
#define EIC_CLIENT_H

#include <stdio.h>

/* Exit statuses, as the AWS CLI uses them, so scripts written for
 * `aws ec2-instance-connect send-ssh-public-key` keep working. */
#define EIC_EXIT_OK 0
#define EIC_EXIT_USAGE 2     /* bad command line */
#define EIC_EXIT_CONFIG 253  /* no credentials, no region, unknown profile */
#define EIC_EXIT_SERVICE 254 /* the service answered with an error */
#define EIC_EXIT_OTHER 255   /* could not connect, unusable answer, out of memory */

/* One subcommand: main.c dispatches on name; run gets argv from the subcommand name on. */
struct eic_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int eic_cmd_send_ssh_public_key(int argc, char **argv);
int eic_cmd_ssh(int argc, char **argv);
int eic_cmd_open_tunnel(int argc, char **argv);

/* The SendSSHPublicKey request body (malloc'd JSON; zone may be NULL), or NULL (no memory).
 * send_key.c; also used by `eic ssh`. */
char *eic_send_key_request_body(const char *instance_id, const char *os_user, const char *key, const char *zone);

/* Print "eic: error: MSG" and the short usage, as the AWS CLI does for usage errors. Returns
 * EIC_EXIT_USAGE for the caller to exit with. */
int eic_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
