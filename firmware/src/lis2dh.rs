//! Driver for the ST LIS2DH12 / LIS3DH accelerometers over I²C (embedded-hal
//! 1.0). The two parts share the register map used here.
//!
//! Our own small driver rather than the `lis2dh12` crate: that one reports
//! through the `accelerometer` crate's float vectors (soft-float code a
//! Cortex-M0+ pays for in flash), covers only the LIS2DH12, and its
//! wake-on-motion set-up is a dozen separate calls. The detectors want plain
//! milli-g integers and one call that arms wake-on-motion.

use embedded_hal::i2c::I2c;

/// The I²C address, set by the SA0 pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// SA0 tied to ground.
    Sa0Low = 0x18,
    /// SA0 tied to the supply.
    Sa0High = 0x19,
}

/// Output data rate. Sampling faster than the detectors need costs current:
/// 10 Hz low-power while resting, 25 Hz while a garment is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRate {
    /// 1 Hz.
    Hz1 = 1,
    /// 10 Hz: a garment at rest.
    Hz10 = 2,
    /// 25 Hz: a garment being handled.
    Hz25 = 3,
    /// 50 Hz.
    Hz50 = 4,
    /// 100 Hz.
    Hz100 = 5,
}

/// Driver errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error<E: core::fmt::Debug> {
    /// The bus failed (no ACK, arbitration loss...).
    #[error("accelerometer I2C error: {0:?}")]
    I2c(E),
    /// WHO_AM_I did not read 0x33: not a LIS2DH12/LIS3DH, or a wiring fault.
    #[error("accelerometer WHO_AM_I is {0:#04x}, expected 0x33 (LIS2DH12/LIS3DH): check the part and wiring")]
    WrongDevice(u8),
}

impl<E: core::fmt::Debug> From<E> for Error<E> {
    fn from(e: E) -> Self {
        Error::I2c(e)
    }
}

const WHO_AM_I: u8 = 0x0F;
const DEVICE_ID: u8 = 0x33;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const CTRL_REG3: u8 = 0x22;
const CTRL_REG4: u8 = 0x23;
const CTRL_REG5: u8 = 0x24;
const REFERENCE: u8 = 0x26;
const OUT_X_L: u8 = 0x28;
const INT1_CFG: u8 = 0x30;
const INT1_SRC: u8 = 0x31;
const INT1_THS: u8 = 0x32;
const INT1_DURATION: u8 = 0x33;

/// Sub-address bit asking the part to auto-increment over a multi-byte read.
const AUTO_INCREMENT: u8 = 0x80;
/// CTRL_REG1: X, Y and Z enabled.
const XYZ_EN: u8 = 0x07;
/// CTRL_REG1: low-power (8-bit) mode.
const LP_EN: u8 = 0x08;
/// CTRL_REG4: block data update (no torn samples), ±2 g full scale.
const BDU_2G: u8 = 0x80;
/// CTRL_REG2: high-pass filter on the interrupt-1 path, so the wake
/// threshold applies to a *change* of acceleration, not to gravity.
const HPIS1: u8 = 0x01;
/// CTRL_REG3: interrupt activity 1 routed to the INT1 pin.
const I1_IA1: u8 = 0x40;
/// CTRL_REG5: latch INT1 until INT1_SRC is read, so a short motion is not
/// missed while the MCU wakes up.
const LIR_INT1: u8 = 0x08;
/// INT1_CFG: OR of X, Y and Z high events.
const XYZ_HIGH: u8 = 0x2A;
/// INT1_SRC: interrupt active.
const INT1_ACTIVE: u8 = 0x40;
/// INT1_THS step at ±2 g.
const THS_STEP_MG: u16 = 16;
/// Normal mode at ±2 g: 10-bit left-justified samples, 4 mg per digit.
const NORMAL_SHIFT: u32 = 6;
const NORMAL_MG_PER_DIGIT: i16 = 4;

/// A LIS2DH12 or LIS3DH on an I²C bus.
pub struct Lis2dh<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Lis2dh<I2C> {
    /// Checks the part's identity and starts it sampling at `rate` in normal
    /// (10-bit) mode, ±2 g.
    pub fn new(i2c: I2C, address: Address, rate: DataRate) -> Result<Self, Error<I2C::Error>> {
        let mut dev = Lis2dh {
            i2c,
            address: address as u8,
        };
        let id = dev.read_register(WHO_AM_I)?;
        if id != DEVICE_ID {
            return Err(Error::WrongDevice(id));
        }
        dev.write_register(CTRL_REG4, BDU_2G)?;
        dev.set_rate(rate)?;
        Ok(dev)
    }

    /// Samples at `rate` in normal mode, for feeding the pickup detector.
    pub fn set_rate(&mut self, rate: DataRate) -> Result<(), Error<I2C::Error>> {
        self.write_register(CTRL_REG1, ((rate as u8) << 4) | XYZ_EN)
    }

    /// The latest sample, in milli-g per axis.
    pub fn read_mg(&mut self) -> Result<[i16; 3], Error<I2C::Error>> {
        let mut raw = [0u8; 6];
        self.i2c
            .write_read(self.address, &[OUT_X_L | AUTO_INCREMENT], &mut raw)?;
        let axis = |i: usize| {
            (i16::from_le_bytes([raw[i], raw[i + 1]]) >> NORMAL_SHIFT) * NORMAL_MG_PER_DIGIT
        };
        Ok([axis(0), axis(2), axis(4)])
    }

    /// Arms wake-on-motion: 10 Hz low-power sampling, and a latched INT1
    /// once any axis changes by more than `threshold_mg` for `samples`
    /// consecutive samples. The MCU then sleeps until INT1 fires; call
    /// [`Lis2dh::take_wake`] and [`Lis2dh::set_rate`] when it does.
    pub fn enable_wake_on_motion(
        &mut self,
        threshold_mg: u16,
        samples: u8,
    ) -> Result<(), Error<I2C::Error>> {
        let steps = threshold_mg.div_ceil(THS_STEP_MG).clamp(1, 0x7F) as u8;
        self.write_register(CTRL_REG1, ((DataRate::Hz10 as u8) << 4) | LP_EN | XYZ_EN)?;
        self.write_register(CTRL_REG2, HPIS1)?;
        self.write_register(INT1_THS, steps)?;
        self.write_register(INT1_DURATION, samples.min(0x7F))?;
        self.write_register(INT1_CFG, XYZ_HIGH)?;
        self.write_register(CTRL_REG5, LIR_INT1)?;
        self.write_register(CTRL_REG3, I1_IA1)?;
        // Reading REFERENCE sets the high-pass filter to the present
        // orientation, so arming does not itself trigger a wake-up.
        self.read_register(REFERENCE)?;
        // Clear a latch left over from before.
        self.read_register(INT1_SRC)?;
        Ok(())
    }

    /// Whether a wake-on-motion interrupt is latched; reading clears it.
    pub fn take_wake(&mut self) -> Result<bool, Error<I2C::Error>> {
        Ok(self.read_register(INT1_SRC)? & INT1_ACTIVE != 0)
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn read_register(&mut self, register: u8) -> Result<u8, Error<I2C::Error>> {
        let mut value = [0u8];
        self.i2c.write_read(self.address, &[register], &mut value)?;
        Ok(value[0])
    }

    fn write_register(&mut self, register: u8, value: u8) -> Result<(), Error<I2C::Error>> {
        self.i2c.write(self.address, &[register, value])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};
    use std::vec;

    const ADDR: u8 = 0x19;

    fn init() -> std::vec::Vec<T> {
        vec![
            T::write_read(ADDR, vec![0x0F], vec![0x33]),
            T::write(ADDR, vec![0x23, 0x80]),
            T::write(ADDR, vec![0x20, 0x37]),
        ]
    }

    #[test]
    fn init_checks_identity_and_starts_sampling() {
        let mut i2c = Mock::new(&init());
        Lis2dh::new(&mut i2c, Address::Sa0High, DataRate::Hz25).unwrap();
        i2c.done();
    }

    #[test]
    fn wrong_device_is_reported_not_configured() {
        let mut i2c = Mock::new(&[T::write_read(0x18, vec![0x0F], vec![0x6A])]);
        let result = Lis2dh::new(&mut i2c, Address::Sa0Low, DataRate::Hz25);
        assert!(matches!(result, Err(Error::WrongDevice(0x6A))));
        i2c.done();
    }

    #[test]
    fn bus_error_is_passed_on() {
        let mut i2c =
            Mock::new(&[T::write_read(ADDR, vec![0x0F], vec![0x33]).with_error(ErrorKind::Other)]);
        let result = Lis2dh::new(&mut i2c, Address::Sa0High, DataRate::Hz25);
        assert!(matches!(result, Err(Error::I2c(ErrorKind::Other))));
        i2c.done();
    }

    #[test]
    fn samples_are_converted_to_milli_g() {
        let mut expected = init();
        // X = +1000 mg (250 digits), Y = -500 mg (-125), Z = 0, left-justified.
        let x = (250i16 << 6).to_le_bytes();
        let y = (-125i16 << 6).to_le_bytes();
        expected.push(T::write_read(
            ADDR,
            vec![0xA8],
            vec![x[0], x[1], y[0], y[1], 0, 0],
        ));
        let mut i2c = Mock::new(&expected);
        let mut dev = Lis2dh::new(&mut i2c, Address::Sa0High, DataRate::Hz25).unwrap();
        assert_eq!(dev.read_mg().unwrap(), [1000, -500, 0]);
        i2c.done();
    }

    #[test]
    fn wake_on_motion_arms_a_latched_high_pass_int1() {
        let mut expected = init();
        expected.extend([
            T::write(ADDR, vec![0x20, 0x2F]),
            T::write(ADDR, vec![0x21, 0x01]),
            // 150 mg rounds up to 10 steps of 16 mg.
            T::write(ADDR, vec![0x32, 10]),
            T::write(ADDR, vec![0x33, 1]),
            T::write(ADDR, vec![0x30, 0x2A]),
            T::write(ADDR, vec![0x24, 0x08]),
            T::write(ADDR, vec![0x22, 0x40]),
            T::write_read(ADDR, vec![0x26], vec![0x00]),
            T::write_read(ADDR, vec![0x31], vec![0x00]),
            T::write_read(ADDR, vec![0x31], vec![0x44]),
            T::write_read(ADDR, vec![0x31], vec![0x00]),
        ]);
        let mut i2c = Mock::new(&expected);
        let mut dev = Lis2dh::new(&mut i2c, Address::Sa0High, DataRate::Hz25).unwrap();
        dev.enable_wake_on_motion(150, 1).unwrap();
        assert!(dev.take_wake().unwrap());
        assert!(!dev.take_wake().unwrap());
        i2c.done();
    }
}
