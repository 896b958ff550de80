#!/usr/bin/env bash
# Builds every tag firmware image, prints their sizes and checks the
# Cortex-M0+ budget (text + rodata <= 16 KiB, .data + .bss <= 4 KiB).
# Exits non-zero if a build fails or the budget is exceeded.
#
# Images (ELF files, under target/images/<target>/release/):
#   aisle-tag       thumbv6m-none-eabi     nRF51 (Cortex-M0/M0+ class), budgeted
#   aisle-tag       thumbv7em-none-eabihf  nRF52 (Cortex-M4F)
#   aisle-tag-qemu  thumbv6m-none-eabi     QEMU lm3s6965evb, used by
#                                          tests/tests/firmware_qemu.rs
#
# Needs the two Rust targets (rustup target add thumbv6m-none-eabi
# thumbv7em-none-eabihf) and llvm-size (apt-get install llvm, or rustup
# component add llvm-tools); GNU size works too.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
images="$root/target/images"
text_budget=$((16 * 1024))
ram_budget=$((4 * 1024))

find_size_tool() {
    if command -v llvm-size >/dev/null; then
        echo llvm-size
        return
    fi
    local sysroot tool
    sysroot="$(rustc --print sysroot)"
    for tool in "$sysroot"/lib/rustlib/*/bin/llvm-size; do
        if [[ -x "$tool" ]]; then
            echo "$tool"
            return
        fi
    done
    if command -v size >/dev/null; then
        echo size
        return
    fi
    echo "firmware.sh: no llvm-size or size found: apt-get install llvm (or rustup component add llvm-tools)" >&2
    exit 1
}

build() {
    local crate="$1" target="$2"
    echo "firmware.sh: building $crate for $target" >&2
    (cd "$root/firmware/images/$crate" && cargo build --release --target "$target")
}

# Prints "flash ram" in bytes for an ELF: flash = vector table + text +
# rodata, ram = data + bss, from the section table (`size -A` format).
measure() {
    "$size_tool" -A "$1" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" || $1 == ".bss" { ram += $2 }
        END { print flash + 0, ram + 0 }'
}

size_tool="$(find_size_tool)"
build nrf thumbv6m-none-eabi
build nrf thumbv7em-none-eabihf
build qemu thumbv6m-none-eabi

status=0
printf '%-24s %-22s %10s %10s\n' image target "text+ro" "data+bss"
for entry in \
    "aisle-tag thumbv6m-none-eabi budget" \
    "aisle-tag thumbv7em-none-eabihf -" \
    "aisle-tag-qemu thumbv6m-none-eabi -"; do
    read -r name target budgeted <<<"$entry"
    elf="$images/$target/release/$name"
    read -r flash ram < <(measure "$elf")
    printf '%-24s %-22s %10d %10d\n' "$name" "$target" "$flash" "$ram"
    if [[ "$budgeted" == budget ]]; then
        if ((flash > text_budget)); then
            echo "firmware.sh: $name ($target) text+rodata is $flash bytes, over the $text_budget-byte budget" >&2
            status=1
        fi
        if ((ram > ram_budget)); then
            echo "firmware.sh: $name ($target) .data+.bss is $ram bytes, over the $ram_budget-byte budget" >&2
            status=1
        fi
    fi
done
if ((status == 0)); then
    echo "firmware.sh: thumbv6m image within budget (text+rodata <= $text_budget, data+bss <= $ram_budget)"
fi
exit "$status"
