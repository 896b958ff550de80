//! A full disk under the spool: the gateway keeps running and reading, acks
//! only what it committed, counts the failures, and recovers by itself once
//! HQ is reachable again. The spool sits on a small tmpfs mounted by the
//! test, so the disk really fills (needs root, as in CI).

use aisle_system_tests::delivery::ids_of;
use aisle_system_tests::tags::key_of;
use aisle_system_tests::{pickups, wait_until, EventKey, GatewayRig, STEP};
use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A tmpfs of a fixed size, unmounted on drop (also when the test panics).
/// Declared before the rig, so it outlives the gateway writing to it.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        assert!(
            effective_uid() == Some(0),
            "this test mounts a {size} tmpfs to fill the spool's disk, which needs root; \
             run it as root (CI does), e.g. `sudo -E cargo test -p aisle-system-tests --test gateway_disk_full`"
        );
        let dir = tempfile::Builder::new()
            .prefix("aisle-disk-")
            .tempdir()
            .expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("aisle-test-spool")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs on {} failed: {}",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    /// Grows (or shrinks) the mounted file system in place.
    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remounting {} with size={size} failed: {}",
            self.dir.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let plain = Command::new("umount").arg(self.dir.path()).status();
        if !plain.is_ok_and(|s| s.success()) {
            // Something still holds a file open: detach it anyway so no
            // mount outlives the test.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// The effective uid, from /proc (no libc call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// CPU time (user + system, in clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Fills the file system of `dir` with a file of zeros, as a runaway log
/// would, and returns its path.
fn fill_with_ballast(dir: &Path) -> PathBuf {
    let path = dir.join("ballast");
    let mut file = std::fs::File::create(&path).expect("create the ballast file");
    let block = vec![0u8; 4096];
    loop {
        match file.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return path,
            Err(e) => panic!("writing {}: {e}", path.display()),
        }
    }
}

/// Sends chunks of events from `tags` (boot 1, from `first_seq` on), each
/// acked before the next, until a commit fails; returns the events of the
/// failing chunk that were not acked.
fn feed_until_a_commit_fails(rig: &GatewayRig, tags: &[u32], first_seq: u16) -> HashSet<EventKey> {
    let gateway = rig.gateway.as_ref().expect("gateway started");
    // Chunks are sent once, and input written before the gateway opens the
    // port is discarded; with HQ down there is no status to wait for.
    wait_until("the receiver open", STEP, || {
        gateway.log_text().contains("receiver open").then_some(())
    });
    let mut next_seq = first_seq;
    let full = loop {
        assert!(
            next_seq < 20_000,
            "sent {} events to a small disk and every commit succeeded",
            next_seq as usize * tags.len()
        );
        let chunk = pickups(tags.iter().copied(), 1, next_seq..next_seq + 25);
        next_seq += 25;
        for event in &chunk {
            rig.tags.send(event).expect("write to the receiver");
        }
        let keys: HashSet<EventKey> = chunk.iter().map(key_of).collect();
        let failed = wait_until("the chunk acked or a commit failure", STEP, || {
            if gateway.log_text().contains("spool commit failed") {
                Some(true)
            } else {
                keys.is_subset(&rig.tags.acked()).then_some(false)
            }
        });
        if failed {
            break keys;
        }
    };
    let unacked: HashSet<EventKey> = full.difference(&rig.tags.acked()).copied().collect();
    assert!(
        !unacked.is_empty(),
        "a commit failed yet every event of the chunk was acked"
    );
    unacked
}

/// With the disk full, HQ down and the tags quiet, the gateway waits.
/// A gateway whose spool lives on `disk`, reporting its status every
/// second, started while HQ's broker is down.
fn offline_gateway_spooling_on(disk: &Tmpfs) -> GatewayRig {
    let mut rig = GatewayRig::new(|store| {
        store.spool = disk.path().join("spool.sqlite");
        store.status_interval_s = Some(1);
    });
    rig.broker.stop();
    rig.start_gateway();
    rig
}

/// None of `unacked` (events whose commit failed) has been acked since.
fn assert_none_acked(rig: &GatewayRig, unacked: &HashSet<EventKey>) {
    assert!(
        unacked.is_disjoint(&rig.tags.acked()),
        "events acked while the disk was still full"
    );
}

fn assert_running_without_spinning(rig: &mut GatewayRig) {
    assert!(
        rig.gateway().is_running(),
        "the gateway exited on a full disk"
    );
    let pid = rig.gateway().pid();
    let (ticks, start) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - ticks;
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        (used as f64) < 0.3 * elapsed * 100.0,
        "gateway used {used} ticks of CPU in {elapsed:.2}s on a full disk"
    );
}

/// With space back: the tags' resent events are acked, the spool drains
/// without a restart, and delivered + dropped_at_cap = acked.
fn assert_recovers_and_accounts_for_every_event(rig: &mut GatewayRig) {
    let all_sent = rig.tags.sent();
    rig.tags.retransmit_until_acked(all_sent.clone(), STEP);
    let status = rig.sub.wait_status(
        "status with the spool drained and the failures counted",
        STEP,
        // Every event is a funnel event: once all are spooled and none is
        // left, each was delivered or dropped.
        |s| {
            s["spool_depth"].as_u64() == Some(0)
                && s["spooled"].as_u64().unwrap_or(0) >= all_sent.len() as u64
        },
    );
    assert!(
        status["spool_errors"].as_u64().unwrap_or(0) > 0,
        "spool_errors does not count the failed commits: {status}"
    );
    assert!(rig.gateway().is_running(), "the gateway exited");
    rig.sub.barrier(STEP);

    let acked = ids_of(rig.store_id(), &rig.tags.acked());
    assert_eq!(acked.len(), all_sent.len(), "every event acked in the end");
    let dropped = status["dropped_at_cap"].as_u64().unwrap() as usize;
    let counts = rig.sub.id_counts();
    let phantoms: Vec<&String> = counts.keys().filter(|id| !acked.contains(*id)).collect();
    assert!(
        phantoms.is_empty(),
        "delivered but never acked: {phantoms:?}"
    );
    // One connection, never lost: a failed delete must not make the
    // gateway send a delivered event again.
    let repeats: Vec<(&String, &usize)> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        repeats.is_empty(),
        "delivered more than once without a reconnect: {repeats:?}"
    );
    let mut missing: Vec<&String> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    missing.sort();
    assert_eq!(
        counts.len() + dropped,
        acked.len(),
        "delivered ({}) + dropped_at_cap ({dropped}) must account for every acked event; \
         not delivered: {missing:?}; last status: {status}",
        counts.len()
    );
}

#[test]
fn on_a_full_disk_acks_only_committed_events_and_recovers_once_space_is_freed() {
    let disk = Tmpfs::mount("4m");
    let mut rig = offline_gateway_spooling_on(&disk);
    let tags: Vec<u32> = rig.store.garment_tags().collect();
    // A backlog, committed and acked while HQ is unreachable.
    rig.tags
        .deliver(&pickups(tags.iter().copied(), 1, 0..25), STEP);

    // Something else fills the disk; the tags keep sending.
    let ballast = fill_with_ballast(disk.path());
    let unacked = feed_until_a_commit_fails(&rig, &tags, 25);
    assert_running_without_spinning(&mut rig);

    // HQ back while the disk is still full: the backlog goes out, status
    // tells store IT, and the gateway still reads every frame.
    rig.broker.start_again();
    let status = rig
        .sub
        .wait_status("status counting the failed commits", STEP, |s| {
            s["spool_errors"].as_u64().unwrap_or(0) > 0
        });
    let received = status["received"].as_u64().unwrap();
    let probe = pickups(tags.iter().copied().take(1), 2, 0..1);
    rig.tags.send(&probe[0]).expect("write to the receiver");
    rig.sub
        .wait_status("the gateway to read a frame on a full disk", STEP, |s| {
            s["received"].as_u64().unwrap_or(0) > received
        });
    assert_none_acked(&rig, &unacked);

    // Space freed: the tags' resent events are acked and delivered, and the
    // spool drains, without restarting anything.
    std::fs::remove_file(&ballast).expect("remove the ballast");
    assert_recovers_and_accounts_for_every_event(&mut rig);
}

#[test]
fn fills_the_disk_with_its_own_spool_and_recovers_once_the_disk_grows() {
    // A spool cap far above the disk: the spool itself fills it.
    let disk = Tmpfs::mount("1m");
    let mut rig = offline_gateway_spooling_on(&disk);
    let tags: Vec<u32> = rig.store.garment_tags().collect();
    let unacked = feed_until_a_commit_fails(&rig, &tags, 0);
    assert_running_without_spinning(&mut rig);

    // HQ back: the spool is sent even though nothing can be deleted yet.
    rig.broker.start_again();
    rig.sub
        .wait_status("status counting the failed commits", STEP, |s| {
            s["spool_errors"].as_u64().unwrap_or(0) > 0
        });
    assert_none_acked(&rig, &unacked);

    // Store IT grows the file system.
    disk.resize("8m");
    assert_recovers_and_accounts_for_every_event(&mut rig);
}

#[test]
fn deletes_delivered_events_from_a_disk_its_own_spool_filled_and_ingests_again() {
    // A spool cap far above the disk: the spool itself fills it, and the
    // disk never grows in this test. Room for the spool's 4 MiB disk
    // reserve and a few thousand events.
    let disk = Tmpfs::mount("8m");
    let mut rig = offline_gateway_spooling_on(&disk);
    let tags: Vec<u32> = rig.store.garment_tags().collect();
    // Events of later commits may be acked once the disk-full drop made
    // room; the point here is what happens to the delivered ones.
    feed_until_a_commit_fails(&rig, &tags, 0);
    assert_running_without_spinning(&mut rig);

    // HQ back on the still-full disk: delivered events must leave the spool.
    rig.broker.start_again();
    rig.sub
        .wait_status("the spool emptied on the full disk", STEP, |s| {
            s["spool_depth"].as_u64() == Some(0)
        });
    // The room the deletes made takes the tags' resent events.
    assert_recovers_and_accounts_for_every_event(&mut rig);
    let log = rig.gateway().log_text();
    assert!(
        log.contains("max_bytes is more than the free space"),
        "no warning at start that the cap exceeds the disk:\n{log}"
    );
}
