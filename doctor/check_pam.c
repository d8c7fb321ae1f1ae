/* sshd's PAM stack (/etc/pam.d/sshd with its includes, as libpam reads it): pam_eic in the account
 * and the session stack, reached on every path that can succeed (no "sufficient", "done" or jump
 * before it that ends or skips over it), and its refusal a refusal of the stack (required or
 * requisite); its arguments accepted by pam_eic's own parser; the module installed; the audit log
 * directory as pam_eic demands it. The stack is followed for the two outcomes a module returns
 * on a normal login, success and "ignore". */
#include "doctor.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pam_args.h"

#define PAM_DIR "/etc/pam.d"
#define PAM_MODULE_DIR EIC_LIBDIR "/security"
#define MAX_ENTRIES 256
#define MAX_ARGS 32
#define MAX_DEPTH 8
#define MAX_PAM_FILE (256 * 1024)
#define PAM_FIX "pam-auth-update --enable eic (or the lines of /usr/share/doc/eic/examples/pam.d/eic)"

struct pam_entry {
    char type[16];
    char control[256];
    char module[256];
    char args[512];
    char file[64];
    unsigned int line;
};

struct pam_stack {
    struct pam_entry e[MAX_ENTRIES];
    long memo[MAX_ENTRIES]; /* skipper() */
    size_t n;
};

static int read_stack(struct doctor *d, const char *name, const char *only_type, struct pam_stack *s, int depth);

/* One word of line (a "[...]" control as one word), advancing *p. */
static size_t next_word(const char **p, char *out, size_t out_len)
{
    const char *w = *p + strspn(*p, " \t");
    const char *close = *w == '[' ? strchr(w, ']') : NULL;
    size_t n = close != NULL ? (size_t)(close - w) + 1 : strcspn(w, " \t");

    snprintf(out, out_len, "%.*s", (int)n, w);
    *p = w + n;
    return n;
}

static int parse_line(struct doctor *d, const char *name, unsigned int lineno, const char *line, const char *only_type,
                      struct pam_stack *s, int depth)
{
    struct pam_entry e;
    const char *p = line;
    const char *type;

    memset(&e, 0, sizeof(e));
    if (next_word(&p, e.type, sizeof(e.type)) == 0) {
        return 0;
    }
    if (strcmp(e.type, "@include") == 0) {
        next_word(&p, e.module, sizeof(e.module));
        return read_stack(d, e.module, only_type, s, depth + 1);
    }
    type = e.type[0] == '-' ? e.type + 1 : e.type; /* "-": no complaint when the module is missing */
    if (only_type != NULL && strcmp(type, only_type) != 0) {
        return 0;
    }
    next_word(&p, e.control, sizeof(e.control));
    next_word(&p, e.module, sizeof(e.module));
    if (strcmp(e.control, "include") == 0 || strcmp(e.control, "substack") == 0) {
        return read_stack(d, e.module, type, s, depth + 1);
    }
    snprintf(e.args, sizeof(e.args), "%s", p + strspn(p, " \t"));
    memmove(e.type, type, strlen(type) + 1);
    snprintf(e.file, sizeof(e.file), "%s", name);
    e.line = lineno;
    if (s->n == MAX_ENTRIES) {
        return E2BIG; /* a stack of hundreds of lines is not followed half-way */
    }
    s->e[s->n++] = e;
    return 0;
}

/* The entries of the file (name relative to /etc/pam.d, or absolute), includes expanded. */
static int read_stack(struct doctor *d, const char *name, const char *only_type, struct pam_stack *s, int depth)
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    unsigned int lineno = 0;
    int ret;

    if (depth > MAX_DEPTH) {
        return ELOOP;
    }
    snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : PAM_DIR, name[0] == '/' ? "" : "/", name);
    ret = doctor_read(d, path, MAX_PAM_FILE, &text, &len);
    for (char *line = text, *next; ret == 0 && line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        lineno++;
        line[strcspn(line, "#")] = '\0';
        ret = parse_line(d, name, lineno, line, only_type, s, depth);
    }
    free(text);
    return ret;
}

static bool is_pam_eic(const struct pam_entry *e)
{
    const char *base = strrchr(e->module, '/');

    return strcmp(base != NULL ? base + 1 : e->module, "pam_eic.so") == 0;
}

/* The action of control for the module's return value `what` ("success", "ignore", or a failure). */
static void action_of(const char *control, const char *what, char *action, size_t action_len)
{
    bool success = strcmp(what, "success") == 0, ignore = strcmp(what, "ignore") == 0;
    char buf[256];
    char *save = NULL;
    const char *dflt = "bad"; /* a value not given in [...] and no default */

    if (control[0] != '[') {
        if (strcmp(control, "sufficient") == 0) {
            snprintf(action, action_len, "%s", success ? "done" : "ignore");
        } else if (success || ignore) {
            snprintf(action, action_len, "%s", success ? "ok" : "ignore");
        } else {
            snprintf(action, action_len, "%s", strcmp(control, "requisite") == 0 ? "die"
                                                : strcmp(control, "required") == 0 ? "bad" : "ignore");
        }
        return;
    }
    snprintf(buf, sizeof(buf), "%s", control);
    for (char *item = strtok_r(buf, "[] \t", &save); item != NULL; item = strtok_r(NULL, "[] \t", &save)) {
        char *eq = strchr(item, '=');

        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        if (strcmp(item, what) == 0) {
            snprintf(action, action_len, "%s", eq + 1);
            return;
        }
        if (strcmp(item, "default") == 0) {
            dflt = control + (eq + 1 - buf); /* points into control: buf is gone at return */
        }
    }
    snprintf(action, action_len, "%.*s", (int)strcspn(dflt, " \t]"), dflt);
}

static bool eic_between(const struct pam_stack *s, size_t from, size_t to)
{
    for (size_t i = from + 1; i < to && i < s->n; i++) {
        if (is_pam_eic(&s->e[i])) {
            return true;
        }
    }
    return false;
}

/* From entry i on, can the stack succeed without running pam_eic? Returns the entry that ends it
 * or jumps past pam_eic, REACHES_END (only ever seen by the line that jumped: every path to the
 * end passes pam_eic or jumps past it), or -1. memo[i] keeps each entry's answer (jumps go
 * forward only), so the walk is linear, not one walk per path. */
#define MEMO_UNKNOWN (-2)
#define REACHES_END LONG_MAX
static long skipper(const struct pam_stack *s, size_t i, long *memo)
{
    static const char *const outcomes[] = {"success", "ignore"};
    long culprit = -1;

    if (i >= s->n) {
        return REACHES_END;
    }
    if (memo[i] != MEMO_UNKNOWN) {
        return memo[i];
    }
    for (size_t k = 0; k < 2 && culprit < 0 && !is_pam_eic(&s->e[i]); k++) {
        char action[32];
        char *end;
        unsigned long jump;

        action_of(s->e[i].control, outcomes[k], action, sizeof(action));
        if (strcmp(action, "done") == 0) {
            culprit = (long)i;
        } else if (strcmp(action, "ok") == 0 || strcmp(action, "ignore") == 0 || strcmp(action, "reset") == 0) {
            culprit = skipper(s, i + 1, memo);
        } else if ((jump = strtoul(action, &end, 10)) > 0 && *end == '\0' && jump < MAX_ENTRIES) {
            culprit = skipper(s, i + 1 + jump, memo);
            if (culprit >= 0 && eic_between(s, i, i + 1 + jump)) {
                culprit = (long)i;
            }
        } /* bad, die: this path fails anyway */
    }
    memo[i] = culprit;
    return culprit;
}

/* One stack; the first pam_eic line's audit log into audit_log (have_args then true). */
static void check_type(struct doctor *d, const char *type, const char *failure, char *audit_log, size_t audit_len,
                       bool *have_args)
{
    struct pam_stack *s = calloc(1, sizeof(*s));
    char check[32];
    const struct pam_entry *eic = NULL;
    char action[32];
    long culprit;
    int ret;

    snprintf(check, sizeof(check), "pam %s", type);
    if (s == NULL) {
        doctor_report(d, DOCTOR_FAIL, check, NULL, "out of memory");
        return;
    }
    ret = read_stack(d, "sshd", type, s, 0);
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, check, PAM_FIX, PAM_DIR "/sshd and its includes: %s", strerror(ret));
        goto done;
    }
    for (size_t i = 0; i < s->n && eic == NULL; i++) {
        eic = is_pam_eic(&s->e[i]) ? &s->e[i] : NULL;
    }
    if (eic == NULL) {
        doctor_report(d, DOCTOR_FAIL, check, PAM_FIX, "no pam_eic.so in sshd's %s stack", type);
        goto done;
    }
    action_of(eic->control, failure, action, sizeof(action));
    if (strcmp(action, "bad") != 0 && strcmp(action, "die") != 0) {
        doctor_report(d, DOCTOR_FAIL, check, "make the line 'required'", "%s:%u: pam_eic.so is '%s': its refusal is "
                      "ignored", eic->file, eic->line, eic->control);
        goto done;
    }
    for (size_t i = 0; i < s->n; i++) {
        s->memo[i] = MEMO_UNKNOWN;
    }
    culprit = skipper(s, 0, s->memo);
    if (culprit >= 0 && (size_t)culprit < s->n) {
        doctor_report(d, DOCTOR_FAIL, check,
                      "put pam_eic.so where every successful path reaches it (pam-auth-update does)",
                      "%s:%u (%s %s) ends the %s stack or jumps past pam_eic.so at %s:%u", s->e[culprit].file,
                      s->e[culprit].line, s->e[culprit].control, s->e[culprit].module, type, eic->file, eic->line);
        goto done;
    }
    {
        char words[sizeof(eic->args)];
        const char *argv[MAX_ARGS];
        struct pam_eic_args args;
        char err[512];
        int argc = 0;
        char *save = NULL;

        snprintf(words, sizeof(words), "%s", eic->args);
        for (char *w = strtok_r(words, " \t", &save); w != NULL && argc < MAX_ARGS; w = strtok_r(NULL, " \t", &save)) {
            argv[argc++] = w;
        }
        /* pam_eic's own parser: what it refuses, it refuses at every login. */
        if (pam_eic_args_parse(argc, argv, &args, err, sizeof(err)) != 0) {
            doctor_report(d, DOCTOR_FAIL, check, "correct the module arguments (pam_eic(8))",
                          "%s:%u: %s: pam_eic fails every login it is asked about", eic->file, eic->line, err);
            goto done;
        }
        if (!*have_args) {
            snprintf(audit_log, audit_len, "%s", args.audit_log);
            *have_args = true;
        }
    }
    doctor_report(d, DOCTOR_OK, check, NULL, "pam_eic.so at %s:%u (%s)", eic->file, eic->line, eic->control);
done:
    free(s);
}

/* pam_eic's audit log directory: created 0700 when missing; one owned by someone else or writable
 * by group or others makes it refuse every managed session (docs/PAM.md). */
static void check_audit_dir(struct doctor *d, const char *audit_log)
{
    char dir[PATH_MAX];
    struct stat st;
    int ret;

    snprintf(dir, sizeof(dir), "%s", audit_log);
    *strrchr(dir, '/') = '\0';
    if (dir[0] == '\0') {
        strcpy(dir, "/");
    }
    ret = doctor_stat(d, dir, true, &st);
    if (ret == ENOENT) {
        doctor_report(d, DOCTOR_OK, "audit-log", NULL, "%s: pam_eic creates it (0700) at the first session", dir);
    } else if (ret != 0 || !S_ISDIR(st.st_mode) || !doctor_root_only(&st)) {
        doctor_report(d, DOCTOR_FAIL, "audit-log", "install -d -o root -g root -m 0700 the directory",
                      "%s: %s: pam_eic refuses every managed session", dir,
                      ret != 0 ? strerror(ret) : "not a directory of root's that only root may write");
    } else {
        doctor_report(d, DOCTOR_OK, "audit-log", NULL, "%s", dir);
    }
}

void doctor_check_pam(struct doctor *d)
{
    char audit_log[PATH_MAX] = PAM_EIC_DEFAULT_AUDIT_LOG;
    bool have_args = false;
    struct stat st;
    int ret;

    if (d->sshd.known && !d->sshd.use_pam) {
        doctor_report(d, DOCTOR_FAIL, "pam account", "UsePAM yes in sshd_config",
                      "sshd -T: usepam no: pam_eic never runs (no revocation, no audit)");
        return;
    }
    check_type(d, "account", "perm_denied", audit_log, sizeof(audit_log), &have_args);
    check_type(d, "session", "session_err", audit_log, sizeof(audit_log), &have_args);
    ret = doctor_stat(d, PAM_MODULE_DIR "/pam_eic.so", true, &st);
    if (ret != 0) {
        doctor_report(d, DOCTOR_FAIL, "pam-module", "reinstall the eic package, or take pam_eic out of the stack",
                      PAM_MODULE_DIR "/pam_eic.so: %s: a stack that names it refuses every login", strerror(ret));
    } else if (!doctor_root_only(&st)) {
        doctor_report(d, DOCTOR_FAIL, "pam-module", "chown root:root and chmod go-w it",
                      PAM_MODULE_DIR "/pam_eic.so is writable by others than root: sshd loads it as root");
    } else {
        doctor_report(d, DOCTOR_OK, "pam-module", NULL, PAM_MODULE_DIR "/pam_eic.so");
    }
    check_audit_dir(d, audit_log);
}
