#!/bin/bash
# Benchmark (not a test): getpwnam, getpwuid and initgroups of a cached IAM-mapped account through
# nss_eic against a local account through glibc's nss_files, at 10, 1 000 and 100 000 accounts
# each, side by side in one process (bench/nss_lookup compare: batches alternated, median of 7),
# for the account in the middle of the file / cache. The entry points are called the way glibc
# calls them (_nss_*_getpwnam_r, _nss_*_getpwuid_r, _nss_*_initgroups_dyn).
# Usage: bench/nss.sh [--smoke]   (as root: nss_files reads /etc/passwd and /etc/group, so a
# private mount namespace bind-mounts the generated files there; build first with scripts/build)
# Prints one line per figure: OP ACCOUNTS FILES_NS EIC_NS EIC/FILES.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inside ]; then
    exec unshare --mount --propagation private bash "$0" --inside "$@"
fi
shift
SIZES="10 1000 100000"
CALLS=2000000 # calls' worth of nss_files work per batch at 1 account (divided by the size)
if [ "${1:-}" = --smoke ]; then
    SIZES=10
    CALLS=2000
fi
TOP=$(pwd)
FILES=/lib/$(gcc -print-multiarch)/libnss_files.so.2
EIC=$TOP/nss_eic/libnss_eic.so.2
dir=""
trap '[ -n "$dir" ] && rm -rf "$dir"' EXIT
printf '%-10s %8s %14s %14s %10s\n' op accounts "nss_files ns" "nss_eic ns" eic/files
for n in $SIZES; do
    dir=$(mktemp -d /tmp/eic-bench-nss.XXXXXX)
    bench/nss_lookup populate "$dir" "$n"
    mount --bind "$dir/passwd" /etc/passwd
    mount --bind "$dir/group" /etc/group
    mid=$((n / 2))
    name=$(printf '%06d' $mid)
    eic_uid=$(EIC_CONFIG="$dir/eic.conf" LD_LIBRARY_PATH="$TOP/nss_eic" getent -s eic passwd "e$name" | cut -d: -f3)
    files_iter=$((CALLS / n < 20 ? 20 : CALLS / n > 20000 ? 20000 : CALLS / n))
    eic_iter=$((CALLS / 100 < 20000 ? CALLS / 100 : 20000))
    for op in getpwnam getpwuid initgroups; do
        read -r files_ns eic_ns < <(EIC_CONFIG="$dir/eic.conf" bench/nss_lookup compare "$op" "$files_iter" "$eic_iter" \
            "$FILES" files "l$name" $((10000 + mid)) "$EIC" eic "e$name" "$eic_uid")
        printf '%-10s %8s %14s %14s %10s\n' "$op" "$n" "$files_ns" "$eic_ns" \
            "$(awk -v a="$eic_ns" -v b="$files_ns" 'BEGIN { printf "%.4f", a / b }')"
    done
    umount /etc/group
    umount /etc/passwd
    rm -rf "$dir"
    dir=""
done
