#include "args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eic.h"

int eic_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "usage: eic <command> [parameters]\nTo see help text, you can run:\n\n  eic --help\n");
    if (cmd != NULL) {
        fprintf(stderr, "  eic %s --help\n", cmd);
    }
    fprintf(stderr, "\neic: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return EIC_EXIT_USAGE;
}

static const struct eic_opt *find_opt(const struct eic_opt *opts, size_t n_opts, const char *name, size_t len)
{
    for (size_t i = 0; i < n_opts; i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int eic_args_parse(const char *cmd, int argc, char **argv, const struct eic_opt *opts, size_t n_opts)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq;
        const char *value = NULL;
        const struct eic_opt *opt;
        size_t name_len;

        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            return eic_usage_error(cmd, "unrecognized arguments: %s", arg);
        }
        eq = strchr(arg + 2, '=');
        name_len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        opt = find_opt(opts, n_opts, arg + 2, name_len);
        if (opt == NULL) {
            return eic_usage_error(cmd, "unrecognized arguments: %s", arg);
        }
        if (opt->flag != NULL) {
            if (eq != NULL) {
                return eic_usage_error(cmd, "argument --%s: ignored explicit argument '%s'", opt->name, eq + 1);
            }
            *opt->flag = true;
            continue;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return eic_usage_error(cmd, "argument --%s: expected one argument", opt->name);
        }
        if (*opt->value != NULL) {
            /* Silently taking the last of two instance ids would push a key to the wrong one. */
            return eic_usage_error(cmd, "argument --%s: given more than once", opt->name);
        }
        *opt->value = value;
    }
    return 0;
}
