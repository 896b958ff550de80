//! `aisle tag replay`: runs the firmware's own detector (the code the tag
//! runs) over a recorded sensor trace and lists the events the tag would
//! send, so thresholds can be tried on recordings before a tag is flashed.
//!
//! A trace is a CSV file with a header naming the role's columns and one
//! sample a row, in the order the tag took them. Each role is one
//! [`ReplayRole`]: its columns, how a row becomes a sample and which
//! detector eats it; a new role is a new variant there.

use firmware::{DwellDetector, DwellEvent, MotionEvent, PickupDetector, PickupTuning};
use protocol::Settings;
use std::fmt;

/// The roles whose detectors can be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayRole {
    /// A garment's accelerometer: `t_ms,x_mg,y_mg,z_mg`.
    Motion,
    /// A fixture's PIR: `t_ms,present` (0 or 1).
    Presence,
}

impl ReplayRole {
    pub const ALL: [ReplayRole; 2] = [ReplayRole::Motion, ReplayRole::Presence];

    pub fn name(self) -> &'static str {
        match self {
            ReplayRole::Motion => "motion",
            ReplayRole::Presence => "presence",
        }
    }

    pub fn parse(name: &str) -> Option<ReplayRole> {
        ReplayRole::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The CSV header a trace of this role starts with.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ReplayRole::Motion => &["t_ms", "x_mg", "y_mg", "z_mg"],
            ReplayRole::Presence => &["t_ms", "present"],
        }
    }
}

/// One sample of a trace, as the role's sensor gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Accel([i16; 3]),
    Present(bool),
}

/// A parsed trace: samples with their time in ms from the trace start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub role: ReplayRole,
    pub samples: Vec<(u64, Sample)>,
}

/// What is wrong with one line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct BadRow {
    /// 1-based, as an editor shows it.
    pub line: usize,
    pub reason: String,
}

/// Reads a trace of `role` from CSV text. Every bad row is reported (none
/// is skipped silently), with its line number.
pub fn parse(role: ReplayRole, text: &str) -> Result<Trace, Vec<BadRow>> {
    let columns = role.columns();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let mut bad = Vec::new();
    match lines.next() {
        Some((_, header)) if header.split(',').map(str::trim).eq(columns.iter().copied()) => {}
        Some((line, header)) => bad.push(BadRow {
            line,
            reason: format!(
                "the header must be `{}` for a {} trace, not `{header}`",
                columns.join(","),
                role.name()
            ),
        }),
        None => bad.push(BadRow {
            line: 1,
            reason: format!("empty file: expected the header `{}`", columns.join(",")),
        }),
    }
    let mut samples = Vec::new();
    let mut last_t = None;
    for (line, text) in lines {
        if text.is_empty() {
            continue;
        }
        match parse_row(role, text, last_t) {
            Ok((t, sample)) => {
                last_t = Some(t);
                samples.push((t, sample));
            }
            Err(reason) => bad.push(BadRow { line, reason }),
        }
    }
    if bad.is_empty() {
        Ok(Trace { role, samples })
    } else {
        Err(bad)
    }
}

fn parse_row(role: ReplayRole, row: &str, last_t: Option<u64>) -> Result<(u64, Sample), String> {
    let columns = role.columns();
    let fields: Vec<&str> = row.split(',').map(str::trim).collect();
    if fields.len() != columns.len() {
        return Err(format!(
            "expected {} fields ({}), got {}",
            columns.len(),
            columns.join(","),
            fields.len()
        ));
    }
    let t: u64 = fields[0]
        .parse()
        .map_err(|_| format!("t_ms {:?} is not a whole number of milliseconds", fields[0]))?;
    if let Some(last) = last_t {
        if t < last {
            return Err(format!(
                "t_ms {t} goes back in time (the previous row was {last})"
            ));
        }
    }
    let sample = match role {
        ReplayRole::Motion => {
            let mut accel = [0i16; 3];
            for (axis, (text, name)) in accel.iter_mut().zip(fields[1..].iter().zip(&columns[1..]))
            {
                *axis = value_mg(text, name)?;
            }
            Sample::Accel(accel)
        }
        ReplayRole::Presence => match fields[1] {
            "1" => Sample::Present(true),
            "0" => Sample::Present(false),
            other => return Err(format!("present {other:?} must be 0 or 1")),
        },
    };
    Ok((t, sample))
}

fn value_mg(text: &str, name: &str) -> Result<i16, String> {
    text.parse().map_err(|_| {
        format!("{name} {text:?} is not a whole number of milli-g from -32768 to 32767")
    })
}

/// An event the tag would have sent, at its time from the trace start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub t_ms: u64,
    pub event: ReplayEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayEvent {
    Motion(MotionEvent),
    Dwell(DwellEvent),
}

impl ReplayEvent {
    /// The event's name, as in the link protocol.
    pub fn name(&self) -> &'static str {
        match self {
            ReplayEvent::Motion(MotionEvent::PickedUp) => "picked_up",
            ReplayEvent::Motion(MotionEvent::PutDown { .. }) => "put_down",
            ReplayEvent::Dwell(DwellEvent::DwellStart) => "dwell_start",
            ReplayEvent::Dwell(DwellEvent::DwellEnd { .. }) => "dwell_end",
        }
    }

    /// The duration the event carries, if any: (field name, ms).
    fn duration(&self) -> Option<(&'static str, u32)> {
        match *self {
            ReplayEvent::Motion(MotionEvent::PutDown { held_ms }) => Some(("held_ms", held_ms)),
            ReplayEvent::Dwell(DwellEvent::DwellEnd { dwell_ms }) => Some(("dwell_ms", dwell_ms)),
            _ => None,
        }
    }
}

impl Replayed {
    /// One JSON object: `{"event":"put_down","t_ms":9120,"held_ms":3040}`.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"event\":\"{}\",\"t_ms\":{}",
            self.event.name(),
            self.t_ms
        );
        if let Some((field, ms)) = self.event.duration() {
            out.push_str(&format!(",\"{field}\":{ms}"));
        }
        out.push('}');
        out
    }
}

impl fmt::Display for Replayed {
    /// `  9.120 s  put_down  held 3.040 s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>9.3} s  {}",
            self.t_ms as f64 / 1_000.0,
            self.event.name()
        )?;
        if let Some((field, ms)) = self.event.duration() {
            let what = field.trim_end_matches("_ms");
            write!(f, "  {what} {:.3} s", f64::from(ms) / 1_000.0)?;
        }
        Ok(())
    }
}

/// Runs the role's detector over `trace` with `settings` and `tuning`.
pub fn replay(trace: &Trace, settings: &Settings, tuning: &PickupTuning) -> Vec<Replayed> {
    let mut out = Vec::new();
    match trace.role {
        ReplayRole::Motion => {
            let mut detector = PickupDetector::new(settings, tuning);
            for &(t_ms, sample) in &trace.samples {
                if let Sample::Accel(accel) = sample {
                    if let Some(event) = detector.sample(t_ms, accel) {
                        out.push(Replayed {
                            t_ms,
                            event: ReplayEvent::Motion(event),
                        });
                    }
                }
            }
        }
        ReplayRole::Presence => {
            let mut detector = DwellDetector::new(settings);
            let mut emit = |t_ms, event: Option<DwellEvent>| {
                if let Some(event) = event {
                    out.push(Replayed {
                        t_ms,
                        event: ReplayEvent::Dwell(event),
                    });
                }
            };
            for &(t_ms, sample) in &trace.samples {
                // The tag wakes on its own for timers due between samples.
                while let Some(due) = detector.poll_timeout().filter(|&due| due < t_ms) {
                    match detector.poll(due) {
                        Some(event) => emit(due, Some(event)),
                        None => break,
                    }
                }
                if let Sample::Present(present) = sample {
                    emit(t_ms, detector.sample(t_ms, present));
                    while let Some(event) = detector.poll(t_ms) {
                        emit(t_ms, Some(event));
                    }
                }
            }
            // After the last sample the level stays as it was: a visit whose
            // presence had ended still ends when its gap runs out.
            while let Some(due) = detector.poll_timeout() {
                match detector.poll(due) {
                    Some(event) => emit(due, Some(event)),
                    None => break,
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
