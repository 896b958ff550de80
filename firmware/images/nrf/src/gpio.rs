//! GPIO: the identify LED, the PIR input, the accelerometer's INT1 and the
//! entrance counter's break-beams, the inputs armed to wake the core through
//! GPIOTE's PORT event.

use crate::reg;

const P0: usize = 0x5000_0000;
const OUTSET: usize = P0 + 0x508;
const OUTCLR: usize = P0 + 0x50C;
const IN: usize = P0 + 0x510;
const DIRSET: usize = P0 + 0x518;
const PIN_CNF: usize = P0 + 0x700;
/// Input, buffer connected, no pull.
const CNF_INPUT: u32 = 0;
/// Input, buffer connected, pulled up: break-beam receivers are open
/// collector.
const CNF_PULLUP: u32 = 3 << 2;
const CNF_SENSE_HIGH: u32 = 2 << 16;
const CNF_SENSE_LOW: u32 = 3 << 16;

const GPIOTE_INTENSET: usize = 0x4000_6304;
const INT_PORT: u32 = 1 << 31;

pub fn init_led(pin: u32) {
    reg::write(DIRSET, 1 << pin);
}

pub fn set(pin: u32, on: bool) {
    reg::write(if on { OUTSET } else { OUTCLR }, 1 << pin);
}

pub fn read(pin: u32) -> bool {
    reg::read(IN) & (1 << pin) != 0
}

/// Makes `pin` a plain input that wakes nothing.
pub fn input(pin: u32) {
    reg::write(PIN_CNF + 4 * pin as usize, CNF_INPUT);
}

/// Makes `pin` an input that wakes the core when it leaves `level`: sensing
/// the opposite level catches both edges of a PIR and a latched INT1.
pub fn wake_on_change(pin: u32, level: bool) {
    sense_change(pin, level, CNF_INPUT);
}

/// As [`wake_on_change`], with the pin's pull-up on.
pub fn wake_on_change_pulled_up(pin: u32, level: bool) {
    sense_change(pin, level, CNF_PULLUP);
}

fn sense_change(pin: u32, level: bool, cnf: u32) {
    let sense = if level { CNF_SENSE_LOW } else { CNF_SENSE_HIGH };
    reg::write(PIN_CNF + 4 * pin as usize, cnf | sense);
    reg::write(GPIOTE_INTENSET, INT_PORT);
}
