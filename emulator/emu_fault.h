/* Fault injection: --fault 'PATH=KIND[:ARG]'.
 *
 *   PATH   exact request path ("/latest/api/token"), or a prefix when it ends in a star;
 *          compared with the path as sent, never decoded.
 *   KIND   delay:MS     wait MS milliseconds (0..600000), then answer normally
 *          status:CODE  answer CODE (100..599) instead; on the push API path "/" 429 is a
 *                       ThrottlingException (HTTP 400, as AWS answers it), 5xx a ServiceException
 *          hang         never answer (until the emulator stops)
 *          truncate     announce the full Content-Length of the normal answer, send half, close
 *          oversize[:BYTES]          answer 200 with a BYTES body (default 4 MiB), Content-Length announced
 *          oversize-chunked[:BYTES]  the same without Content-Length (chunked): the client must count
 *          garbage      answer 200 with 4 KiB of binary noise (NULs, CR/LF, bytes >= 0x80)
 * Several faults may match one request: every matching delay is served in order, then the
 * first matching fault of another kind decides. */
#ifndef EMU_FAULT_H
#define EMU_FAULT_H

#include <stddef.h>

#define EMU_OVERSIZE_BYTES (4 * 1024 * 1024)    /* oversize without an argument */
#define EMU_OVERSIZE_MIN 1024L
#define EMU_OVERSIZE_MAX (64L * 1024 * 1024)
#define EMU_GARBAGE_BYTES 4096
#define EMU_FAULT_MAX_DELAY_MS 600000L

enum emu_fault_kind {
    EMU_FAULT_DELAY,
    EMU_FAULT_STATUS,
    EMU_FAULT_HANG,
    EMU_FAULT_TRUNCATE,
    EMU_FAULT_OVERSIZE,
    EMU_FAULT_OVERSIZE_CHUNKED,
    EMU_FAULT_GARBAGE,
};

struct emu_fault {
    char *path;
    size_t path_len;   /* without the '*' of a prefix */
    int prefix;
    enum emu_fault_kind kind;
    long arg;          /* milliseconds for delay, the status code for status, bytes for oversize */
};

/* Parse one --fault argument into *fault (caller frees with emu_fault_clear). Returns 0 or
 * EINVAL with a reason in err. */
int emu_fault_parse(const char *spec, struct emu_fault *fault, char *err, size_t err_len);
void emu_fault_clear(struct emu_fault *fault);
int emu_fault_matches(const struct emu_fault *fault, const char *path);
/* The first non-delay fault matching path, or NULL. */
const struct emu_fault *emu_fault_find_final(const struct emu_fault *faults, size_t n, const char *path);
const char *emu_fault_kind_name(enum emu_fault_kind kind);

#endif
