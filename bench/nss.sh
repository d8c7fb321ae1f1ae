#!/bin/bash
# Benchmark (not a test): getpwnam of a cached IAM-mapped user through nss_eic against a local user
# through glibc's nss_files, at 10 and 100 000 accounts each, on the same machine in one run.
# Each figure is the median of 7 batches of calls to the module's _nss_*_getpwnam_r entry point
# (what glibc calls), looking up the account in the middle of the file / cache.
# Usage: bench/nss.sh   (as root: nss_files reads /etc/passwd, so a private mount namespace
# bind-mounts the generated file there; build first with scripts/build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inside ]; then
    exec unshare --mount --propagation private bash "$0" --inside
fi
TOP=$(pwd)
FILES=/lib/$(gcc -print-multiarch)/libnss_files.so.2
EIC=$TOP/nss_eic/libnss_eic.so.2
dir=""
trap '[ -n "$dir" ] && rm -rf "$dir"' EXIT
printf '%-10s %16s %16s %8s\n' accounts "nss_files ns" "nss_eic ns" ratio
for n in 10 100000; do
    dir=$(mktemp -d /tmp/eic-bench-nss.XXXXXX)
    bench/nss_lookup populate "$dir" "$n"
    mount --bind "$dir/passwd" /etc/passwd
    mid=$(printf '%06d' $((n / 2)))
    iter=$((n > 1000 ? 200 : 200000))
    files_ns=$(bench/nss_lookup lookup "$FILES" files "l$mid" "$iter")
    eic_ns=$(EIC_CONFIG="$dir/eic.conf" bench/nss_lookup lookup "$EIC" eic "e$mid" 200000)
    umount /etc/passwd
    printf '%-10s %16s %16s %8s\n' "$n" "$files_ns" "$eic_ns" "$(awk -v a="$eic_ns" -v b="$files_ns" 'BEGIN { printf "%.4f", a / b }')"
    rm -rf "$dir"
    dir=""
done
