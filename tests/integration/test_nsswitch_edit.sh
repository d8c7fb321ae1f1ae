#!/bin/bash
# The package's nsswitch.conf edit (debian/maint-functions.sh, run by postinst and prerm) on the
# files distributions and administrators write: eic goes last on the passwd, group and
# initgroups lines and nowhere else, a second run changes nothing, and taking it out again gives
# back the file byte for byte. test_package runs the same functions inside a Debian root.
source "$(dirname "$0")/lib.sh"

# shellcheck source=../../debian/maint-functions.sh
source "$TOP/debian/maint-functions.sh"
NSSWITCH=$WORK/nsswitch.conf

# edits IN EXPECTED: add_nsswitch_entries turns IN into EXPECTED, is idempotent, and
# remove_nsswitch_entries turns EXPECTED back into IN.
edits() {
    printf '%s' "$1" >"$NSSWITCH"
    chmod 0644 "$NSSWITCH"
    add_nsswitch_entries
    diff <(printf '%s' "$2") "$NSSWITCH" || return 1
    add_nsswitch_entries
    diff <(printf '%s' "$2") "$NSSWITCH" || return 1
    [ "$(stat -c %a "$NSSWITCH")" = 644 ] || return 1
    remove_nsswitch_entries
    diff <(printf '%s' "$1") "$NSSWITCH" && [ ! -e "$NSSWITCH.eic-tmp" ]
}

DEBIAN='# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.

passwd:         files systemd
group:          files systemd
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files
'
check "Debian 12: eic after systemd on passwd and group, nothing else changed" \
    edits "$DEBIAN" "${DEBIAN//files systemd/files systemd eic}"

AUTHSELECT='passwd:     files sss systemd
group:      files sss systemd
initgroups: files sss
netgroup:   sss files
shadow:     files sss
'
check "SSSD (authselect): eic after sss and systemd, on initgroups too; netgroup and shadow untouched" edits \
    "$AUTHSELECT" 'passwd:     files sss systemd eic
group:      files sss systemd eic
initgroups: files sss eic
netgroup:   sss files
shadow:     files sss
'

check "compat and winbind" edits $'passwd: compat winbind\ngroup: compat winbind\n' \
    $'passwd: compat winbind eic\ngroup: compat winbind eic\n'

check "a trailing comment and trailing blanks stay where they were" edits \
    $'passwd: files ldap # directory last\ngroup:\tfiles ldap   \n' \
    $'passwd: files ldap eic # directory last\ngroup:\tfiles ldap eic   \n'

check "an action after the last source keeps applying to it" edits \
    $'passwd: files ldap [UNAVAIL=return]\n' $'passwd: files ldap [UNAVAIL=return] eic\n'

check "lines with no source, comments and look-alike names are left alone" edits \
    $'passwd:\n#group: files\npasswd_compat: nis\n' $'passwd:\n#group: files\npasswd_compat: nis\n'

check "no final newline" edits 'passwd: files' 'passwd: files eic'

already_named() {
    printf 'passwd: files eic systemd\ngroup: files systemd eic\n' >"$NSSWITCH"
    add_nsswitch_entries
    [ "$(cat "$NSSWITCH")" = $'passwd: files eic systemd\ngroup: files systemd eic' ] || return 1
    remove_nsswitch_entries
    [ "$(cat "$NSSWITCH")" = $'passwd: files systemd\ngroup: files systemd' ]
}
check "a line that names eic already is kept as the administrator wrote it; removal takes eic out" already_named

no_file() {
    rm -f "$NSSWITCH"
    add_nsswitch_entries && remove_nsswitch_entries && [ ! -e "$NSSWITCH" ] && [ ! -e "$NSSWITCH.eic-tmp" ]
}
check "no nsswitch.conf: nothing is created" no_file

finish
