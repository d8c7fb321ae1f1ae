/* Command-line options the AWS CLI way: "--name value" or "--name=value", long names only. */
#ifndef EIC_CLIENT_ARGS_H
#define EIC_CLIENT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct eic_opt {
    const char *name;   /* without the leading "--" */
    const char **value; /* options with a value: where it goes (NULL until given) */
    bool *flag;         /* options without a value: set to true when present */
};

/* Parse argv[1..argc) (argv[0] is the subcommand) against opts. Unknown options, a missing
 * value, a value given to a flag, an option given twice and stray arguments are usage errors:
 * the message is printed and EIC_EXIT_USAGE returned. Returns 0 otherwise. */
int eic_args_parse(const char *cmd, int argc, char **argv, const struct eic_opt *opts, size_t n_opts);

#endif
