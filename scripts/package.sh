#!/usr/bin/env bash
# Builds aisle's Debian packages with cargo-deb (metadata in
# agent/Cargo.toml, units and maintainer scripts in agent/debian/):
#
#   scripts/package.sh                  amd64 and arm64
#   scripts/package.sh amd64            one architecture
#   AISLE_DEB_DIR=out scripts/package.sh   where the .deb files go
#                                          (default target/debian)
#
# The binary is a release build without the demo's embedded broker. arm64
# is cross-compiled with Debian's gcc-aarch64-linux-gnu (linker, and C
# compiler for the bundled SQLite and ring); the cross tools are set in this
# script's environment only, so no other build is affected. Installs
# cargo-deb, the Rust target and the cross compiler when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so every machine builds the same package layout.
CARGO_DEB_VERSION=3.8.0
ARM64_TARGET=aarch64-unknown-linux-gnu
out=${AISLE_DEB_DIR:-target/debian}
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$(cargo deb --version 2>/dev/null || true)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

version=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"name":"aisle-agent","version":"\([^"]*\)".*/\1/p')
[ -n "$version" ] || { echo "package.sh: cannot read aisle-agent's version" >&2; exit 1; }

mkdir -p "$out"
for arch in "${arches[@]}"; do
    case "$arch" in
    amd64)
        cargo deb -p aisle-agent --locked -o "$out/aisle_${version}_amd64.deb"
        ;;
    arm64)
        rustup target list --installed | grep -qx "$ARM64_TARGET" || rustup target add "$ARM64_TARGET"
        if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                gcc-aarch64-linux-gnu libc6-dev-arm64-cross
        fi
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
        AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
            cargo deb -p aisle-agent --locked --target "$ARM64_TARGET" \
            -o "$out/aisle_${version}_arm64.deb"
        ;;
    *)
        echo "package.sh: unknown architecture '$arch' (amd64 or arm64)" >&2
        exit 2
        ;;
    esac
    echo "built $out/aisle_${version}_${arch}.deb"
done
