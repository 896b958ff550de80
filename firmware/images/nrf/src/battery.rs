//! Supply voltage, for heartbeats: the nRF52's SAADC or the nRF51's ADC on
//! its internal VDD input.

use crate::reg;

const ADC: usize = 0x4000_7000;
/// Polls while a conversion (a few tens of µs) runs.
const SPINS: u32 = 100_000;

#[cfg(nrf52)]
pub fn read_mv() -> u16 {
    const TASKS_START: usize = ADC;
    const TASKS_SAMPLE: usize = ADC + 0x004;
    const TASKS_STOP: usize = ADC + 0x008;
    const EVENTS_STARTED: usize = ADC + 0x100;
    const EVENTS_END: usize = ADC + 0x104;
    const EVENTS_STOPPED: usize = ADC + 0x114;
    const ENABLE: usize = ADC + 0x500;
    const CH0_PSELP: usize = ADC + 0x510;
    const CH0_CONFIG: usize = ADC + 0x518;
    const RESOLUTION: usize = ADC + 0x5F0;
    const RESULT_PTR: usize = ADC + 0x62C;
    const RESULT_MAXCNT: usize = ADC + 0x630;
    const PSEL_VDD: u32 = 9;
    /// Gain 1/6, internal 0.6 V reference, 10 µs acquisition: 3.6 V full scale.
    const CONFIG_VDD: u32 = 2 << 16;
    const RES_12BIT: u32 = 2;

    let mut sample: i16 = 0;
    reg::write(ENABLE, 1);
    reg::write(CH0_PSELP, PSEL_VDD);
    reg::write(CH0_CONFIG, CONFIG_VDD);
    reg::write(RESOLUTION, RES_12BIT);
    reg::write(RESULT_PTR, core::ptr::addr_of_mut!(sample) as u32);
    reg::write(RESULT_MAXCNT, 1);
    reg::write(TASKS_START, 1);
    reg::wait_event(EVENTS_STARTED, SPINS);
    reg::write(TASKS_SAMPLE, 1);
    reg::wait_event(EVENTS_END, SPINS);
    reg::write(TASKS_STOP, 1);
    reg::wait_event(EVENTS_STOPPED, SPINS);
    reg::write(ENABLE, 0);
    // SAFETY: EasyDMA wrote `sample` and has stopped.
    let raw = unsafe { core::ptr::read_volatile(&sample) };
    (i32::from(raw.max(0)) * 3_600 / 4_096) as u16
}

#[cfg(nrf51)]
pub fn read_mv() -> u16 {
    const TASKS_START: usize = ADC;
    const EVENTS_END: usize = ADC + 0x100;
    const ENABLE: usize = ADC + 0x500;
    const CONFIG: usize = ADC + 0x504;
    const RESULT: usize = ADC + 0x508;
    /// 10-bit, VDD with 1/3 prescaling, 1.2 V band-gap reference: 3.6 V full scale.
    const CONFIG_VDD: u32 = 2 | (6 << 2);

    reg::write(ENABLE, 1);
    reg::write(CONFIG, CONFIG_VDD);
    reg::write(TASKS_START, 1);
    reg::wait_event(EVENTS_END, SPINS);
    let raw = reg::read(RESULT);
    reg::write(ENABLE, 0);
    (raw * 3_600 / 1_023) as u16
}
