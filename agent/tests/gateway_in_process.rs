//! The gateway started in-process through the library, as a test or another
//! program embeds it: `serve` takes its shutdown signal as an argument and
//! says when it is ready, with a real Mosquitto and a real pty receiver.

use aisle_agent::{config, gateway};
use aisle_system_tests::{assert_delivered, pickups, Faults, GatewayRig, STEP};
use std::sync::mpsc;
use tokio::sync::oneshot;

#[test]
fn serves_in_process_until_its_shutdown_future_completes() {
    let rig = GatewayRig::new(|_| {});
    let config_file = rig.args.config.clone();
    let cfg = config::load(&config_file).expect("the rig's store.toml is valid");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let serving = std::thread::spawn(move || {
        let shutdown = async {
            let _ = stop_rx.await;
        };
        let result = runtime.block_on(gateway::serve(cfg, &config_file, shutdown, ready_tx));
        let _ = done_tx.send(result.map_err(|e| format!("{e:#}")));
    });

    ready_rx
        .blocking_recv()
        .expect("the gateway becomes ready: connected, its receiver open");
    let events = pickups(rig.store.garment_tags(), 1, 0..5);
    rig.tags.deliver(&events, STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    rig.sub
        .wait_status("the gateway's online status", STEP, |s| {
            s["state"] == "online"
        });

    stop_tx.send(()).unwrap();
    let result = done_rx
        .recv_timeout(STEP)
        .expect("serve returns within the grace period once asked to stop");
    assert_eq!(result, Ok(()));
    serving.join().unwrap();
}
