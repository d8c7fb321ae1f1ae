#!/bin/bash
# The man pages in man/: each renders without a single warning through man(1) and groff, has the
# sections a reader looks for, and lists exactly what the code accepts — the options of each
# program's --help (eic and each of its commands, eic-emulator, eic-authorized-keys), pam_eic's
# module arguments (pam_eic/pam_args.c), eic.conf's keys (lib/accounts/eic_config.c), the emulator's
# world-file keys (emulator/emu_world.c) and the environment variables the client and nss_eic read — so that a page cannot silently drift from the code.
source "$(dirname "$0")/lib.sh"

MAN_DIR="$TOP/man"
PAGES=(eic.1 eic-emulator.1 eic.conf.5 eic-authorized-keys.8 eicd.8 eic-doctor.8 nss_eic.8 pam_eic.8)
ALIASES=(libnss_eic.8) # ".so manN/PAGE" pages

# tags PAGE: one line per tag of a .TP/.TQ item, "SECTION<TAB>SUBSECTION<TAB>TEXT", the text with
# the macro name, quotes and font escapes removed ("\-" read as "-").
tags() {
    awk '
        function clean(s) {
            sub(/^\.[A-Za-z]+[ \t]*/, "", s)
            gsub(/"/, "", s)
            gsub(/\\-/, "-", s)
            gsub(/\\f[BIRP]/, "", s)
            gsub(/\\&|\\c/, "", s)
            gsub(/\\\(ti/, "~", s)
            return s
        }
        /^\.SH/ { sh = clean($0); ss = ""; next }
        /^\.SS/ { ss = clean($0); next }
        /^\.(TP|TQ)/ { tag = 1; next }
        tag { print sh "\t" ss "\t" clean($0); tag = 0 }
    ' "$MAN_DIR/$1"
}

# options_in_tags SECTION [SUBSECTION]: the first words of the tags that are options (-x, --name),
# sorted, from the tags on stdin; help flags (-h, --help) left out.
options_in_tags() {
    awk -F '\t' -v sh="$1" -v ss="${2-}" '$1 == sh && $2 == ss { split($3, w, " "); print w[1] }' |
        grep -E '^--?[A-Za-z]' | sed -E 's/^(--?[A-Za-z0-9-]*).*/\1/' | grep -vxE -- '-h|--help' | sort -u
}

# options_in_help: the long options (--name) mentioned in a --help text on stdin, --help left out
# (single-dash words there are ssh's or ssh-keygen's options, as in "-- -p 2222").
options_in_help() {
    grep -oE -- '(^|[^A-Za-z0-9-])--[a-z][a-z0-9-]*' | sed -E 's/^[^-]*//' | grep -vx -- '--help' | sort -u
}

# same WHAT EXPECTED ACTUAL: pass when the two sorted lists are equal, else show the difference.
same() {
    if [ "$2" = "$3" ]; then
        return 0
    fi
    echo "$1: '<' only in the code, '>' only in the page"
    diff <(echo "$2") <(echo "$3")
    return 1
}

render_with_man() {
    local err
    err=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$MAN_DIR/$1" 2>&1 >"$WORK/$1.txt")
    [ -z "$err" ] || { echo "$err"; return 1; }
    [ -s "$WORK/$1.txt" ] || { echo "empty output"; return 1; }
}

render_with_groff() {
    local err
    err=$(groff -ww -man -Tutf8 -z "$MAN_DIR/$1" 2>&1)
    [ -z "$err" ] || { echo "$err"; return 1; }
}

has_sections() {
    local page=$1 missing=""
    shift
    for s in "$@"; do
        grep -qx "\.SH $s" "$MAN_DIR/$page" || missing="$missing '$s'"
    done
    [ -z "$missing" ] || { echo "missing sections:$missing"; return 1; }
}

# Every page named in a SEE ALSO exists when it is one of ours (eic*, nss_eic, pam_eic).
see_also_resolves() {
    local refs missing=""
    refs=$(awk '/^\.SH SEE ALSO/ { on = 1; next } /^\.SH/ { on = 0 } on' "$MAN_DIR/$1" |
        sed 's/\\-/-/g' | grep -oE '^\.BR (eic[a-z.-]*|nss_eic|pam_eic) \(([158])\)' | sed -E 's/^\.BR ([^ ]+) \((.)\)/\1.\2/')
    for r in $refs; do
        [ -f "$MAN_DIR/$r" ] || missing="$missing $r"
    done
    [ -z "$missing" ] || { echo "SEE ALSO names missing pages:$missing"; return 1; }
}

# render_alias PAGE: a ".so" page, rendered as man(1) finds it, from a man tree (the request is
# relative to the tree's root), prints its target without a warning.
render_alias() {
    local tree="$WORK/tree" err
    mkdir -p "$tree/man1" "$tree/man5" "$tree/man8"
    for p in "$MAN_DIR"/*.[158]; do
        cp "$p" "$tree/man${p##*.}/"
    done
    err=$(cd "$tree" && LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "man${1##*.}/$1" 2>&1 \
        >"$WORK/$1.txt")
    [ -z "$err" ] || { echo "$err"; return 1; }
    grep -q '^NAME' "$WORK/$1.txt" || { echo "no page rendered"; return 1; }
}

# Every page once at least (the emulator's twice: distributed always, installed with the emulator).
installed_by_automake() {
    local listed
    listed=$(sed -n 's/.*man\/\([^ \\]*\.[158]\).*/\1/p' "$MAN_DIR/Makemodule.am" | sort -u)
    same "man pages in man/Makemodule.am" "$(printf '%s\n' "${PAGES[@]}" "${ALIASES[@]}" | sort)" "$listed" &&
        same "pages in man/" "$(cd "$MAN_DIR" && ls -- *.[158] | sort)" "$listed"
}

for page in "${PAGES[@]}"; do
    check "man --warnings renders $page without a warning" render_with_man "$page"
    check "groff -ww renders $page without a warning" render_with_groff "$page"
    check "$page links only to pages that exist" see_also_resolves "$page"
done
for page in "${ALIASES[@]}"; do
    check "alias $page renders its page without a warning" render_alias "$page"
done
check "man/Makemodule.am installs every page in man/" installed_by_automake

for page in eic.1 eic-emulator.1 eic-authorized-keys.8 eicd.8 eic-doctor.8; do
    check "$page has the sections of a program's page" has_sections "$page" NAME SYNOPSIS DESCRIPTION \
        OPTIONS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"
done
for page in eic.conf.5 nss_eic.8 pam_eic.8; do
    check "$page has its sections" has_sections "$page" NAME SYNOPSIS DESCRIPTION FILES EXAMPLES "SEE ALSO"
done

# ---- the options of the programs, against their --help ----

eic_commands_match() {
    same "eic commands" "$("$EIC_CLIENT" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' | sort)" \
        "$(sed -n 's/^\.SS //p' "$MAN_DIR/eic.1" | sed 's/\\-/-/g' | sort)"
}
check "eic.1 describes exactly the commands of 'eic --help'" eic_commands_match

eic_global_options_match() {
    same "eic options" "$("$EIC_CLIENT" --help | sed -n '/^Options:/,$p' | options_in_help)" \
        "$(tags eic.1 | options_in_tags OPTIONS)"
}
check "eic.1 OPTIONS are those of 'eic --help'" eic_global_options_match

eic_command_options_match() {
    local help
    help=$("$EIC_CLIENT" "$1" --help) || { echo "eic $1 --help failed"; return 1; }
    same "eic $1 options" "$(echo "$help" | options_in_help)" "$(tags eic.1 | options_in_tags COMMANDS "$1")"
}
for cmd in $(sed -n 's/^\.SS //p' "$MAN_DIR/eic.1" | sed 's/\\-/-/g'); do
    check "eic.1 options of '$cmd' are those of 'eic $cmd --help'" eic_command_options_match "$cmd"
done

emulator_options_match() {
    same "eic-emulator options" "$("$EMULATOR" --help | options_in_help)" \
        "$(tags eic-emulator.1 | options_in_tags OPTIONS)"
}
check "eic-emulator.1 OPTIONS are those of 'eic-emulator --help'" emulator_options_match

akc_options_match() {
    # The usage line: "usage: eic-authorized-keys [-c CONFIG] USER [FINGERPRINT]".
    same "eic-authorized-keys options" \
        "$("$EIC_BUILD/authorized_keys/eic-authorized-keys" -h 2>&1 | grep -oE '\[-[A-Za-z]' | tr -d '[' | sort -u)" \
        "$(tags eic-authorized-keys.8 | options_in_tags OPTIONS)"
}
check "eic-authorized-keys.8 OPTIONS are those of its usage" akc_options_match

eicd_options_match() {
    same "eicd options" "$("$EIC_BUILD/eicd/eicd" --help | options_in_help)" \
        "$(tags eicd.8 | options_in_tags OPTIONS | grep -- '^--')"
}
check "eicd.8 OPTIONS are those of 'eicd --help'" eicd_options_match

doctor_options_match() {
    same "eic-doctor options" "$("$EIC_BUILD/doctor/eic-doctor" --help | options_in_help)" \
        "$(tags eic-doctor.8 | options_in_tags OPTIONS)"
}
check "eic-doctor.8 OPTIONS are those of 'eic-doctor --help'" doctor_options_match

# Every check name eic-doctor can print (the second argument of doctor_report) is described.
doctor_checks_documented() {
    local missing=""
    for c in $(grep -ohE 'doctor_report\(d, DOCTOR_[A-Z]+, "[a-z-]+' "$TOP"/doctor/*.c | sed 's/.*"//' | sort -u) \
        $(grep -ohE 'snprintf\(check, sizeof\(check\), "[a-z]+ ' "$TOP"/doctor/*.c | sed -E 's/.*"([a-z]+) /\1/' | sort -u); do
        tags eic-doctor.8 | awk -F '\t' '$1 == "DESCRIPTION" { print $3 }' | grep -qE "(^|, )$c( |,|$)" || missing="$missing $c"
    done
    [ -z "$missing" ] || { echo "checks not described in eic-doctor.8:$missing"; return 1; }
}
check "eic-doctor.8 describes every check eic-doctor reports" doctor_checks_documented

# ---- module arguments, configuration keys, environment, against the source ----

pam_arguments_match() {
    same "pam_eic module arguments" \
        "$(grep -oE 'strn?cmp\(a, "[a-z_]+=?"' "$TOP/pam_eic/pam_args.c" | sed -E 's/.*"([a-z_]+)=?"/\1/' | sort -u)" \
        "$(tags pam_eic.8 | awk -F '\t' '$1 == "OPTIONS" { print $3 }' | sed -E 's/^([a-z_]+).*/\1/' | sort -u)"
}
check "pam_eic.8 OPTIONS are the arguments pam_eic/pam_args.c accepts" pam_arguments_match

config_keys_match() {
    local src="$TOP/lib/accounts/eic_config.c"
    same "eic.conf top-level keys" \
        "$(sed -n '/^static const struct config_key top_keys\[\]/,/^};/p' "$src" | grep -oE 'KEY\([a-z_]+' |
            sed 's/.*(//' | sort -u)" \
        "$(tags eic.conf.5 | awk -F '\t' '$1 == "KEYS" { split($3, w, " "); print w[1] }' | sort -u)" &&
    same "eic.conf [map] keys" \
        "$(sed -n '/^static const struct config_key map_keys\[\]/,/^};/p' "$src" | grep -oE 'RULE_KEY\("[a-z_]+' |
            sed 's/.*"//' | sort -u)" \
        "$(tags eic.conf.5 | awk -F '\t' '$1 == "MAPPING RULES" { split($3, w, " "); print w[1] }' |
            grep -xE '[a-z_]+' | sort -u)"
}
check "eic.conf.5 KEYS and [map] keys are those of lib/accounts/eic_config.c" config_keys_match

# Every key the world-file parser accepts (the keys[] tables of emulator/emu_world.c) is named in
# bold in the page's WORLD FILES section.
world_keys_documented() {
    local documented missing=""
    documented=$(awk '/^\.SH WORLD FILES/ { on = 1; next } /^\.SH/ { on = 0 } on && /^\.(B|BR|RB) /' \
        "$MAN_DIR/eic-emulator.1" | sed 's/\\-/-/g' | tr -d '"' | tr ' ' '\n' | sort -u)
    for key in $(awk '/static const char \*const [a-z_]*keys\[\] = \{/ { on = 1 } on { print } on && /\};/ { on = 0 }' \
        "$TOP/emulator/emu_world.c" | grep -oE '"[a-z_0-9]+"' | tr -d '"' | sort -u); do
        grep -qx -- "$key" <<<"$documented" || missing="$missing $key"
    done
    [ -z "$missing" ] || { echo "world-file keys not in eic-emulator.1:$missing"; return 1; }
}
check "eic-emulator.1 WORLD FILES names every key of emulator/emu_world.c" world_keys_documented

# environment_match PAGE SOURCES...: the variables named in the page's ENVIRONMENT tags are the
# ones the sources read (getenv, secure_getenv, and the client's wrappers of them).
environment_match() {
    local page=$1
    shift
    same "$page environment" \
        "$(grep -ohE '(getenv|nonempty_env|aws_file)\("[A-Z][A-Z0-9_]*"' "$@" | sed -E 's/.*"(.*)"/\1/' | sort -u)" \
        "$(tags "$page" | awk -F '\t' '$1 == "ENVIRONMENT" { print $3 }' | grep -oE '[A-Z][A-Z0-9_]{2,}' | sort -u)"
}
check "eic.1 ENVIRONMENT names the variables client/ reads" environment_match eic.1 "$TOP"/client/*.c
check "nss_eic.8 ENVIRONMENT names the variables nss_eic/ reads" environment_match nss_eic.8 "$TOP"/nss_eic/*.c

finish
