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

# What each harness links besides fuzz_common.c and the common library.
declare -A extra=(
    [fuzz_keyrecords]=""
    [fuzz_signer]=""
    [fuzz_config]=""
    [fuzz_cache]=""
    [fuzz_sigv4]=""
    [fuzz_metadata]=""
    [fuzz_imds]=""
    [fuzz_proto]=""
    [fuzz_emu_request]="emulator/emu_http.c emulator/emu_imds.c emulator/emu_push.c emulator/emu_ec2.c
                        emulator/emu_server.c emulator/emu_world.c emulator/emu_pki.c emulator/emu_records.c
                        emulator/emu_fault.c emulator/emu_tunnel.c emulator/emu_sessions.c emulator/emu_creds.c emulator/emu_sts.c emulator/emu_sso.c"
    [fuzz_ec2_xml]="client/ec2.c client/api.c client/args.c client/http.c client/credentials.c client/cred_source.c client/cred_process.c client/cred_metadata.c client/cred_sts.c client/cred_sso.c"
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
    local obj=$2
    if [ ! -f "$obj" ] || [ -n "$(find "$src/$1" "$src/lib" "$src/emulator" "$src/client" "$src/fuzz" \
                                      -name '*.[ch]' -newer "$obj" -print -quit)" ]; then
        mkdir -p "$(dirname "$obj")"
        # shellcheck disable=SC2086,SC2090
        $cc $cflags -DFUZZ_DATA_DIR="\"$src/tests/data\"" $(printf -- '-I%s ' "$src"/lib/*/) -I"$src/emulator" -I"$src/client" \
            -I"$src/fuzz" -c "$src/$1" -o "$obj"
    fi
}
export -f compile
# shellcheck disable=SC2090
export src cc cflags

# Every layer of lib/ in one archive.
common_srcs=(lib/*/*.c)
printf '%s\n' "${common_srcs[@]}" fuzz/fuzz_common.c |
    xargs -P "$(nproc)" -I{} bash -c 'compile "$1" "$2"' _ {} "$out/obj/{}.o"
common_objs=()
for s in "${common_srcs[@]}"; do common_objs+=("$out/obj/$s.o"); done
rm -f "$out/libeic_fuzz.a"
ar rcs "$out/libeic_fuzz.a" "${common_objs[@]}"

for h in "${harnesses[@]}"; do
    [ -n "${extra[$h]+set}" ] || { echo "build.sh: unknown harness $h" >&2; exit 2; }
    objs=()
    # shellcheck disable=SC2086
    for s in fuzz/$h.c ${extra[$h]}; do
        compile "$s" "$out/obj/$s.o"
        objs+=("$out/obj/$s.o")
    done
    extra_libs_var="extra_libs_$h"
    # shellcheck disable=SC2086
    $cc $sanitize -fsanitize=fuzzer "${objs[@]}" "$out/obj/fuzz/fuzz_common.c.o" "$out/libeic_fuzz.a" \
        $libs ${!extra_libs_var:-} -o "$out/$h"
    echo "built $out/$h"
done
