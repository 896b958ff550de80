use super::*;

#[test]
fn motion_trace_parses_and_every_bad_row_is_reported_with_its_line() {
    let good = "t_ms,x_mg,y_mg,z_mg\n0,0,0,1000\n40,4,-8,996\n";
    let trace = parse(ReplayRole::Motion, good).unwrap();
    assert_eq!(
        trace.samples,
        vec![
            (0, Sample::Accel([0, 0, 1000])),
            (40, Sample::Accel([4, -8, 996]))
        ]
    );

    let bad =
        "t_ms,x_mg,y_mg,z_mg\n100,0,0,1000\n140,0,1000\n180,0,x,1000\n20,0,0,1000\n220,0,0,99999\n";
    let rows = parse(ReplayRole::Motion, bad).unwrap_err();
    let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{rows:?}");
    assert!(rows[0].reason.contains("expected 4 fields"), "{}", rows[0]);
    assert!(rows[1].reason.contains("y_mg \"x\""), "{}", rows[1]);
    assert!(rows[2].reason.contains("goes back in time"), "{}", rows[2]);
    assert!(rows[3].reason.contains("z_mg \"99999\""), "{}", rows[3]);
}

#[test]
fn wrong_header_names_the_expected_columns() {
    let rows = parse(ReplayRole::Presence, "t_ms,x_mg,y_mg,z_mg\n0,0,0,1000\n").unwrap_err();
    assert_eq!(rows[0].line, 1);
    assert!(rows[0].reason.contains("`t_ms,present`"), "{}", rows[0]);
}

/// A garment hanging still at 25 Hz for `ms`, starting at `from`.
fn hanging(from: u64, ms: u64, accel: [i16; 3]) -> Vec<(u64, Sample)> {
    (0..ms / 40)
        .map(|i| (from + i * 40, Sample::Accel(accel)))
        .collect()
}

#[test]
fn motion_replay_reports_a_lift_and_the_put_down_like_the_tag() {
    let mut samples = hanging(0, 2_000, [0, 0, 1000]);
    // Lifted and held tilted by about 40°.
    samples.extend(hanging(2_000, 4_000, [640, 0, 770]));
    samples.extend(hanging(6_000, 8_000, [0, 0, 1000]));
    let trace = Trace {
        role: ReplayRole::Motion,
        samples,
    };
    let events = replay(&trace, &Settings::default(), &PickupTuning::default());
    let names: Vec<&str> = events.iter().map(|e| e.event.name()).collect();
    assert_eq!(names, ["picked_up", "put_down"], "{events:?}");
    assert!((2_000..4_000).contains(&events[0].t_ms), "{events:?}");
    assert_eq!(
        events[1].to_json(),
        format!(
            "{{\"event\":\"put_down\",\"t_ms\":{},\"held_ms\":4000}}",
            events[1].t_ms
        )
    );
}

#[test]
fn presence_replay_ends_a_visit_after_the_trace_when_its_gap_runs_out() {
    let settings = Settings::default();
    let text = "t_ms,present\n0,0\n1000,1\n12000,0\n";
    let trace = parse(ReplayRole::Presence, text).unwrap();
    let events = replay(&trace, &settings, &PickupTuning::default());
    let start_at = 1_000 + u64::from(settings.dwell_min_ms);
    let end_at = 12_000 + u64::from(settings.dwell_gap_ms);
    assert_eq!(
        events,
        vec![
            Replayed {
                t_ms: start_at,
                event: ReplayEvent::Dwell(DwellEvent::DwellStart)
            },
            Replayed {
                t_ms: end_at,
                event: ReplayEvent::Dwell(DwellEvent::DwellEnd { dwell_ms: 11_000 })
            },
        ]
    );
    assert_eq!(
        events[1].to_string(),
        format!(
            "{:>9.3} s  dwell_end  dwell 11.000 s",
            end_at as f64 / 1000.0
        )
    );
}
