#!/usr/bin/env bash
# Runs aisle's whole test suite on a fresh machine: installs what the tests
# need when it is missing (Mosquitto, socat, QEMU, OpenSSL, promtool, ClickHouse,
# Chromium and chromedriver with a Chinese font for the dashboard's pages; the
# Cortex-M Rust targets), then the cross builds, the firmware images, the
# Debian packages (scripts/package-test.sh, in the background) and every
# test.
#
#   scripts/test.sh            everything (what CI runs)
#
# Safe to run repeatedly: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

step "system packages"
missing=()
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
command -v socat >/dev/null || missing+=(socat)
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v openssl >/dev/null || missing+=(openssl)
# promtool lints the gateway's and HQ's Prometheus metrics and alert rules.
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
# The dashboard's browser tests: Debian's own Chromium and its driver, never
# a downloaded browser; a CJK font so the zh-CN screenshots are readable.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
# The package test: adduser for the package's user, readelf for its binaries.
command -v adduser >/dev/null || missing+=(adduser)
command -v readelf >/dev/null || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "present: mosquitto mosquitto-clients socat qemu-system-arm openssl prometheus clickhouse-server clickhouse-client chromium chromium-driver fonts-wqy-microhei adduser binutils"
fi

step "rust targets"
for target in thumbv6m-none-eabi thumbv7em-none-eabihf; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools

step "Debian packages: started in the background, waited for at the end"
# A release build per architecture (the arm64 one cross-compiled) takes
# minutes; it runs beside the tests, niced, in its own target/release
# directories, so it adds little to the suite's wall time.
mkdir -p target
package_log=target/package-test.log
nice -n 10 scripts/package-test.sh >"$package_log" 2>&1 &
package_pid=$!
# Never leave dpkg half-way: if a later step fails, wait for the package
# test before exiting.
trap 'wait "$package_pid" 2>/dev/null || true' EXIT
echo "scripts/package-test.sh is running (log: $package_log)"

step "protocol builds no_std for the tags' MCUs"
for target in thumbv6m-none-eabi thumbv7em-none-eabihf; do
    cargo build -q -p aisle-protocol --no-default-features --target "$target"
    cargo build -q -p aisle-firmware --target "$target"
    echo "ok: protocol + firmware library for $target"
done

step "firmware images (sizes and budget)"
scripts/firmware.sh

step "gateway package without the demo's embedded broker"
cargo build -q -p aisle-agent --no-default-features
echo "ok: aisle builds with --no-default-features"

step "protocol without std (the tags' CRC and COBS paths) on the host"
cargo test -q -p aisle-protocol --no-default-features --lib

step "workspace tests"
cargo build -q --workspace --all-targets
cargo test --workspace --no-fail-fast

step "Debian packages (scripts/package-test.sh)"
if wait "$package_pid"; then
    grep -E '^(ok:|build time|package-test)' "$package_log"
else
    cat "$package_log"
    echo "scripts/package-test.sh failed (log above)"
    exit 1
fi
