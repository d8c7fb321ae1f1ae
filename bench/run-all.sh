#!/bin/bash
# Every benchmark in one run, and docs/PERFORMANCE.md written from what it measured:
#   bench/akc.sh   eic-authorized-keys per call, side by side with the cost of starting a process
#   bench/nss.sh   getpwnam / getpwuid / initgroups, nss_eic (cached account) against nss_files,
#                  at 10, 1 000 and 100 000 accounts
#   bench/ssh.sh   `ssh host true` through eic against the same key in an authorized_keys file
#   tests/integration/test_load.sh   N concurrent logins, IMDS requests per login
# Each comparison is measured in one run with its two sides alternated, and reported as medians
# and their ratio.
#
# Usage: bench/run-all.sh [--smoke] [--output FILE]   (as root, after scripts/build)
#   --smoke        a few iterations of everything (keeps the command working; figures meaningless)
#   --output FILE  where to write the document (default docs/PERFORMANCE.md; --smoke without
#                  --output writes nothing but prints the document)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
SMOKE=false
OUTPUT=""
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) SMOKE=true ;;
    --output)
        OUTPUT=$2
        shift
        ;;
    *)
        echo "usage: bench/run-all.sh [--smoke] [--output FILE]" >&2
        exit 2
        ;;
    esac
    shift
done
if $SMOKE; then
    AKC_N=5 SSH_N=3 LOGINS=5 NSS_ARGS=--smoke
else
    AKC_N=200 SSH_N=50 LOGINS=200 NSS_ARGS=""
    OUTPUT=${OUTPUT:-docs/PERFORMANCE.md}
fi
WORK=$(mktemp -d /tmp/eic-bench-all.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

COMMAND="bench/run-all.sh"
$SMOKE && COMMAND="$COMMAND --smoke"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, \
$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(git diff --quiet HEAD 2>/dev/null) || COMMIT="$COMMIT (with uncommitted changes)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench: eic-authorized-keys ($AKC_N calls each)" >&2
bench/akc.sh "$AKC_N" >"$WORK/akc"
echo "bench: NSS lookups" >&2
bench/nss.sh $NSS_ARGS >"$WORK/nss"
echo "bench: ssh logins ($SSH_N each)" >&2
bench/ssh.sh "$SSH_N" >"$WORK/ssh"
echo "bench: $LOGINS concurrent logins" >&2
EIC_LOAD_LOGINS=$LOGINS EIC_LOAD_REPORT="$WORK/load" bash tests/integration/test_load.sh >"$WORK/load.tap" 2>&1 || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# field FILE LINE COLUMN: one value of a LABEL|MEDIAN|P90|MIN|N line
field() { sed -n "${2}p" "$1" | cut -d'|' -f"$3"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
akc_row() { # akc_row LINE
    printf '| %s | %s ms | %s ms | %s ms |\n' "$(field "$WORK/akc" "$1" 1)" "$(field "$WORK/akc" "$1" 2)" \
        "$(field "$WORK/akc" "$1" 3)" "$(field "$WORK/akc" "$1" 4)"
}
# load report: logins=N failed=F ms=T puts=P gets=G retried=R
load_value() { tr ' ' '\n' <"$WORK/load" 2>/dev/null | sed -n "s/^$1=//p"; }
load_outcome() {
    local failed
    failed=$(load_value failed)
    if [ "$failed" = 0 ] && ! grep -q '^not ok ' "$WORK/load.tap"; then
        echo yes
    else
        echo "**no**: ${failed:-?} failed (see below)"
    fi
}

{
    cat <<EOF
# Performance

Written by \`$COMMAND\` (as root, after \`scripts/build\`), which runs every benchmark in \`bench/\`
and the load test, and regenerates this file. No test asserts a time; these are measurements.

- Date: $DATE; commit $COMMIT
- Machine: $MACHINE
- Load average (1, 5, 15 min) before the run: $LOAD_BEFORE; after: $LOAD_AFTER. Figures taken while
  other work runs on the machine are noisy, the tails most; each comparison below alternates its
  two sides within one run, so the ratios are steadier than the absolute times.

## eic-authorized-keys, per call (issue #3)

\`bench/akc.sh $AKC_N\`: the emulator on loopback, one ED25519 key pushed, eicd running (warm: it keeps
the IMDS token and the verified signer, and the records it verified for a key answer the same
question again for up to 60 s, as they answer a login's second AuthorizedKeysCommand run);
eic-authorized-keys-verify is the in-process check that runs without the service (IMDSv2 token,
\`active-keys/USER/\`, instance id, zone, domain, signer chain, OCSP listing and both responses,
chain + CN + OCSP + RSA-PSS verification, print, log line). The four commands are timed in turn,
$AKC_N rounds.

| what | median | p90 | min |
|---|---|---|---|
$(akc_row 1)
$(akc_row 2)
$(akc_row 3)
$(akc_row 4)
$(akc_row 5)

- A call through eicd costs **$(ratio "$(field "$WORK/akc" 1 2)" "$(field "$WORK/akc" 4 2)")×** the start of an empty program (issue #9's goal: at
  most 1.5×) and **$(ratio "$(field "$WORK/akc" 1 2)" "$(field "$WORK/akc" 3 2)")×** the in-process check (medians).
  eic-authorized-keys links libc only; the in-process check starts a program that links libcurl
  (Debian's pulls in about twenty shared libraries: nghttp2, libssh2, librtmp, libldap, GSSAPI,
  libpsl, …). Its own work without the process start (last line: config, anchors, token, nine
  IMDS requests over one kept-alive connection, full verification) is $(field "$WORK/akc" 5 2) ms.
- AWS's \`eic_run_authorized_keys\` forks curl, openssl, ssh-keygen and base64 several times per
  record (about 250 ms per call on these machines, project brief). sshd calls the command twice
  per login.

## nss_eic against nss_files (issue #4)

\`bench/nss.sh${NSS_ARGS:+ $NSS_ARGS}\` (a private mount namespace bind-mounts a generated \`/etc/passwd\` and
\`/etc/group\` for nss_files). Both modules are loaded in one process and their entry points called
the way glibc calls them (\`_nss_*_getpwnam_r\`, \`_nss_*_getpwuid_r\`, \`_nss_*_initgroups_dyn\`), for
the account in the middle of the file or cache, in alternating batches; each figure is the median
of 7 batches, in nanoseconds per call. The eic cache holds as many accounts as the passwd file.

| lookup | accounts | nss_files | nss_eic (cached account) | eic / files |
|---|---|---|---|---|
$(awk 'NR > 1 { printf "| %s | %s | %s ns | %s ns | %s |\n", $1, $2, $3, $4, $5 }' "$WORK/nss")

nss_files reads \`/etc/passwd\` (or \`/etc/group\`, for initgroups) line by line at every call, so its
cost grows with the file; nss_eic keeps its verified, memory-mapped cache open (one \`stat\` per
call to notice a replaced file) and binary-searches it, so its cost stays flat. The cache's own
figures (open + verify once per process, lookups, one more account) are in \`docs/CACHE.md\`
(\`bench/cache 100000\`).

## A whole login: \`ssh host true\` through eic against an authorized_keys file

\`bench/ssh.sh $SSH_N\`, in the end-to-end sandbox (\`tests/integration/sandbox.sh\`): two sshd from the
same configuration, one whose only source of keys is eic-authorized-keys (the key pushed to the
emulator at 169.254.169.254), one without an AuthorizedKeysCommand and the same key in its
AuthorizedKeysFile; the same account, $SSH_N logins on each, alternated. Each login is the real
OpenSSH client's whole \`ssh benchu@127.0.0.1 true\`: connection, key exchange, public-key
authentication (sshd runs the AuthorizedKeysCommand twice), PAM, session, command, exit.

| login | median | p90 | min |
|---|---|---|---|
| $(field "$WORK/ssh" 1 1) | $(field "$WORK/ssh" 1 2) ms | $(field "$WORK/ssh" 1 3) ms | $(field "$WORK/ssh" 1 4) ms |
| $(field "$WORK/ssh" 2 1) | $(field "$WORK/ssh" 2 2) ms | $(field "$WORK/ssh" 2 3) ms | $(field "$WORK/ssh" 2 4) ms |

A login through eic takes **$(ratio "$(field "$WORK/ssh" 1 2)" "$(field "$WORK/ssh" 2 2)")×** the time of the same login with the key in a file
(medians; issue #9's goal: at most 1.05×): the difference is the two eic-authorized-keys runs of
the first table, each a process start.

## Load: $LOGINS concurrent logins (issue #7)

\`tests/integration/test_load.sh\` with \`EIC_LOAD_LOGINS=$LOGINS\`: $LOGINS local accounts in the sandbox,
each with its own pushed key, eicd, and pam_eic in sshd's PAM stack; $LOGINS \`ssh\` clients released
at once against one sshd (MaxStartups raised); the shipped deadlines (\`deadline_ms\` 5000, \`imds_timeout_ms\` 1000). On EC2 the metadata
service and the clients are off the instance; here the emulator runs at a higher CPU priority and
the clients at a lower one so that the instance side is what competes for the CPU. The IMDS
requests are counted from the emulator's request log.

| logins | all succeeded | wall time of the burst | token PUTs per login | GETs per login | requests sent again |
|---|---|---|---|---|---|
| $(load_value logins) | $(load_outcome) | $(awk -v ms="$(load_value ms)" 'BEGIN { printf "%.1f s", ms / 1000 }') | $(ratio "$(load_value puts)" "$(load_value logins)") | $(ratio "$(load_value gets)" "$(load_value logins)") | $(load_value retried) |

A login asks eic three questions: sshd runs the AuthorizedKeysCommand twice (the key query, then
the signed attempt) and pam_eic's session step asks for the key the AKC let in. eicd answers all
three with one GET, the first run's \`active-keys/USER/\`: it keeps its IMDSv2 token (a PUT only
when the token is near its TTL) and the signer it verified (chain, OCSP, instance identity: the
few GETs above one per login, once per run of the service), and the records it verified for the
key answer the other two questions (docs/SERVICE.md, "What it keeps between requests"). Before
eicd every run was a process of its own and fetched everything: two token PUTs and sixteen GETs
per login.

The last column counts IMDS requests that ran into \`imds_timeout_ms\` (1 s of wall-clock time)
and were sent once more, which eicd's IMDS client does while \`deadline_ms\` leaves a whole
request timeout, and logs (\`IMDS: N of M requests ran into imds_timeout_ms ... and were sent
again\`). With hundreds of sshd and eic-authorized-keys processes runnable on two CPUs, a process
can wait for the CPU longer than that between sending a request and reading the answer IMDS
already gave. If the second try also times out, eic fails closed and that login is refused
("Permission denied"; the user can retry). The deadlines are security bounds and stay as shipped;
the table says what happened in this run.
EOF
} >"$WORK/doc"
if [ -n "$OUTPUT" ]; then
    cp "$WORK/doc" "$OUTPUT"
    echo "bench: wrote $OUTPUT" >&2
else
    cat "$WORK/doc"
fi
