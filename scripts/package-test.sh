#!/usr/bin/env bash
# Tests aisle's Debian packages the way store IT uses them: builds both
# (scripts/package.sh), checks their contents and the arm64 binary's
# architecture, verifies the systemd units, then installs the amd64 package,
# checks the config as the service user, upgrades over it (a changed config
# and the spool survive), removes it (the spool survives) and purges it (the
# spool goes).
#
#   scripts/package-test.sh        (as root, or with sudo; on a machine
#                                   where aisle is not otherwise installed)
#
# scripts/test.sh starts it in the background and waits for it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> package: %s\n' "$*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if dpkg-query -W -f='${Status}' aisle 2>/dev/null | grep -q 'installed'; then
    fail "aisle is already installed here; this test installs and purges it (dpkg -P aisle first, or run it on a CI machine)"
fi

out=target/debian
step "build the amd64 and arm64 packages"
start=$SECONDS
AISLE_DEB_DIR=$out scripts/package.sh amd64
amd64_s=$((SECONDS - start))
start=$SECONDS
AISLE_DEB_DIR=$out scripts/package.sh arm64
arm64_s=$((SECONDS - start))
echo "build time: amd64 ${amd64_s}s, arm64 ${arm64_s}s"

version=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"name":"aisle-agent","version":"\([^"]*\)".*/\1/p')
amd64_deb=$out/aisle_${version}_amd64.deb
arm64_deb=$out/aisle_${version}_arm64.deb

step "package metadata and contents"
for pair in "$amd64_deb amd64" "$arm64_deb arm64"; do
    set -- $pair
    deb=$1 arch=$2
    [ -f "$deb" ] || fail "$deb was not built"
    [ "$(dpkg-deb -f "$deb" Package)" = aisle ] || fail "$deb: Package is not aisle"
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb: Architecture is not $arch"
    [ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "$deb: Version is not $version"
    depends=$(dpkg-deb -f "$deb" Depends)
    grep -q adduser <<<"$depends" || fail "$deb: does not depend on adduser"
    conffiles=$(dpkg-deb -I "$deb" conffiles)
    for conf in /etc/aisle/store.toml /etc/aisle/hq.env; do
        grep -qx "$conf" <<<"$conffiles" || fail "$deb: $conf is not a conffile"
    done
    contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
    for path in ./usr/bin/aisle ./etc/aisle/store.toml ./etc/aisle/hq.env \
        ./usr/share/doc/aisle/README.md ./usr/share/doc/aisle/gateway.md \
        ./usr/share/doc/aisle/hq.md ./usr/share/doc/aisle/examples/mosquitto/aisle.acl; do
        grep -qx "$path" <<<"$contents" || fail "$deb: $path missing"
    done
    for unit in aisle-gateway.service aisle-hq.service; do
        grep -Eq "^\./(usr/)?lib/systemd/system/$unit\$" <<<"$contents" || fail "$deb: $unit missing"
    done
    echo "ok: $deb"
done

step "each package's binary is built for its architecture"
# e_machine, the ELF header's bytes 18-19 (little-endian): 0x3e x86-64,
# 0xb7 AArch64.
for pair in "$amd64_deb 3e00" "$arm64_deb b700"; do
    set -- $pair
    deb=$1 machine=$2
    tmp=$(mktemp -d)
    dpkg-deb -x "$deb" "$tmp"
    got=$(od -An -tx1 -j18 -N2 "$tmp/usr/bin/aisle" | tr -d ' \n')
    # The newest glibc symbol version the binary needs must be covered by
    # the package's libc6 dependency.
    needs=$(readelf -V --wide "$tmp/usr/bin/aisle" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    rm -rf "$tmp"
    [ "$got" = "$machine" ] || fail "$deb: /usr/bin/aisle has ELF machine $got, want $machine"
    declared=$(dpkg-deb -f "$deb" Depends | sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p')
    [ -n "$declared" ] || fail "$deb: no libc6 version in Depends"
    dpkg --compare-versions "$declared" ge "$needs" \
        || fail "$deb: the binary needs glibc $needs but the package depends on libc6 >= $declared"
    echo "ok: $deb holds an ELF binary for machine 0x${machine:0:2}, needing glibc $needs (depends on >= $declared)"
done

step "install"
as_root dpkg -i "$amd64_deb" </dev/null
[ -x /usr/bin/aisle ] || fail "/usr/bin/aisle not installed"
/usr/bin/aisle --version
/usr/bin/aisle demo --help >/dev/null 2>&1 && fail "the packaged binary has the demo (built with default features)"
id -nG aisle | tr ' ' '\n' | grep -qx dialout || fail "user aisle is not in dialout"
[ "$(stat -c %U /var/lib/aisle)" = aisle ] || fail "/var/lib/aisle is not owned by aisle"

units=$(dpkg -L aisle | grep -E '/systemd/system/aisle-(gateway|hq)\.service$')
if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify"
    # Unknown keys and bad values are only warnings to systemd-analyze:
    # any output at all fails the test.
    # shellcheck disable=SC2086
    complaints=$(as_root systemd-analyze verify $units 2>&1) || fail "systemd-analyze verify: $complaints"
    [ -z "$complaints" ] || fail "systemd-analyze verify: $complaints"
    echo "ok: units verified"
else
    echo "systemd-analyze not available: unit verification skipped"
fi

step "the shipped config passes check-config as the service user"
as_root runuser -u aisle -- /usr/bin/aisle check-config /etc/aisle/store.toml

step "upgrade over itself keeps a changed config and the spool"
as_root sed -i 's/^status_interval_s = .*/status_interval_s = 17/' /etc/aisle/store.toml
grep -qx 'status_interval_s = 17' /etc/aisle/store.toml || fail "could not change the config"
as_root runuser -u aisle -- sh -c 'echo spooled-event > /var/lib/aisle/spool.sqlite'
as_root dpkg -i "$amd64_deb" </dev/null
grep -qx 'status_interval_s = 17' /etc/aisle/store.toml || fail "upgrade replaced the changed config"
[ "$(cat /var/lib/aisle/spool.sqlite)" = spooled-event ] || fail "upgrade lost the spool"
as_root runuser -u aisle -- /usr/bin/aisle check-config /etc/aisle/store.toml
echo "ok: config and spool kept"

step "remove keeps the spool and the config"
as_root dpkg -r aisle </dev/null
[ -e /usr/bin/aisle ] && fail "remove left /usr/bin/aisle"
[ -f /var/lib/aisle/spool.sqlite ] || fail "remove deleted the spool"
[ -f /etc/aisle/store.toml ] || fail "remove deleted the config"
echo "ok: spool and config kept"

step "purge deletes the spool and the config"
as_root dpkg -P aisle </dev/null
[ -e /var/lib/aisle ] && fail "purge left /var/lib/aisle"
[ -e /etc/aisle/store.toml ] && fail "purge left /etc/aisle/store.toml"
echo "ok: purged"

echo
echo "package-test: OK (build time: amd64 ${amd64_s}s, arm64 ${arm64_s}s)"
