//! What a garment tag's accelerometer reads: physical models of a garment on
//! a hanger and of the sensor, so the pickup detector can be measured on
//! labelled traces and the simulated store's tags feel realistic touches.
//!
//! A [`Scene`] is the tag's pose (position and orientation) every
//! millisecond; the accelerometer's reading is the specific force there (the
//! second derivative of the position, minus gravity) in the tag's own frame,
//! then passed through the [`Sensor`] (mounting, gain and offset errors,
//! noise, 4 mg steps and the ±2 g range of a LIS2DH12 in normal mode). The
//! scene builders are the physics, documented in docs/pickup-models.md:
//! - on the rail the garment is a damped pendulum on its hook, swinging
//!   across the rail and along it, driven by the hook's own acceleration
//!   ([`Scene::rail`]): a brush is a short shove, a browse a push along the
//!   rail, a knock a sharp blow with the hanger's rattle ([`touches`]);
//! - lifted, the hand moves the hook and sets the garment's tilt, with
//!   tremor, turning and walking ([`touches::Lift`], over
//!   [`Scene::carried`]);
//! - a fall is free fall with tumbling, an impact and the floor.
//!
//! World frame: x along the rail, y across it, z up; metres and seconds.

pub mod corpus;
pub mod touches;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Standard gravity, m/s².
pub const G: f64 = 9.80665;
/// The scene's time step: 1 ms, far finer than any sampling rate.
const STEP_S: f64 = 0.001;

pub type Vec3 = [f64; 3];
/// A rotation matrix, rows first: body-frame vectors to world frame.
pub type Mat3 = [[f64; 3]; 3];

pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

pub fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

pub fn apply(m: &Mat3, v: Vec3) -> Vec3 {
    [0, 1, 2].map(|i| (0..3).map(|k| m[i][k] * v[k]).sum())
}

pub fn transpose(m: &Mat3) -> Mat3 {
    [0, 1, 2].map(|i| [0, 1, 2].map(|j| m[j][i]))
}

/// Rotation by `angle` radians about the unit vector `axis` (Rodrigues).
pub fn rotation(axis: Vec3, angle: f64) -> Mat3 {
    let [x, y, z] = axis;
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ]
}

/// The axis and angle of a rotation (angles below 180°).
pub fn axis_angle(m: &Mat3) -> (Vec3, f64) {
    let angle = ((m[0][0] + m[1][1] + m[2][2] - 1.0) / 2.0)
        .clamp(-1.0, 1.0)
        .acos();
    if angle < 1e-9 {
        return ([0.0, 0.0, 1.0], 0.0);
    }
    let s = 2.0 * angle.sin();
    let axis = [m[2][1] - m[1][2], m[0][2] - m[2][0], m[1][0] - m[0][1]].map(|x| x / s);
    (axis, angle)
}

/// A uniformly random orientation.
pub fn random_rotation(rng: &mut ChaCha8Rng) -> Mat3 {
    let axis = random_unit(rng);
    // The angle of a uniform rotation has density (1 − cos θ)/π on [0, π].
    let angle = loop {
        let a = rng.gen_range(0.0..std::f64::consts::PI);
        if rng.gen::<f64>() * 2.0 < 1.0 - a.cos() {
            break a;
        }
    };
    rotation(axis, angle)
}

pub fn random_unit(rng: &mut ChaCha8Rng) -> Vec3 {
    loop {
        let v = [0; 3].map(|_| rng.gen_range(-1.0..1.0));
        let n = norm(v);
        if n > 0.1 && n <= 1.0 {
            return v.map(|x| x / n);
        }
    }
}

pub fn norm(v: Vec3) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// A standard normal deviate (Box–Muller).
pub fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.gen::<f64>();
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Minimum-jerk profile from 0 to 1 over `s` in [0, 1]: how a hand moves
/// from one place to another (Flash & Hogan's model of reaching).
pub fn min_jerk(s: f64) -> f64 {
    let s = s.clamp(0.0, 1.0);
    s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)
}

/// Where the tag is at one millisecond, and any shock the kinematics do not
/// carry (a hanger's rattle, an impact), as a specific force in m/s².
#[derive(Debug, Clone, Copy)]
pub struct Pose {
    pub position: Vec3,
    pub orientation: Mat3,
    pub shock: Vec3,
}

/// A garment on its hanger, as a pendulum: the hook is the pivot.
#[derive(Debug, Clone, Copy)]
pub struct Hanger {
    /// Natural frequency of the swing, Hz (0.6–1.5 for hung garments).
    pub swing_hz: f64,
    /// Damping ratio: a swing settles within a few seconds.
    pub damping: f64,
    /// Distance from the hook down to the tag, m.
    pub tag_depth_m: f64,
}

impl Hanger {
    fn omega(&self) -> f64 {
        2.0 * std::f64::consts::PI * self.swing_hz
    }

    /// Length of the simple pendulum with the same frequency.
    fn equivalent_length(&self) -> f64 {
        G / (self.omega() * self.omega())
    }
}

/// What drives the pendulum on the rail at one instant: the hook's
/// acceleration (x along the rail, y across) and an angular push on the
/// garment (a hand or a body shoving it), rad/s² about x (across the rail)
/// and y (along it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drive {
    pub hook_accel: [f64; 2],
    pub shove: [f64; 2],
    pub shock: Vec3,
}

/// The tag's pose, one per millisecond.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    pub poses: Vec<Pose>,
    /// Swing angles and rates on the rail (about x, about y) where the last
    /// rail stretch ended, so the next one continues it.
    swing: [f64; 4],
    hook: Vec3,
    hook_velocity: [f64; 2],
}

impl Scene {
    /// A scene starting with the garment hanging still from a hook at the
    /// origin.
    pub fn new() -> Self {
        Scene::default()
    }

    pub fn len_ms(&self) -> u64 {
        self.poses.len() as u64
    }

    pub fn last(&self) -> Pose {
        self.poses.last().copied().unwrap_or(Pose {
            position: [0.0; 3],
            orientation: IDENTITY,
            shock: [0.0; 3],
        })
    }

    /// `ms` milliseconds on the rail: the pendulum integrated (semi-implicit
    /// Euler, 1 ms) with the hook moving as `drive` says at each
    /// millisecond from the start of the stretch.
    pub fn rail(&mut self, hanger: &Hanger, ms: u64, mut drive: impl FnMut(u64) -> Drive) {
        let w = hanger.omega();
        let l = hanger.equivalent_length();
        let [mut phi, mut dphi, mut psi, mut dpsi] = self.swing;
        for t in 0..ms {
            let d = drive(t);
            // In the hook's accelerating frame gravity leans against the
            // acceleration: the garment lags behind the hook.
            let ddphi = -w * w * phi.sin()
                - 2.0 * hanger.damping * w * dphi
                - d.hook_accel[1] / l * phi.cos()
                + d.shove[0];
            let ddpsi = -w * w * psi.sin() - 2.0 * hanger.damping * w * dpsi
                + d.hook_accel[0] / l * psi.cos()
                + d.shove[1];
            dphi += ddphi * STEP_S;
            dpsi += ddpsi * STEP_S;
            phi += dphi * STEP_S;
            psi += dpsi * STEP_S;
            for axis in 0..2 {
                self.hook_velocity[axis] += d.hook_accel[axis] * STEP_S;
                self.hook[axis] += self.hook_velocity[axis] * STEP_S;
            }
            let orientation = mul(
                &rotation([1.0, 0.0, 0.0], phi),
                &rotation([0.0, 1.0, 0.0], psi),
            );
            let down = apply(&orientation, [0.0, 0.0, -hanger.tag_depth_m]);
            self.poses.push(Pose {
                position: [0, 1, 2].map(|i| self.hook[i] + down[i]),
                orientation,
                shock: d.shock,
            });
        }
        self.swing = [phi, dphi, psi, dpsi];
    }

    /// Appends poses given as functions of the time since the start of the
    /// stretch: the hook's position and the garment's orientation (off the
    /// rail, in a hand or falling). The tag hangs `tag_depth_m` below the
    /// hook in the garment's frame.
    pub fn carried(
        &mut self,
        tag_depth_m: f64,
        ms: u64,
        mut pose: impl FnMut(u64) -> (Vec3, Mat3, Vec3),
    ) {
        for t in 0..ms {
            let (hook, orientation, shock) = pose(t);
            let down = apply(&orientation, [0.0, 0.0, -tag_depth_m]);
            self.poses.push(Pose {
                position: [0, 1, 2].map(|i| hook[i] + down[i]),
                orientation,
                shock,
            });
        }
    }

    /// Puts the garment back on the rail at hook position `hook`, hanging
    /// still: the next rail stretch starts from there.
    pub fn rehang(&mut self, hook: Vec3) {
        self.hook = hook;
        self.hook_velocity = [0.0; 2];
        self.swing = [0.0; 4];
    }

    /// The hook's position on the rail now.
    pub fn hook(&self) -> Vec3 {
        self.hook
    }

    /// The specific force the tag feels at millisecond `t`, in the tag's
    /// (garment's) frame, m/s².
    fn specific_force(&self, t: usize) -> Vec3 {
        let at = |i: usize| self.poses[i.min(self.poses.len() - 1)].position;
        let (prev, here, next) = (at(t.saturating_sub(1)), at(t), at(t + 1));
        let pose = &self.poses[t];
        let world = [0, 1, 2].map(|i| {
            let accel = (next[i] - 2.0 * here[i] + prev[i]) / (STEP_S * STEP_S);
            let gravity = if i == 2 { -G } else { 0.0 };
            accel - gravity + pose.shock[i]
        });
        apply(&transpose(&pose.orientation), world)
    }
}

/// One accelerometer as mounted on one garment.
#[derive(Debug, Clone)]
pub struct Sensor {
    /// The sensor's axes in the garment's frame (how the tag is attached).
    pub mount: Mat3,
    /// Zero-g offset per axis, mg (LIS2DH12: typically ±40).
    pub offset_mg: Vec3,
    /// Sensitivity per axis relative to nominal (a few per cent).
    pub gain: Vec3,
    /// White noise per axis, mg RMS.
    pub noise_mg: f64,
    /// Sampling period, ms.
    pub period_ms: u64,
}

impl Sensor {
    /// What the part reads for a specific force `body_mg` in the garment's
    /// frame: mounted, with its gain and offset errors and noise, quantised
    /// to 4 mg and clipped to ±2 g.
    pub fn read(&self, body_mg: Vec3, rng: &mut ChaCha8Rng) -> [i16; 3] {
        let sensed = apply(&transpose(&self.mount), body_mg);
        [0, 1, 2].map(|i| {
            let mg = sensed[i] * self.gain[i] + self.offset_mg[i] + gaussian(rng) * self.noise_mg;
            let digits = (mg / DIGIT_MG).floor() * DIGIT_MG;
            digits.clamp(-FULL_SCALE_MG, FULL_SCALE_MG - DIGIT_MG) as i16
        })
    }

    /// A reading of the garment hanging still.
    pub fn at_rest(&self, rng: &mut ChaCha8Rng) -> [i16; 3] {
        self.read([0.0, 0.0, 1_000.0], rng)
    }
}

/// Normal mode at ±2 g: 10-bit samples, 4 mg per digit.
const DIGIT_MG: f64 = 4.0;
const FULL_SCALE_MG: f64 = 2_048.0;

impl Sensor {
    /// A sensor drawn from the ranges of the part's data sheet; `any_mount`
    /// lets the tag sit at any angle on the garment, otherwise it is upright
    /// within 20° and turned any way about the vertical.
    pub fn draw(rng: &mut ChaCha8Rng, period_ms: u64, any_mount: bool) -> Self {
        let mount = if any_mount {
            random_rotation(rng)
        } else {
            let yaw = rotation([0.0, 0.0, 1.0], rng.gen_range(0.0..std::f64::consts::TAU));
            let lean_axis = [rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0), 0.0];
            let n = norm(lean_axis).max(1e-9);
            let lean = rotation(
                lean_axis.map(|x| x / n),
                rng.gen_range(0.0..20f64.to_radians()),
            );
            mul(&lean, &yaw)
        };
        Sensor {
            mount,
            offset_mg: [0; 3].map(|_| rng.gen_range(-40.0..40.0)),
            gain: [0; 3].map(|_| rng.gen_range(0.97..1.03)),
            noise_mg: rng.gen_range(3.0..10.0),
            period_ms,
        }
    }

    /// The samples the tag takes of `scene`, one every `period_ms` from
    /// time 0, as `(t_ms, [x, y, z] mg)`. Each is the average specific
    /// force over the half period before it (the part's low-pass filter),
    /// with noise, quantised to 4 mg and clipped to ±2 g.
    pub fn sample(&self, scene: &Scene, rng: &mut ChaCha8Rng) -> Vec<(u64, [i16; 3])> {
        let half = (self.period_ms / 2).max(1) as usize;
        let mut out = Vec::new();
        let mut t = 0usize;
        while t < scene.poses.len() {
            let from = t.saturating_sub(half - 1);
            let mut sum = [0.0; 3];
            for i in from..=t {
                let f = scene.specific_force(i);
                for axis in 0..3 {
                    sum[axis] += f[axis];
                }
            }
            let n = (t - from + 1) as f64;
            let reading = self.read(sum.map(|s| s / n / G * 1_000.0), rng);
            out.push((t as u64, reading));
            t += self.period_ms as usize;
        }
        out
    }
}

#[cfg(test)]
mod tests;
