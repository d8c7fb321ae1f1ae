/* eic: the client side of EC2 Instance Connect. Subcommands are dispatched from a table; each
 * parses its own options (AWS CLI style) and returns the process's exit status. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "eic.h"
#include "eic_log.h"

static const struct eic_command commands[] = {
    {"send-ssh-public-key",
     "push an SSH public key to an instance for 60 seconds (as `aws ec2-instance-connect send-ssh-public-key`)",
     eic_cmd_send_ssh_public_key},
    {"ssh", "log in with OpenSSH using a key pushed for this login (ephemeral unless --private-key-file)",
     eic_cmd_ssh},
    {"open-tunnel", "a tunnel to an instance's private address through an Instance Connect Endpoint (stdin/stdout)",
     eic_cmd_open_tunnel},
};

static void help(FILE *out)
{
    fprintf(out, "usage: eic <command> [parameters]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-22s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\nOptions:\n"
                 "  --help                 this text; `eic <command> --help` describes a command\n"
                 "  --version              the version\n");
}

int main(int argc, char **argv)
{
    const struct eic_command *cmd = NULL;
    int status;

    if (argc < 2) {
        return eic_usage_error(NULL, "the following arguments are required: command");
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        help(stdout);
        return EIC_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("eic %s\n", PACKAGE_VERSION);
        return EIC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            cmd = &commands[i];
        }
    }
    if (cmd == NULL) {
        return eic_usage_error(NULL, "argument command: Invalid choice: '%s'", argv[1]);
    }
    /* Diagnostics (--debug) go to stderr only: a file of /dev/null keeps them out of syslog,
     * which is for the instance side. */
    eic_log_open("eic", "/dev/null", EIC_LOG_STDERR);
    eic_log_set_level(LOG_WARNING);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "eic: cannot initialise libcurl\n");
        return EIC_EXIT_OTHER;
    }
    status = cmd->run(argc - 1, argv + 1);
    curl_global_cleanup();
    eic_log_close();
    return status;
}
