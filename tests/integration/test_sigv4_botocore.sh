#!/bin/bash
# eic's SigV4 signer against the installed botocore (the AWS CLI's signer), live: botocore signs
# the fixed cases of tests/data/sigv4/gen_botocore_vectors.py and a few hundred random ones,
# tests/unit/sigv4_vector_tool signs the same inputs with lib/aws/eic_sigv4.c, and the canonical
# requests, strings to sign, signatures and Authorization headers must be identical. It also
# checks that the stored vectors file still is what botocore makes.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
GEN="$TEST_DATA/sigv4/gen_botocore_vectors.py"
TOOL="$EIC_BUILD/tests/unit/sigv4_vector_tool"
STORED="$TEST_DATA/sigv4/botocore-vectors.txt"

if ! "$PY" -c 'import botocore' 2>/dev/null; then
    not_ok "botocore is installed for $PY (scripts/install-deps: python3-botocore)"
    finish
    exit 1
fi
echo "# botocore $("$PY" -c 'import botocore; print(botocore.__version__)')"

# same_as_botocore NAME GEN-ARGS...: botocore's text output and the tool's must be identical.
same_as_botocore() {
    local name=$1
    shift
    "$PY" "$GEN" "$@" >"$WORK/$name.jsonl" || return 1
    "$PY" "$GEN" "$@" --format=text >"$WORK/$name.botocore" || return 1
    "$TOOL" "$WORK/$name.jsonl" >"$WORK/$name.eic" || return 1
    [ "$(grep -c '^== ' "$WORK/$name.botocore")" -gt 0 ] || return 1
    diff -u "$WORK/$name.botocore" "$WORK/$name.eic"
}

check "vector tool is built" test -x "$TOOL"
check "fixed cases: eic equals live botocore" same_as_botocore fixed
for seed in 1 2 3; do
    check "300 random cases (seed $seed): eic equals live botocore" same_as_botocore "random$seed" --random=300 --seed=$seed
done
check "stored vectors are what this botocore makes" diff -u <(grep -v '^#' "$STORED") <(grep -v '^#' "$WORK/fixed.jsonl")
check "stored vectors have at least 8 cases" test "$(grep -c '^{' "$STORED")" -ge 8

finish
