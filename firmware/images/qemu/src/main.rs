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
//!
//! Started with the semihosting argument `entrance`, the image is an
//! entrance counter instead: its two break-beams play a door's traffic
//! (see [`doorway`]) and a gateway acks what it hears (see [`acks`]).
//!
//! Started with `commands`, the garment tag plays the same trace but takes
//! its downlinks from the system test over UART0: numbered commands, which
//! it confirms, sent while the tag listens after its Boot uplink (see
//! [`commands`]). The image checks at the end that the config in force is
//! the one persisted.
#![no_std]
#![no_main]

mod acks;
mod commands;
mod doorway;
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
    Shell, StoreFailed, Tag,
};
use protocol::{ConfigStatus, EpcBytes, ResetReason, Settings};

/// The tag this image is provisioned as. The system test expects these.
const TAG_ID: u32 = 0x00A1_5E01;
const GARMENT_EPC: [u8; 12] = [
    0x30, 0x14, 0x1D, 0x8A, 0x0C, 0x00, 0x02, 0x80, 0x00, 0x00, 0x30, 0x39,
];
/// Heartbeats every 10 s so a 40 s run shows several.
const HEARTBEAT_S: u32 = 10;
/// The entrance counter's identity and heartbeat period (its scenario runs
/// 130 s). The system test expects these.
const ENTRANCE_TAG_ID: u32 = 0x0E17_0001;
const ENTRANCE_HEARTBEAT_S: u32 = 30;
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

/// The tag's sensors and radio peer in each scenario. One lives for the
/// whole run and there is no heap, so its size is its largest variant's.
#[allow(clippy::large_enum_variant)]
enum Scenario {
    /// A garment tag: the scripted accelerometer; nobody acks.
    Garment {
        accel: trace::Accelerometer,
        gateway: gateway::ScriptedGateway,
    },
    /// A garment tag: the scripted accelerometer; the test's commands
    /// over the UART.
    Commanded {
        accel: trace::Accelerometer,
        gateway: commands::UartGateway,
    },
    /// A door counter: the scripted break-beams and an acking gateway.
    Entrance {
        beams: doorway::Beams,
        gateway: acks::AckingGateway,
    },
}

struct QemuBoard {
    now: u64,
    flash: Flash,
    scenario: Scenario,
}

impl Board for QemuBoard {
    fn now_ms(&mut self) -> u64 {
        self.now
    }

    fn transmit(&mut self, frame: &[u8]) {
        uart::write(frame);
        if let Scenario::Entrance { gateway, .. } = &mut self.scenario {
            gateway.hear(self.now, frame);
        }
    }

    fn receive(&mut self, buf: &mut [u8]) -> usize {
        if let Scenario::Commanded { gateway, .. } = &mut self.scenario {
            return gateway.receive(self.now, buf);
        }
        match uart::read(buf) {
            0 => match &mut self.scenario {
                Scenario::Garment { gateway, .. } => gateway.receive(self.now, buf),
                Scenario::Entrance { gateway, .. } => gateway.receive(self.now, buf),
                Scenario::Commanded { .. } => 0,
            },
            n => n,
        }
    }

    fn sense(&mut self, now_ms: u64) -> Option<Input> {
        match &mut self.scenario {
            Scenario::Garment { accel, .. } | Scenario::Commanded { accel, .. } => {
                accel.sample(now_ms).map(Input::Accel)
            }
            Scenario::Entrance { beams, .. } => {
                beams.sample(now_ms).map(|(a, b)| Input::Beams { a, b })
            }
        }
    }

    fn battery_mv(&mut self) -> u16 {
        BATTERY_MV
    }

    /// The evaluation board's LED is not emulated.
    fn set_led(&mut self, _on: bool) {}

    fn store_config(&mut self, config: &Config) -> Result<(), StoreFailed> {
        config
            .store(&mut self.flash, CONFIG_OFFSET)
            .map_err(|_| StoreFailed)
    }

    fn sleep_until(&mut self, deadline_ms: u64, motion_resting: bool) {
        let wake = match &mut self.scenario {
            Scenario::Garment { accel, gateway } => {
                let deadline_ms = gateway
                    .next_at()
                    .map_or(deadline_ms, |at| at.min(deadline_ms));
                garment_wake(accel, deadline_ms, motion_resting)
            }
            Scenario::Commanded { accel, gateway } => {
                let deadline_ms = gateway
                    .next_at()
                    .map_or(deadline_ms, |at| at.min(deadline_ms));
                garment_wake(accel, deadline_ms, motion_resting)
            }
            // A beam edge wakes the MCU as on the nRF board, and so does
            // an ack arriving.
            Scenario::Entrance { beams, gateway } => [beams.next_at(), gateway.next_at()]
                .into_iter()
                .flatten()
                .fold(deadline_ms, u64::min),
        };
        self.now = self.now.max(wake);
    }
}

/// When a garment tag wakes. As on the nRF board: while the garment hangs
/// still the MCU sleeps on the accelerometer's wake-on-motion interrupt;
/// otherwise the next 25 Hz sample ends the sleep.
fn garment_wake(accel: &mut trace::Accelerometer, deadline_ms: u64, motion_resting: bool) -> u64 {
    if motion_resting {
        let motion = accel.wake_on_motion(deadline_ms, WAKE_THRESHOLD_MG);
        motion.map_or(deadline_ms, |at| at.min(deadline_ms))
    } else {
        deadline_ms.min(accel.next_sample_at())
    }
}

#[entry]
fn main() -> ! {
    uart::init();
    let entrance = requested(b"entrance");
    let commanded = requested(b"commands");
    let settings = Settings {
        heartbeat_s: if entrance {
            ENTRANCE_HEARTBEAT_S
        } else {
            HEARTBEAT_S
        },
        ..Settings::default()
    };
    let (scenario, provisioned, end_ms) = if entrance {
        let scenario = Scenario::Entrance {
            beams: doorway::Beams::new(),
            gateway: acks::AckingGateway::new(),
        };
        let config = Config {
            entrance: EntranceSettings {
                period_ms: doorway::PERIOD_MS,
                ..EntranceSettings::default()
            },
            settings,
            ..Config::fallback(ENTRANCE_TAG_ID, Role::Entrance)
        };
        (scenario, config, doorway::END_MS)
    } else {
        let accel = trace::Accelerometer::new();
        let scenario = if commanded {
            Scenario::Commanded {
                accel,
                gateway: commands::UartGateway::new(),
            }
        } else {
            Scenario::Garment {
                accel,
                gateway: gateway::ScriptedGateway::new(TAG_ID, settings),
            }
        };
        let config = Config {
            tag: TAG_ID,
            role: Role::Motion,
            settings,
            epc: EpcBytes::new(&GARMENT_EPC),
            pickup: PickupTuning::default(),
            entrance: EntranceSettings::default(),
        };
        (scenario, config, trace::END_MS)
    };
    let mut board = QemuBoard {
        now: 0,
        flash: Flash::new(),
        scenario,
    };

    // Provision the tag as a technician would, then boot through the same
    // config and boot-counter path as a real tag.
    if board.store_config(&provisioned).is_err() {
        fail("config page could not be stored");
    }
    let (config, config_status) = Config::load(
        &mut board.flash,
        CONFIG_OFFSET,
        Config::fallback(provisioned.tag, Role::Motion),
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
    while board.now < end_ms {
        shell.step(&mut board);
    }
    let (stored, _) = Config::load(&mut board.flash, CONFIG_OFFSET, provisioned);
    if entrance && stored != provisioned {
        fail("the entrance thresholds did not round-trip through the config page");
    }
    if commanded && stored != *shell.tag().config() {
        fail("the commanded config in force is not the one persisted");
    }
    if !entrance && !commanded && stored.settings.heartbeat_s != gateway::NEW_HEARTBEAT_S {
        fail("the Configure downlink was not persisted to the config page");
    }
    debug::exit(EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Whether QEMU was started with the semihosting argument `word`, e.g.
/// `entrance` (`-semihosting-config enable=on,arg=aisle-tag-qemu,arg=entrance`).
fn requested(word: &[u8]) -> bool {
    let mut cmdline = [0u8; 64];
    let mut block = [cmdline.as_mut_ptr() as usize, cmdline.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes into the
    // buffer block[0] points to, and the length back into block[1].
    // The block goes by raw pointer: through a shared reference the
    // compiler may assume the host never writes the length back.
    let failed = unsafe {
        cortex_m_semihosting::syscall1(
            cortex_m_semihosting::nr::GET_CMDLINE,
            block.as_mut_ptr() as usize,
        )
    };
    let len = block[1].min(cmdline.len());
    failed == 0
        && cmdline[..len]
            .split(|&b| b == b' ')
            .any(|arg| arg == word)
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
