//! The real-time shell over a real pseudo-terminal pair, with a stand-in
//! gateway on the other end that acks (or does not).

use super::*;
use protocol::{Downlink, FrameDecoder, Message};
use tokio::io::AsyncReadExt;

fn demo_store() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/store.toml")
}

/// A quiet store: nobody shops, so the tags only boot.
fn quiet_plan() -> Plan {
    let window = clock::span(shoppers::MIN_WINDOW_MS);
    plan(&demo_store(), 1, Duration::from_secs(1), window, 0.0).unwrap()
}

fn options(faults: Faults, ack_timeout: Duration) -> DriveOptions {
    DriveOptions {
        faults,
        seed: 3,
        ack_timeout,
        log_progress: false,
    }
}

/// Which uplinks the stand-in gateway acks.
#[derive(Clone, Copy, PartialEq)]
enum Acks {
    /// Only the second copy of each event: the first ack is "lost".
    Retransmissions,
    None,
}

/// Reads uplinks from `port` and acks them as `acks` says.
async fn gateway(port: tokio_serial::SerialStream, acks: Acks) {
    let mut seen = std::collections::HashSet::new();
    let (mut rd, mut wr) = tokio::io::split(port);
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 1024];
    let mut frame = [0u8; MAX_ENCODED_LEN];
    while let Ok(n) = rd.read(&mut buf).await {
        if n == 0 {
            return;
        }
        let uplinks: Vec<_> = decoder
            .feed(&buf[..n])
            .filter_map(Result::ok)
            .filter_map(|f| match f.message {
                Message::Uplink(u) => Some(u),
                Message::Downlink(_) => None,
            })
            .collect();
        let first_copies: Vec<bool> = uplinks
            .iter()
            .map(|u| seen.insert((u.tag, u.seq)))
            .collect();
        for (u, first) in uplinks.into_iter().zip(first_copies) {
            if acks == Acks::None || first {
                continue;
            }
            let ack = Downlink::Ack {
                tag: u.tag,
                boot: u.boot,
                seq: u.seq,
            };
            let len = encode(&Frame::downlink(ack), &mut frame).unwrap();
            wr.write_all(&frame[..len]).await.unwrap();
        }
    }
}

#[tokio::test]
async fn returns_once_shopping_is_over_and_every_event_is_acked() {
    let plan = quiet_plan();
    let (sim_end, gateway_end) = tokio_serial::SerialStream::pair().unwrap();
    // Each event's first ack is lost: the outbox sends it again 2 s on.
    tokio::spawn(gateway(gateway_end, Acks::Retransmissions));
    let (progress, _) = watch::channel(Progress::default());
    let done = drive(
        sim_end,
        &plan,
        options(Faults::default(), Duration::from_secs(10)),
        progress,
    )
    .await
    .expect("every event acked");
    assert_eq!(done.unacked, 0);
    assert_eq!(done.tags.acked, done.tags.events, "{done:?}");
    assert_eq!(
        done.tags.events,
        (plan.ids.garments.len()
            + plan.ids.fixtures.len()
            + plan.ids.readers.len()
            + plan.ids.entrances.len()) as u64,
        "one Boot per tag"
    );
    assert_eq!(
        done.tags.frames,
        2 * done.tags.events,
        "each event sent twice: {done:?}"
    );
    assert!(done.now_ms >= plan.shopping_ms);
}

#[tokio::test]
async fn gives_up_with_a_reason_when_nobody_acks() {
    let plan = quiet_plan();
    let (sim_end, gateway_end) = tokio_serial::SerialStream::pair().unwrap();
    tokio::spawn(gateway(gateway_end, Acks::None));
    let (progress, _) = watch::channel(Progress::default());
    let err = drive(
        sim_end,
        &plan,
        options(Faults::default(), Duration::from_secs(2)),
        progress,
    )
    .await
    .expect_err("nothing was acked");
    let message = err.to_string();
    assert!(
        message.contains("events still unacked") && message.contains("aisle gateway"),
        "{message}"
    );
}
