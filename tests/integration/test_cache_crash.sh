#!/bin/bash
# Crash safety of the account cache writer (issue #7.4): writers killed with SIGKILL at chosen
# points (strace's syscall fault injection: the kill lands as the writer enters that system call)
# and at 1000 random points; after each, tests/tools/cache_crash checks that the cache opens and
# verifies, holds every account committed before with its UID, holds the new one wholly or not at
# all, that temp files do not accumulate and that the lock is free.
source "$(dirname "$0")/lib.sh"

DRIVER="$EIC_BUILD/tests/tools/cache_crash"
CACHE="$WORK/cache"
RANDOM_KILLS=${RANDOM_KILLS:-1000}
SEED=${SEED:-$$}
echo "# random kill times from seed $SEED (SEED=$SEED $0 repeats them)"

# killed_at SYSCALL N EXPECT: a writer adding a new account is killed when it enters the Nth call
# of SYSCALL; EXPECT is what the cache must then say about the account ("committed" or "not
# written") and how many temp files are left.
killed_at() {
    local name="at_$1_$2" rc out
    strace -qq -o /dev/null -e trace="$1" -e inject="$1:signal=KILL:when=$2" "$DRIVER" add "$CACHE" "$name"
    rc=$?
    [ "$rc" -eq 137 ] || { echo "the writer was not killed (exit $rc)"; return 1; }
    out=$("$DRIVER" check "$CACHE" "$name") || { echo "$out"; return 1; }
    echo "$out"
    [ "$out" = "$name $3" ] || { echo "want: $name $3"; return 1; }
}

# An account committed first, so that every kill below has something to lose.
check "a first account is written" "$DRIVER" add "$CACHE" first
check "and is committed" bash -c "'$DRIVER' check '$CACHE' first | grep -qx 'first committed, 0 temp file(s)'"
check "killed taking the lock: old version, nothing left" killed_at flock 1 "not written, 0 temp file(s)"
check "killed after creating the temp file: old version, the temp file left" killed_at fchmod 1 \
    "not written, 1 temp file(s)"
check "killed at the file's fsync: old version; the previous temp file was removed" killed_at fsync 1 \
    "not written, 1 temp file(s)"
check "killed at the rename: old version" killed_at rename 1 "not written, 1 temp file(s)"
check "killed at the directory's fsync (after the rename): new version, no temp file" killed_at fsync 2 \
    "committed, 0 temp file(s)"
check "$RANDOM_KILLS writers killed at random times: always the old or the new version, nothing lost" \
    "$DRIVER" random "$CACHE" "$RANDOM_KILLS" "$SEED"
sed 's/^/# /' "$WORK/last.out"
check "a writer after all that leaves no temp file" bash -c \
    "'$DRIVER' add '$CACHE' last && '$DRIVER' check '$CACHE' last | grep -qx 'last committed, 0 temp file(s)'"
finish
