//! aisle tag firmware for nRF5-class tags: the nRF51822 (Cortex-M0, built
//! for thumbv6m) and the nRF52832 (Cortex-M4F, thumbv7em).
//!
//! One image serves every role; the config page decides. Motion tags read a
//! LIS2DH12/LIS3DH on I²C and sleep on its wake-on-motion interrupt while
//! the garment hangs still; presence tags wake on every PIR edge, entrance
//! counters on every edge of either break-beam. The radio
//! is a modem on UART0 that carries frames transparently, like the gateway's
//! receiver dongle, and listens only briefly after each transmission (see
//! `uart`): a gateway holds a tag's downlinks until it next hears from it.
//! Reader nodes need a second UART for their UHF module,
//! which these chips lack: a reader-role tag on this board boots, heartbeats
//! and answers Identify, but reports no reads.
//!
//! The peripherals are driven through their registers (see the modules),
//! which the nRF51 and nRF52 share, to stay within the 16 KiB budget.
#![no_std]
#![no_main]

mod battery;
mod clock;
mod gpio;
mod layout;
mod mem;
mod nvmc;
mod reg;
mod twi;
mod uart;

use cortex_m_rt::entry;
use firmware::lis2dh::{Address, DataRate, Lis2dh};
use firmware::{Board, BootCounter, BootInfo, Config, Input, Role, Shell, StoreFailed, Tag};
use layout::pins;
use protocol::ResetReason;

/// Events kept until acked. At about 90 bytes an entry this is 1.4 KiB of
/// the 4 KiB static RAM budget, and covers a gateway outage of a few hours
/// of normal traffic on one garment.
const OUTBOX_LEN: usize = 16;

/// 25 Hz while a garment may be in someone's hands.
const SAMPLE_PERIOD_MS: u64 = 40;

/// Wake-on-motion needs this many consecutive 10 Hz samples over threshold.
const WAKE_SAMPLES: u8 = 1;

/// How long the link listens after a transmission for the gateway's ack
/// and queued downlinks. The gateway acks once the event is on disk, which
/// takes tens of milliseconds.
const RX_WINDOW_MS: u64 = 100;

/// Battery voltage changes over weeks: measure at most once a minute.
const BATTERY_PERIOD_MS: u64 = 60_000;

const POWER_RESETREAS: usize = 0x4000_0400;
const FICR_DEVICEID0: usize = 0x1000_0060;

enum Sensor {
    Accelerometer {
        device: Lis2dh<twi::Twi>,
        next_sample: u64,
        wake_armed: bool,
        threshold_mg: u16,
    },
    Pir {
        level: Option<bool>,
    },
    /// An entrance counter's two break-beams (A street side, B store side),
    /// as last reported.
    Beams {
        levels: Option<(bool, bool)>,
    },
    None,
}

struct NrfBoard {
    clock: clock::Clock,
    flash: nvmc::Nvmc,
    sensor: Sensor,
    battery_mv: u16,
    battery_at: Option<u64>,
    /// The receive window is open until then.
    rx_until: Option<u64>,
}

impl Board for NrfBoard {
    fn now_ms(&mut self) -> u64 {
        self.clock.now_ms()
    }

    fn transmit(&mut self, frame: &[u8]) {
        uart::write(frame);
        if self.rx_until.is_none() {
            uart::start_rx();
        }
        self.rx_until = Some(self.clock.now_ms() + RX_WINDOW_MS);
    }

    fn receive(&mut self, buf: &mut [u8]) -> usize {
        uart::read(buf)
    }

    fn sense(&mut self, now_ms: u64) -> Option<Input> {
        match &mut self.sensor {
            Sensor::Accelerometer {
                device,
                next_sample,
                wake_armed,
                ..
            } => {
                if *wake_armed {
                    // Asleep on wake-on-motion: sample again only once INT1
                    // has latched a motion.
                    if !gpio::read(pins::ACCEL_INT1) || !matches!(device.take_wake(), Ok(true)) {
                        return None;
                    }
                    *wake_armed = false;
                    // INT1 stays latched while sampling; the pin must not
                    // keep waking the core between samples.
                    gpio::input(pins::ACCEL_INT1);
                    device.set_rate(DataRate::Hz25).ok()?;
                    *next_sample = now_ms;
                }
                if now_ms < *next_sample {
                    return None;
                }
                *next_sample = now_ms + SAMPLE_PERIOD_MS;
                device.read_mg().ok().map(Input::Accel)
            }
            Sensor::Pir { level } => {
                let now_level = gpio::read(pins::PIR);
                if *level == Some(now_level) {
                    return None;
                }
                *level = Some(now_level);
                gpio::wake_on_change(pins::PIR, now_level);
                Some(Input::Presence(now_level))
            }
            Sensor::Beams { levels } => {
                // The receivers pull their output low while the beam is
                // broken.
                let now_levels = (!gpio::read(pins::BEAM_A), !gpio::read(pins::BEAM_B));
                if *levels == Some(now_levels) {
                    return None;
                }
                *levels = Some(now_levels);
                gpio::wake_on_change_pulled_up(pins::BEAM_A, !now_levels.0);
                gpio::wake_on_change_pulled_up(pins::BEAM_B, !now_levels.1);
                Some(Input::Beams {
                    a: now_levels.0,
                    b: now_levels.1,
                })
            }
            Sensor::None => None,
        }
    }

    fn battery_mv(&mut self) -> u16 {
        let now = self.clock.now_ms();
        if self
            .battery_at
            .is_none_or(|at| now >= at + BATTERY_PERIOD_MS)
        {
            self.battery_mv = battery::read_mv();
            self.battery_at = Some(now);
        }
        self.battery_mv
    }

    fn set_led(&mut self, on: bool) {
        gpio::set(pins::LED, on);
    }

    fn store_config(&mut self, config: &Config) -> Result<(), StoreFailed> {
        if let Sensor::Accelerometer { threshold_mg, .. } = &mut self.sensor {
            *threshold_mg = config.settings.pickup_threshold_mg;
        }
        // A failed write leaves the previous page or a blank one; the next
        // boot reports which, and a numbered command says NotPersisted.
        config
            .store(&mut self.flash, layout::CONFIG_PAGE)
            .map_err(|_| StoreFailed)
    }

    fn sleep_until(&mut self, deadline_ms: u64, motion_resting: bool) {
        let mut deadline = deadline_ms;
        if let Some(until) = self.rx_until {
            if self.clock.now_ms() >= until {
                uart::stop_rx();
                self.rx_until = None;
            } else {
                deadline = deadline.min(until);
            }
        }
        if let Sensor::Accelerometer {
            device,
            next_sample,
            wake_armed,
            threshold_mg,
        } = &mut self.sensor
        {
            if motion_resting && !*wake_armed {
                *wake_armed = device
                    .enable_wake_on_motion(*threshold_mg, WAKE_SAMPLES)
                    .is_ok();
                gpio::wake_on_change(pins::ACCEL_INT1, false);
            }
            if !*wake_armed {
                deadline = deadline.min(*next_sample);
            }
        }
        self.clock.sleep_until(deadline);
    }
}

fn reset_reason() -> ResetReason {
    let reasons = reg::read(POWER_RESETREAS);
    // The register accumulates until cleared: clear it for the next boot.
    reg::write(POWER_RESETREAS, reasons);
    match reasons {
        0 => ResetReason::PowerOn,
        r if r & 0x1 != 0 => ResetReason::Pin,
        r if r & 0x2 != 0 => ResetReason::Watchdog,
        r if r & 0xC != 0 => ResetReason::Software,
        _ => ResetReason::Unknown,
    }
}

#[entry]
fn main() -> ! {
    let Some(mut core) = cortex_m::Peripherals::take() else {
        halt()
    };
    clock::Clock::start(&mut core.SCB);
    uart::init();
    gpio::init_led(pins::LED);

    let mut flash = nvmc::Nvmc;
    // An unprovisioned tag still boots under its factory-unique id, as a
    // garment tag (most tags are), and says so in its Boot event.
    let fallback = Config::fallback(reg::read(FICR_DEVICEID0), Role::Motion);
    let (config, config_status) = Config::load(&mut flash, layout::CONFIG_PAGE, fallback);
    let counter = BootCounter::new(layout::BOOT_COUNTER, layout::PAGE);
    // The NVMC cannot fail on an in-range, aligned request; if the counter
    // pages were ever unusable, boot 0 still lets the tag report.
    let boot = counter.increment(&mut flash).unwrap_or(0);

    let sensor = match config.role {
        Role::Motion => match Lis2dh::new(twi::Twi::new(), Address::Sa0Low, DataRate::Hz25) {
            Ok(device) => Sensor::Accelerometer {
                device,
                next_sample: 0,
                wake_armed: false,
                threshold_mg: config.settings.pickup_threshold_mg,
            },
            // No accelerometer: boot anyway so heartbeats reveal the tag.
            Err(_) => Sensor::None,
        },
        Role::Presence => {
            // Connect the input buffer before the first read.
            gpio::input(pins::PIR);
            Sensor::Pir { level: None }
        }
        Role::Reader => Sensor::None,
        Role::Entrance => {
            // Pull-ups on and input buffers connected before the first read.
            gpio::wake_on_change_pulled_up(pins::BEAM_A, true);
            gpio::wake_on_change_pulled_up(pins::BEAM_B, true);
            Sensor::Beams { levels: None }
        }
    };
    let mut board = NrfBoard {
        clock: clock::Clock::new(),
        flash,
        sensor,
        battery_mv: 0,
        battery_at: None,
        rx_until: None,
    };

    let info = BootInfo {
        boot,
        reset_reason: reset_reason(),
        config_status,
    };
    let now = board.now_ms();
    // In a static (not on the stack) so the RAM budget check sees it.
    let Some(shell) =
        cortex_m::singleton!(: Shell<OUTBOX_LEN> = Shell::new(Tag::new(now, config, info)))
    else {
        halt()
    };
    loop {
        shell.step(&mut board);
    }
}

/// Unreachable in practice; a reset brings the tag back and its next Boot
/// event reports a software reset.
fn halt() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    halt()
}
