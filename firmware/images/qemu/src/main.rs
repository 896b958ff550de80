//! aisle tag firmware on QEMU's lm3s6965evb, for system tests.
//!
//! The same [`Shell`] main loop as on a real tag, on a board whose
//! accelerometer plays a scripted trace (see [`trace`]) in virtual time and
//! whose radio link is UART0. Virtual time jumps from one deadline or sample
//! to the next, so a 40 s scenario runs in a moment and deterministically.
//! The image exits through semihosting: success at the end of the trace,
//! failure on a panic, so a firmware panic fails the test that runs it.
//!
//! While the garment hangs still the board sleeps through the trace on a
//! modelled wake-on-motion interrupt, as the nRF board does, so the test
//! also covers waking up and judging a pickup on the samples that follow.
//!
//! Nobody acks over the UART (it is written to a file), so the test also
//! sees the outbox retransmit with backoff and fresh `age_ms`. Downlinks come
//! from a scripted gateway (see [`gateway`]): halfway through, a `Configure`
//! shortens the heartbeat period; the image checks at the end that the new
//! config was persisted to its (RAM-backed) config page.
//!
//! The downlinks go through the protocol crate's no_std COBS decode, the
//! same path the nRF image runs on an ARMv6-M core.
#![no_std]
#![no_main]

mod gateway;
// The nRF image's byte-loop memory routines, so the QEMU runs exercise them.
#[path = "../../nrf/src/mem.rs"]
mod mem;
mod trace;
mod uart;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use firmware::{
    Board, BootCounter, BootInfo, Config, EntranceSettings, Input, PickupTuning, RamFlash, Role,
    Shell, Tag,
};
use protocol::{ConfigStatus, EpcBytes, ResetReason, Settings};

/// The tag this image is provisioned as. The system test expects these.
const TAG_ID: u32 = 0x00A1_5E01;
const GARMENT_EPC: [u8; 12] = [
    0x30, 0x14, 0x1D, 0x8A, 0x0C, 0x00, 0x02, 0x80, 0x00, 0x00, 0x30, 0x39,
];
/// Heartbeats every 10 s so a 40 s run shows several.
const HEARTBEAT_S: u32 = 10;
const BATTERY_MV: u16 = 3_000;

/// Emulated flash: two boot-counter pages, then the config page.
const PAGE: usize = 1024;
type Flash = RamFlash<{ 4 * PAGE }, PAGE>;
const BOOT_COUNTER: BootCounter = BootCounter::new(0, PAGE as u32);
const CONFIG_OFFSET: u32 = 2 * PAGE as u32;

/// The wake-on-motion threshold the LIS2DH12 driver arms for the default
/// 150 mg pickup threshold (rounded up to its 16 mg steps).
const WAKE_THRESHOLD_MG: i32 = 160;

/// Outbox capacity, as on the Cortex-M0+ production image.
const OUTBOX_LEN: usize = 16;

struct QemuBoard {
    now: u64,
    accel: trace::Accelerometer,
    flash: Flash,
    gateway: gateway::ScriptedGateway,
}

impl Board for QemuBoard {
    fn now_ms(&mut self) -> u64 {
        self.now
    }

    fn transmit(&mut self, frame: &[u8]) {
        uart::write(frame);
    }

    fn receive(&mut self, buf: &mut [u8]) -> usize {
        match uart::read(buf) {
            0 => self.gateway.receive(self.now, buf),
            n => n,
        }
    }

    fn sense(&mut self, now_ms: u64) -> Option<Input> {
        self.accel.sample(now_ms).map(Input::Accel)
    }

    fn battery_mv(&mut self) -> u16 {
        BATTERY_MV
    }

    /// The evaluation board's LED is not emulated.
    fn set_led(&mut self, _on: bool) {}

    fn store_config(&mut self, config: &Config) {
        if config.store(&mut self.flash, CONFIG_OFFSET).is_err() {
            fail("config page could not be stored");
        }
    }

    fn sleep_until(&mut self, deadline_ms: u64, motion_resting: bool) {
        // As on the nRF board: while the garment hangs still the MCU sleeps
        // on the accelerometer's wake-on-motion interrupt; otherwise the
        // next 25 Hz sample ends the sleep.
        let deadline_ms = self
            .gateway
            .next_at()
            .map_or(deadline_ms, |at| at.min(deadline_ms));
        let wake = if motion_resting {
            let motion = self.accel.wake_on_motion(deadline_ms, WAKE_THRESHOLD_MG);
            motion.map_or(deadline_ms, |at| at.min(deadline_ms))
        } else {
            deadline_ms.min(self.accel.next_sample_at())
        };
        self.now = self.now.max(wake);
    }
}

#[entry]
fn main() -> ! {
    uart::init();
    let settings = Settings {
        heartbeat_s: HEARTBEAT_S,
        ..Settings::default()
    };
    let mut board = QemuBoard {
        now: 0,
        accel: trace::Accelerometer::new(),
        flash: Flash::new(),
        gateway: gateway::ScriptedGateway::new(TAG_ID, settings),
    };

    // Provision the tag as a technician would, then boot through the same
    // config and boot-counter path as a real tag.
    let provisioned = Config {
        tag: TAG_ID,
        role: Role::Motion,
        settings,
        epc: EpcBytes::new(&GARMENT_EPC),
        pickup: PickupTuning::default(),
        entrance: EntranceSettings::default(),
    };
    board.store_config(&provisioned);
    let (config, config_status) = Config::load(
        &mut board.flash,
        CONFIG_OFFSET,
        Config::fallback(TAG_ID, Role::Motion),
    );
    if config_status != ConfigStatus::Loaded {
        fail("provisioned config page did not load");
    }
    let Ok(boot) = BOOT_COUNTER.increment(&mut board.flash) else {
        fail("boot counter not writable")
    };

    let info = BootInfo {
        boot,
        reset_reason: ResetReason::PowerOn,
        config_status,
    };
    let mut shell = Shell::new(Tag::<OUTBOX_LEN>::new(board.now, config, info));
    while board.now < trace::END_MS {
        shell.step(&mut board);
    }
    let (stored, _) = Config::load(&mut board.flash, CONFIG_OFFSET, provisioned);
    if stored.settings.heartbeat_s != gateway::NEW_HEARTBEAT_S {
        fail("the Configure downlink was not persisted to the config page");
    }
    debug::exit(EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

fn fail(reason: &str) -> ! {
    cortex_m_semihosting::hprintln!("aisle-tag-qemu: {}", reason);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m_semihosting::hprintln!("aisle-tag-qemu panicked: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
