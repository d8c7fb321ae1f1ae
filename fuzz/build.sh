#!/bin/bash
# Build the libFuzzer harnesses (fuzz/fuzz_*.c) with clang, ASan and UBSan into a build
# directory of their own (default fuzz/build; FUZZ_BUILD_DIR overrides it). The main build (gcc,
# in the source tree) is not touched: the sources are compiled here directly.
#   fuzz/build.sh            build every harness
#   fuzz/build.sh NAME...    build only these (e.g. fuzz_config)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=${FUZZ_BUILD_DIR:-$src/fuzz/build}
cc=${FUZZ_CC:-clang}

# Instrumented code: coverage for the fuzzer, every UBSan finding fatal (not just printed); the
# warnings of the main build (less clang's -Wformat-nonliteral on vprintf-style log callbacks,
# which gcc does not flag). The flags that name paths of the tree are given in compile(), quoted:
# the checkout's path may have a space.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all"
# shellcheck disable=SC2089,SC2090 # the quotes of the -D string values are meant literally
cflags="-g -O1 -fno-omit-frame-pointer $sanitize -fsanitize=fuzzer-no-link -Wall -Wextra -Wshadow -Wformat=2
        -Wstrict-prototypes -Wmissing-prototypes -Wno-format-nonliteral -Werror -D_GNU_SOURCE -DPACKAGE_VERSION=\"fuzz\" -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\"
        $(pkg-config --cflags libcurl json-c openssl)"
libs="$(pkg-config --libs libcurl json-c openssl) -lpthread"

# What each harness links besides fuzz_common.c and the common library: the client's or the
# emulator's code but main.c, as the programs and unit tests link it (client/libeic_client.a,
# emulator/libeic_emulator.a in the automake build).
declare -A extra=(
    [fuzz_keyrecords]=""
    [fuzz_signer]=""
    [fuzz_config]=""
    [fuzz_cache]=""
    [fuzz_sigv4]=""
    [fuzz_metadata]=""
    [fuzz_imds]=""
    [fuzz_proto]=""
    [fuzz_emu_request]="emulator"
    [fuzz_ec2_xml]="client"
)
# shellcheck disable=SC2034 # read through ${!extra_libs_var}
extra_libs_fuzz_emu_request="$(pkg-config --libs libmicrohttpd gnutls)"

if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=("${!extra[@]}")
fi

mkdir -p "$out/obj"
# One object per source, rebuilt when any source or header of the tree is newer than it.
compile() { # SRC OBJ
    local obj=$2 dir includes=()
    for dir in "$src"/lib/*/; do includes+=("-I$dir"); done
    if [ ! -f "$obj" ] || [ -n "$(find "$src/$1" "$src/lib" "$src/emulator" "$src/client" "$src/fuzz" \
                                      -name '*.[ch]' -newer "$obj" -print -quit)" ]; then
        mkdir -p "$(dirname "$obj")"
        # shellcheck disable=SC2086,SC2090
        $cc $cflags -DFUZZ_DATA_DIR="\"$src/tests/data\"" "${includes[@]}" -I"$src/emulator" -I"$src/client" \
            -I"$src/fuzz" -c "$src/$1" -o "$obj"
    fi
}
export -f compile
# shellcheck disable=SC2090
export src cc cflags

# archive NAME SRC...: SRC compiled into $out/NAME.a (a harness links only what it uses from it).
archive() {
    local name=$1 s objs=()
    shift
    printf '%s\n' "$@" | xargs -P "$(nproc)" -I{} bash -c 'compile "$1" "$2"' _ {} "$out/obj/{}.o"
    for s in "$@"; do objs+=("$out/obj/$s.o"); done
    rm -f "$out/$name.a"
    ar rcs "$out/$name.a" "${objs[@]}"
}
# Every layer of lib/ in one archive.
archive libeic_fuzz lib/*/*.c
compile fuzz/fuzz_common.c "$out/obj/fuzz/fuzz_common.c.o"
declare -A archived=()

for h in "${harnesses[@]}"; do
    [ -n "${extra[$h]+set}" ] || { echo "build.sh: unknown harness $h" >&2; exit 2; }
    compile "fuzz/$h.c" "$out/obj/fuzz/$h.c.o"
    part=${extra[$h]}
    part_lib=()
    if [ -n "$part" ]; then
        if [ -z "${archived[$part]+set}" ]; then
            srcs=()
            for s in "$part"/*.c; do [ "$s" = "$part/main.c" ] || srcs+=("$s"); done
            archive "lib$part" "${srcs[@]}"
            archived[$part]=1
        fi
        part_lib=("$out/lib$part.a")
    fi
    extra_libs_var="extra_libs_$h"
    # shellcheck disable=SC2086
    $cc $sanitize -fsanitize=fuzzer "$out/obj/fuzz/$h.c.o" "${part_lib[@]}" "$out/obj/fuzz/fuzz_common.c.o" \
        "$out/libeic_fuzz.a" $libs ${!extra_libs_var:-} -o "$out/$h"
    echo "built $out/$h"
done
