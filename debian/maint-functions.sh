# Shell functions shared by eic's postinst and prerm (sourced; installed as
# /usr/share/eic/maint-functions.sh, present whenever either script runs). docs/PACKAGING.md.

SSHD_DROPIN=/etc/ssh/sshd_config.d/eic.conf
SSHD_TEMPLATE=/usr/share/eic/sshd_config.d/eic.conf
NSSWITCH=/etc/nsswitch.conf

# Is an AuthorizedKeysCommand other than eic's configured? sshd's own view when it can give one
# (Include, first match wins), else the files. A second AuthorizedKeysCommand placed before the
# administrator's would silently replace it, so any doubt counts as "yes".
other_akc_configured() {
    if effective=$(/usr/sbin/sshd -T 2>/dev/null); then
        printf '%s\n' "$effective" | grep -qiE '^authorizedkeyscommand[[:space:]]+none$' && return 1
        return 0
    fi
    grep -hiE '^[[:space:]]*AuthorizedKeysCommand[[:space:]]+[^[:space:]]' \
        /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf 2>/dev/null |
        grep -qviE '^[[:space:]]*AuthorizedKeysCommand[[:space:]]+none[[:space:]]*$'
}

# The AuthorizedKeysCommand sshd uses ($1 = authorizedkeyscommand) or its user ($1 =
# authorizedkeyscommanduser), as sshd -T says, else from the files in the order sshd reads them
# (Debian's sshd_config includes the drop-ins first). Empty when none.
sshd_setting() {
    if effective=$(/usr/sbin/sshd -T 2>/dev/null); then
        printf '%s\n' "$effective" | sed -n "s/^$1[[:space:]]\{1,\}//p" | head -n 1
        return 0
    fi
    cat /etc/ssh/sshd_config.d/*.conf /etc/ssh/sshd_config 2>/dev/null |
        sed -n "s/^[[:space:]]*$1[[:space:]]\{1,\}//Ip" | head -n 1
}

# Does /etc/eic/eic.conf chain the command $1 (a "chain_command = $1" line, blanks aside)?
chain_configured() {
    want=$(printf '%s' "$1" | tr -s '\t ' '  ')
    sed -n 's/^[[:space:]]*chain_command[[:space:]]*=[[:space:]]*//p' /etc/eic/eic.conf 2>/dev/null |
        tr -s '\t ' '  ' | sed 's/[[:space:]]*$//' | grep -qxF -- "$want"
}

# Replace nsswitch.conf with $NSSWITCH.eic-tmp when they differ, atomically (every process on the
# machine reads it) and with the same owner and mode.
replace_nsswitch() {
    if cmp -s "$NSSWITCH" "$NSSWITCH.eic-tmp"; then
        rm -f "$NSSWITCH.eic-tmp"
        return 0
    fi
    chmod --reference="$NSSWITCH" "$NSSWITCH.eic-tmp"
    chown --reference="$NSSWITCH" "$NSSWITCH.eic-tmp"
    mv -f "$NSSWITCH.eic-tmp" "$NSSWITCH"
}

# "eic" last on the passwd and group lines, and on an initgroups line where the file has one:
# every other source (files, systemd, sss, ldap, winbind) answers first, so a name any of them
# knows is never given a second, IAM-mapped account by eic, and their lookups never wait for IMDS.
# Before a trailing comment; lines that name eic already, or no source at all (glibc's default
# applies to those), are left as they are.
add_nsswitch_entries() {
    [ -f "$NSSWITCH" ] || return 0
    sed -E -e '/^(passwd|group|initgroups):/{' \
        -e '/[[:space:]:]eic([[:space:]#]|$)/b' \
        -e 's/^([a-z]+:[^#]*[^#[:space:]:])([[:space:]]*(#.*)?)$/\1 eic\2/' \
        -e '}' "$NSSWITCH" >"$NSSWITCH.eic-tmp"
    replace_nsswitch
}

# The exact inverse of add_nsswitch_entries: the file is byte-identical to what it was before.
remove_nsswitch_entries() {
    [ -f "$NSSWITCH" ] || return 0
    sed -E '/^(passwd|group|initgroups):/s/[[:space:]]+eic([[:space:]#]|$)/\1/' "$NSSWITCH" >"$NSSWITCH.eic-tmp"
    replace_nsswitch
}

# Only a running sshd is told; invoke-rc.d honours policy-rc.d (chroots, image builds).
reload_sshd() {
    if [ -d /run/systemd/system ]; then
        systemctl is-active --quiet ssh.service || return 0
    elif [ ! -x /etc/init.d/ssh ] || ! /etc/init.d/ssh status >/dev/null 2>&1; then
        return 0
    fi
    invoke-rc.d --quiet ssh reload || true
}
