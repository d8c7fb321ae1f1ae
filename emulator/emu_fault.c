#include "emu_fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number in [min, max], nothing else (no sign, no spaces, no trailing text). */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9') {
        return EINVAL;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return EINVAL;
    }
    *out = v;
    return 0;
}

int emu_fault_parse(const char *spec, struct emu_fault *fault, char *err, size_t err_len)
{
    const char *eq = strrchr(spec, '=');
    const char *kind;
    const char *arg;
    size_t path_len;
    size_t kind_len;

    memset(fault, 0, sizeof(*fault));
    if (eq == NULL || eq == spec || spec[0] != '/') {
        snprintf(err, err_len, "--fault '%s': expected PATH=KIND[:ARG] with PATH starting with '/'", spec);
        return EINVAL;
    }
    path_len = (size_t)(eq - spec);
    if (memchr(spec, '*', path_len) != NULL && (memchr(spec, '*', path_len) != spec + path_len - 1)) {
        snprintf(err, err_len, "--fault '%s': '*' is only allowed at the end of PATH", spec);
        return EINVAL;
    }
    if (spec[path_len - 1] == '*') {
        fault->prefix = 1;
        path_len--;
    }
    kind = eq + 1;
    arg = strchr(kind, ':');
    kind_len = arg ? (size_t)(arg - kind) : strlen(kind);
    if (arg != NULL) {
        arg++;
    }
#define KIND_IS(name) (kind_len == strlen(name) && strncmp(kind, name, kind_len) == 0)
    if (KIND_IS("delay")) {
        fault->kind = EMU_FAULT_DELAY;
        if (arg == NULL || parse_long(arg, 0, EMU_FAULT_MAX_DELAY_MS, &fault->arg) != 0) {
            snprintf(err, err_len, "--fault '%s': delay needs milliseconds 0..%ld (delay:MS)", spec,
                     EMU_FAULT_MAX_DELAY_MS);
            return EINVAL;
        }
    } else if (KIND_IS("status")) {
        fault->kind = EMU_FAULT_STATUS;
        if (arg == NULL || parse_long(arg, 100, 599, &fault->arg) != 0) {
            snprintf(err, err_len, "--fault '%s': status needs an HTTP code 100..599 (status:CODE)", spec);
            return EINVAL;
        }
    } else if (KIND_IS("oversize") || KIND_IS("oversize-chunked")) {
        fault->kind = KIND_IS("oversize") ? EMU_FAULT_OVERSIZE : EMU_FAULT_OVERSIZE_CHUNKED;
        fault->arg = EMU_OVERSIZE_BYTES;
        if (arg != NULL && parse_long(arg, EMU_OVERSIZE_MIN, EMU_OVERSIZE_MAX, &fault->arg) != 0) {
            snprintf(err, err_len, "--fault '%s': %.*s takes a size in bytes %ld..%ld (%.*s[:BYTES])", spec,
                     (int)kind_len, kind, EMU_OVERSIZE_MIN, EMU_OVERSIZE_MAX, (int)kind_len, kind);
            return EINVAL;
        }
    } else if (KIND_IS("hang") || KIND_IS("truncate") || KIND_IS("garbage")) {
        fault->kind = KIND_IS("hang") ? EMU_FAULT_HANG : KIND_IS("truncate") ? EMU_FAULT_TRUNCATE
                                                                             : EMU_FAULT_GARBAGE;
        if (arg != NULL) {
            snprintf(err, err_len, "--fault '%s': %.*s takes no argument", spec, (int)kind_len, kind);
            return EINVAL;
        }
    } else {
        snprintf(err, err_len,
                 "--fault '%s': unknown kind (delay:MS, status:CODE, hang, truncate, oversize[:BYTES], "
                 "oversize-chunked[:BYTES], garbage)",
                 spec);
        return EINVAL;
    }
#undef KIND_IS
    fault->path = strndup(spec, path_len);
    if (fault->path == NULL) {
        snprintf(err, err_len, "out of memory");
        return ENOMEM;
    }
    fault->path_len = path_len;
    return 0;
}

void emu_fault_clear(struct emu_fault *fault)
{
    free(fault->path);
    fault->path = NULL;
}

int emu_fault_matches(const struct emu_fault *fault, const char *path)
{
    if (fault->prefix) {
        return strncmp(path, fault->path, fault->path_len) == 0;
    }
    return strcmp(path, fault->path) == 0;
}

const struct emu_fault *emu_fault_find_final(const struct emu_fault *faults, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (faults[i].kind != EMU_FAULT_DELAY && emu_fault_matches(&faults[i], path)) {
            return &faults[i];
        }
    }
    return NULL;
}

const char *emu_fault_kind_name(enum emu_fault_kind kind)
{
    switch (kind) {
    case EMU_FAULT_DELAY:
        return "delay";
    case EMU_FAULT_STATUS:
        return "status";
    case EMU_FAULT_HANG:
        return "hang";
    case EMU_FAULT_TRUNCATE:
        return "truncate";
    case EMU_FAULT_OVERSIZE:
        return "oversize";
    case EMU_FAULT_OVERSIZE_CHUNKED:
        return "oversize-chunked";
    case EMU_FAULT_GARBAGE:
        return "garbage";
    }
    return "?";
}
