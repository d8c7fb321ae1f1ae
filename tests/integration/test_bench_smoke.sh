#!/bin/bash
# bench/run-all.sh --smoke: every benchmark runs a few iterations and the document comes out whole
# (keeps the one-command benchmark working; its figures are not looked at, no time is asserted).
# Needs root, like the benchmarks (mount namespaces, the sandbox); without root "not ok".
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    not_ok "bench/run-all.sh --smoke (needs root)"
    finish
    exit 1
fi
check "bench/run-all.sh --smoke writes the document" "$TOP/bench/run-all.sh" --smoke --output "$WORK/PERFORMANCE.md"
has_every_section() {
    local section
    for section in "## eic-authorized-keys, per call" "## nss_eic against nss_files" "## A whole login" "## Load: 5 concurrent"; do
        grep -qF "$section" "$WORK/PERFORMANCE.md" || { echo "missing: $section"; return 1; }
    done
    # Every table cell that should hold a figure holds one (an empty field would show as "|  ms |").
    ! grep -E '\|  *(ms|ns)? *\|' "$WORK/PERFORMANCE.md"
}
check "... with every section and a figure in every cell" has_every_section
check "... the load run inside it logged in every client" \
    grep -qE '^\| 5 \| yes \| [0-9.]+ s \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \|$' "$WORK/PERFORMANCE.md"
finish
