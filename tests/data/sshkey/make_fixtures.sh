#!/bin/bash
# Regenerate the SSH public key fixtures of this directory with ssh-keygen. Only public keys
# are kept; the private halves are thrown away. Each X.pub (or X.ssh2) has X.fp beside it: the
# output of `ssh-keygen -lf`, which tests/unit/test_sshkey.c compares its fingerprints with.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gen() { # gen NAME ssh-keygen-args...
    local name=$1
    shift
    ssh-keygen -q -N '' -C "$name@eic-test" -f "$tmp/$name" "$@"
    cp "$tmp/$name.pub" "$name.pub"
    ssh-keygen -lf "$name.pub" >"$name.fp"
}

gen ed25519 -t ed25519
gen rsa1024 -t rsa -b 1024
gen rsa2048 -t rsa -b 2048
gen rsa3072 -t rsa -b 3072
gen rsa4096 -t rsa -b 4096
gen ecdsa256 -t ecdsa -b 256
gen ecdsa384 -t ecdsa -b 384
gen ecdsa521 -t ecdsa -b 521

# RFC 4716 exports (ssh-keygen -e), and the fingerprint ssh-keygen reads back from them.
for name in ed25519 rsa2048 rsa4096; do
    ssh-keygen -e -f "$name.pub" >"$name.ssh2"
    ssh-keygen -i -f "$name.ssh2" | ssh-keygen -lf - >"$name.ssh2.fp" # -lf cannot read RFC 4716 itself
done

# A certificate: well-formed, but a type eic does not handle.
ssh-keygen -q -N '' -t ed25519 -f "$tmp/ca"
cp ed25519.pub "$tmp/user.pub"
ssh-keygen -q -s "$tmp/ca" -I eic-test -n alice "$tmp/user.pub"
cp "$tmp/user-cert.pub" ed25519-cert.pub
ssh-keygen -lf ed25519-cert.pub >ed25519-cert.fp

# RFC 4716 with the header forms of its section 3.3: several headers, a quoted Comment split
# over lines by a trailing backslash, a private x- header; ssh-keygen must agree it is valid.
{
    echo '---- BEGIN SSH2 PUBLIC KEY ----'
    echo 'Subject: alice'
    echo 'x-command: /home/me/bin/lock-in-guest.sh'
    echo 'Comment: "This is an example of a comment that is long enough to be split\'
    echo ' over two lines by a backslash, as RFC 4716 allows"'
    sed -e '1,2d' -e '$d' rsa2048.ssh2
    echo '---- END SSH2 PUBLIC KEY ----'
} >rsa2048-headers.ssh2
ssh-keygen -i -f rsa2048-headers.ssh2 | ssh-keygen -lf - >rsa2048-headers.ssh2.fp
