#!/bin/bash
# The dependency rule of lib/ (docs/ARCHITECTURE.md, "Layers"), checked on what was built: which
# layers' code each program and module holds, and which shared libraries it needs. The include
# paths already stop a forbidden #include from compiling (lib/Makemodule.am); this checks what the
# linker pulled in, which is what runs in other people's processes.
#
#   nss_eic, pam_eic, eic-authorized-keys   base and accounts only; libc (and libpam) only
#   eicd, eic-authorized-keys-verify        no aws
#   eic-doctor                              no service, no aws
#   eic, eic-emulator                       no accounts, imds, service
#
# A layer's code is found by name: every global symbol its archive defines; a program built with
# hidden visibility still lists them (as local symbols) in its symbol table, which the build does
# not strip.
. "$(dirname "$0")/lib.sh"

LAYERS="base accounts crypto imds service aws"

# defined LAYER: the functions and data the layer's archive defines, one per line.
defined() {
    nm --defined-only -g "$EIC_BUILD/lib/$1/libeic_$1.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}' | sort -u
}

for layer in $LAYERS; do
    defined "$layer" > "$WORK/$layer.syms"
done

check "every layer's archive is built and defines symbols" \
    bash -c "for l in $LAYERS; do [ -s '$WORK'/\$l.syms ] || { echo \"lib/\$l: nothing\"; exit 1; }; done"

# holds_none PROGRAM LAYER...: PROGRAM has no symbol of these layers (those it has are printed).
holds_none() {
    local program=$1 layer found=""
    shift
    nm "$program" | awk 'NF == 3 {print $3}' | sort -u > "$WORK/program.syms"
    for layer in "$@"; do
        found+=$(comm -12 "$WORK/program.syms" "$WORK/$layer.syms" | sed "s|^|lib/$layer: |")
    done
    [ -z "$found" ] || { echo "$found" | head -20; return 1; }
}

# needs_only PROGRAM LIB...: the NEEDED entries of PROGRAM are exactly these (the ASan build links
# its runtimes into everything).
needs_only() {
    local program=$1 needed
    shift
    needed=$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v -e '^libasan' -e '^libubsan' | sort)
    echo "$needed"
    [ "$needed" = "$(printf '%s\n' "$@" | sort)" ]
}

NSS="$EIC_BUILD/nss_eic/libnss_eic.so.2"
PAM="$EIC_BUILD/pam_eic/pam_eic.so"
AKC="$EIC_BUILD/authorized_keys/eic-authorized-keys"
VERIFY="$EIC_BUILD/authorized_keys/eic-authorized-keys-verify"

for program in "$NSS" "$PAM" "$AKC"; do
    name=${program##*/}
    check "$name holds no code of lib/crypto, lib/imds, lib/service or lib/aws" \
        holds_none "$program" crypto imds service aws
done
check "libnss_eic.so.2 needs libc only" needs_only "$NSS" libc.so.6
check "pam_eic.so needs libc and libpam only" needs_only "$PAM" libc.so.6 libpam.so.0
check "eic-authorized-keys needs libc only" needs_only "$AKC" libc.so.6
# The account cache's writer is eicd's (and its fallback's): the clients only read.
check "the clients hold the cache reader, not its writer" \
    bash -c "nm '$NSS' | grep -q ' eic_cache_open\$' && ! nm '$NSS' '$PAM' '$AKC' | grep -q 'eic_cache_add_users'"
check "eicd holds no code of lib/aws" holds_none "$EIC_BUILD/eicd/eicd" aws
check "eic-authorized-keys-verify holds no code of lib/aws" holds_none "$VERIFY" aws
check "eic-doctor holds no code of lib/service or lib/aws" holds_none "$EIC_BUILD/doctor/eic-doctor" service aws
check "eic holds no code of lib/accounts, lib/imds or lib/service" \
    holds_none "$EIC_BUILD/client/eic" accounts imds service
check "eic-emulator holds no code of lib/accounts, lib/imds or lib/service" \
    holds_none "$EIC_BUILD/emulator/eic-emulator" accounts imds service

# The same rule at the source: a library's files include only headers of the layers below it (the
# include path enforces it when compiling; this names the file that breaks it, and also covers
# headers no file of the build includes).
allowed_for() {
    case $1 in
    base) echo "base" ;;
    accounts) echo "base accounts" ;;
    crypto) echo "base crypto" ;;
    imds) echo "base accounts crypto imds" ;;
    service) echo "base accounts crypto imds service" ;;
    aws) echo "base crypto aws" ;;
    esac
}
includes_follow_the_rule() {
    local layer file header owner bad=""
    for layer in $LAYERS; do
        for file in "$TOP/lib/$layer"/*.[ch]; do
            for header in $(sed -n 's/^#include "\(eic_[a-z0-9_]*\.h\)"/\1/p' "$file"); do
                owner=$(cd "$TOP/lib" && ls -- */"$header" 2>/dev/null | cut -d/ -f1)
                case " $(allowed_for "$layer") " in
                *" $owner "*) ;;
                *) bad+="lib/$layer/${file##*/} includes $header (lib/$owner)"$'\n' ;;
                esac
            done
        done
    done
    [ -z "$bad" ] || { printf '%s' "$bad"; return 1; }
}
check "every file of lib/ includes only headers of the layers it may use" includes_follow_the_rule

finish
