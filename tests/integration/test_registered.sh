#!/bin/bash
# Every test in the tree is one that `make check` runs: a tests/unit/test_*.c or a
# tests/integration/test_*.sh that no Makemodule registers (UNIT_TESTS, INTEGRATION_TESTS) would
# never run and never fail (docs/TESTING.md, "To add a test").
. "$(dirname "$0")/lib.sh"

# Not the TESTS of a `make check TESTS=...` that runs this script (its MAKEFLAGS carry it).
listed=" $(MAKEFLAGS= make -s -C "$EIC_BUILD" list-tests) "
registered() { # registered DIR SUFFIX: every DIR/test_*SUFFIX of the source tree is in TESTS
    local f t missing=0
    for f in "$TOP/$1"/test_*"$2"; do
        t=$1/$(basename "$f" "$2")
        [ "$2" = .sh ] && t=$t.sh
        case "$listed" in
        *" $t "*) ;;
        *)
            echo "not in TESTS: $t"
            missing=1
            ;;
        esac
    done
    return "$missing"
}
check "every unit test program is registered (UNIT_TESTS)" registered tests/unit .c
check "every integration script is registered (INTEGRATION_TESTS)" registered tests/integration .sh
finish
