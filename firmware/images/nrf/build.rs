//! Picks the chip from the target: thumbv6m builds for the nRF51822 (Cortex-M0),
//! thumbv7em for the nRF52832 (Cortex-M4F). Writes its memory.x, keeping the
//! last flash pages (boot counter, config page) out of the linker's reach,
//! and sets `cfg(nrf51)` / `cfg(nrf52)`.

use std::{env, fs, path::PathBuf};

struct Chip {
    cfg: &'static str,
    flash_kib: u32,
    ram_kib: u32,
    page: u32,
}

const NRF51: Chip = Chip {
    cfg: "nrf51",
    flash_kib: 256,
    ram_kib: 16,
    page: 1024,
};
const NRF52: Chip = Chip {
    cfg: "nrf52",
    flash_kib: 512,
    ram_kib: 64,
    page: 4096,
};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let chip = if target.starts_with("thumbv6m") {
        NRF51
    } else {
        NRF52
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Three pages at the end of flash: two boot-counter pages, then the
    // config page (see src/layout.rs).
    let flash = chip.flash_kib * 1024 - 3 * chip.page;
    let memory = format!(
        "MEMORY\n{{\n  FLASH : ORIGIN = 0x00000000, LENGTH = {flash}\n  RAM : ORIGIN = 0x20000000, LENGTH = {}K\n}}\n",
        chip.ram_kib
    );
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-check-cfg=cfg(nrf51)");
    println!("cargo:rustc-check-cfg=cfg(nrf52)");
    println!("cargo:rustc-cfg={}", chip.cfg);
    println!("cargo:rerun-if-changed=build.rs");
}
