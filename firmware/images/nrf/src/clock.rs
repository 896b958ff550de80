//! Time and sleep: RTC1 on the 32 kHz clock gives milliseconds since boot, and
//! `sleep_until` waits in WFE for the RTC compare, a GPIO edge (PIR,
//! accelerometer INT1) or a received link byte.

use crate::{reg, uart};

const CLOCK: usize = 0x4000_0000;
const TASKS_LFCLKSTART: usize = CLOCK + 0x008;
const EVENTS_LFCLKSTARTED: usize = CLOCK + 0x104;
const LFCLKSRC: usize = CLOCK + 0x518;
const LFCLKSRC_RC: u32 = 0;

const RTC1: usize = 0x4001_1000;
const TASKS_START: usize = RTC1;
const EVENTS_COMPARE0: usize = RTC1 + 0x140;
const INTENSET: usize = RTC1 + 0x304;
const COUNTER: usize = RTC1 + 0x504;
const PRESCALER: usize = RTC1 + 0x508;
const CC0: usize = RTC1 + 0x540;
const INT_COMPARE0: u32 = 1 << 16;

const GPIOTE_EVENTS_PORT: usize = 0x4000_617C;

/// 32 768 Hz / (31 + 1) = 1 024 ticks a second. The 24-bit counter wraps
/// every 4.5 hours; the tag wakes at least hourly, so no wrap is missed.
const PRESCALE: u32 = 31;
const TICKS_PER_S: u64 = 1_024;
const COUNTER_MASK: u32 = 0x00FF_FFFF;
const MAX_SLEEP_MS: u64 = 3_600_000;

/// NVIC interrupt-clear-pending register and the IRQ numbers (same on the
/// nRF51 and nRF52) whose pending bits wake WFE.
const NVIC_ICPR0: usize = 0xE000_E280;
const IRQ_UART0: u32 = 2;
const IRQ_GPIOTE: u32 = 6;
const IRQ_RTC1: u32 = 17;

pub struct Clock {
    ticks: u64,
    last_counter: u32,
}

impl Clock {
    pub fn start(scb: &mut cortex_m::peripheral::SCB) {
        reg::write(LFCLKSRC, LFCLKSRC_RC);
        reg::write(TASKS_LFCLKSTART, 1);
        while reg::read(EVENTS_LFCLKSTARTED) == 0 {}
        reg::write(PRESCALER, PRESCALE);
        reg::write(INTENSET, INT_COMPARE0);
        reg::write(TASKS_START, 1);
        // Pending (never enabled) interrupts end a WFE: peripherals can wake
        // the core without interrupt handlers.
        scb.set_sevonpend();
    }

    pub fn new() -> Self {
        Clock {
            ticks: 0,
            last_counter: 0,
        }
    }

    pub fn now_ms(&mut self) -> u64 {
        let counter = reg::read(COUNTER) & COUNTER_MASK;
        self.ticks += u64::from(counter.wrapping_sub(self.last_counter) & COUNTER_MASK);
        self.last_counter = counter;
        self.ticks * 1_000 / TICKS_PER_S
    }

    /// Sleeps until `deadline_ms` or a wake-up source fires.
    pub fn sleep_until(&mut self, deadline_ms: u64) {
        let now = self.now_ms();
        if deadline_ms <= now {
            return;
        }
        // At most an hour, so 32-bit arithmetic suffices (64-bit division
        // is a large library routine on the Cortex-M0).
        let ms = (deadline_ms - now).min(MAX_SLEEP_MS) as u32;
        // Round up so the tag never wakes just before its deadline.
        let ticks = (ms * TICKS_PER_S as u32).div_ceil(1_000);
        reg::write(EVENTS_COMPARE0, 0);
        reg::write(CC0, (self.last_counter + ticks.max(2)) & COUNTER_MASK);
        while reg::read(EVENTS_COMPARE0) == 0
            && reg::read(GPIOTE_EVENTS_PORT) == 0
            && reg::read(uart::EVENTS_RXDRDY) == 0
        {
            cortex_m::asm::wfe();
            reg::write(
                NVIC_ICPR0,
                (1 << IRQ_UART0) | (1 << IRQ_GPIOTE) | (1 << IRQ_RTC1),
            );
        }
        reg::write(EVENTS_COMPARE0, 0);
        reg::write(GPIOTE_EVENTS_PORT, 0);
    }
}
