use super::touches::{self, Lift, Style};
use super::*;
use rand::SeedableRng;

fn hanger() -> Hanger {
    Hanger {
        swing_hz: 1.0,
        damping: 0.1,
        tag_depth_m: 0.1,
    }
}

/// A noiseless, ideal sensor mounted upright.
fn ideal(period_ms: u64) -> Sensor {
    Sensor {
        mount: IDENTITY,
        offset_mg: [0.0; 3],
        gain: [1.0; 3],
        noise_mg: 0.0,
        period_ms,
    }
}

fn readings(scene: &Scene, sensor: &Sensor) -> Vec<[i16; 3]> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    sensor
        .sample(scene, &mut rng)
        .into_iter()
        .map(|(_, a)| a)
        .collect()
}

#[test]
fn a_garment_hanging_still_reads_one_g_up() {
    let mut scene = Scene::new();
    scene.rail(&hanger(), 2_000, |_| Drive::default());
    for [x, y, z] in readings(&scene, &ideal(40)) {
        assert_eq!((x, y), (0, 0));
        assert!((996..=1_000).contains(&z), "{z}");
    }
}

#[test]
fn a_swing_returns_to_rest_on_average_and_rings_at_the_hangers_frequency() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut scene = Scene::new();
    scene.rail(&hanger(), 200, |_| Drive::default());
    touches::brush(&mut scene, &hanger(), 15.0, &mut rng);
    // Four whole periods of the 1 Hz swing.
    scene.rail(&hanger(), 4_000, |_| Drive::default());
    let r = readings(&scene, &ideal(10));
    let swing = &r[r.len() - 400..];
    let across: Vec<f64> = swing.iter().map(|a| f64::from(a[1])).collect();
    let peak = across.iter().fold(0f64, |m, v| m.max(v.abs()));
    let mean = across.iter().sum::<f64>() / across.len() as f64;
    assert!(peak > 50.0, "the tag near the hook feels the swing: {peak}");
    assert!(mean.abs() < peak / 10.0, "mean {mean} vs peak {peak}");
    let crossings = across
        .windows(2)
        .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
        .count();
    assert!(
        (3..=5).contains(&crossings),
        "{crossings} upward crossings in 4 s"
    );
}

#[test]
fn a_falling_garment_reads_near_zero_g_then_lies_still() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut scene = Scene::new();
    scene.rail(&hanger(), 500, |_| Drive::default());
    touches::fall(&mut scene, 0.5..1.0, 0.05..0.1, &mut rng);
    let r = readings(&scene, &ideal(10));
    let magnitude = |a: &[i16; 3]| norm(a.map(f64::from));
    assert!(r[60..80].iter().all(|a| magnitude(a) < 200.0), "free fall");
    let floor = &r[r.len() - 100..];
    assert!(floor.iter().all(|a| (magnitude(a) - 1_000.0).abs() < 10.0));
}

#[test]
fn a_lift_tilts_the_garment_and_hangs_it_back_where_it_was() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut scene = Scene::new();
    scene.rail(&hanger(), 200, |_| Drive::default());
    let lift = Lift::draw(Style::Gentle, 4.0..4.5, &mut rng);
    let back = lift
        .play(&mut scene, &hanger(), &mut rng)
        .expect("hung back");
    scene.rail(&hanger(), 5_000, |_| Drive::default());
    let r = readings(&scene, &ideal(10));
    // Mid-hold: tilted by 15–30°, so gravity's vertical share drops.
    let held = r[(200 + 2_500) / 10];
    let tilt = (f64::from(held[2]) / norm(held.map(f64::from)))
        .acos()
        .to_degrees();
    assert!((8.0..40.0).contains(&tilt), "tilt {tilt}°");
    let last = r[r.len() - 1];
    assert!(last[2] > 990 && back < scene.len_ms(), "{last:?}");
}
