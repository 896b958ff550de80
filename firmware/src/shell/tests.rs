use super::*;
use crate::config::Role;
use crate::tag::BootInfo;
use protocol::{
    Command, CommandOutcome, ConfigStatus, Downlink, Frame, Message, ResetReason, Settings,
    SettingsPatch, TagEvent, Uplink,
};
use std::collections::VecDeque;
use std::vec::Vec;

const ID: u32 = 77;

/// A board whose sensors and link are queues, with a clock that jumps to
/// each sleep's deadline.
#[derive(Default)]
struct FakeBoard {
    now: u64,
    inputs: VecDeque<Input>,
    rx: VecDeque<u8>,
    sent: Vec<Uplink>,
    decoder: FrameDecoder,
    led_on: Vec<u64>,
    stored: Vec<Config>,
    /// The config page refuses writes (a worn-out flash page).
    store_fails: bool,
    wake_at: Option<u64>,
}

impl Board for FakeBoard {
    fn now_ms(&mut self) -> u64 {
        self.now
    }
    fn transmit(&mut self, frame: &[u8]) {
        for decoded in self.decoder.feed(frame) {
            if let Message::Uplink(uplink) = decoded.unwrap().message {
                self.sent.push(uplink);
            }
        }
    }
    fn receive(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.rx.len());
        for slot in &mut buf[..n] {
            *slot = self.rx.pop_front().unwrap();
        }
        n
    }
    fn sense(&mut self, _now_ms: u64) -> Option<Input> {
        self.inputs.pop_front()
    }
    fn battery_mv(&mut self) -> u16 {
        3_010
    }
    fn set_led(&mut self, on: bool) {
        if on {
            self.led_on.push(self.now);
        }
    }
    fn store_config(&mut self, config: &Config) -> Result<(), StoreFailed> {
        if self.store_fails {
            return Err(StoreFailed);
        }
        self.stored.push(*config);
        Ok(())
    }
    fn sleep_until(&mut self, deadline_ms: u64, _motion_resting: bool) {
        self.wake_at = Some(deadline_ms);
    }
}

impl FakeBoard {
    fn downlink(&mut self, downlink: Downlink) {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let len = encode(&Frame::downlink(downlink), &mut buf).unwrap();
        // Line noise first: the decoder must resynchronise.
        self.rx.extend([0x13, 0x37, 0x00]);
        self.rx.extend(&buf[..len]);
    }
}

fn presence_shell() -> Shell<8> {
    let boot = BootInfo {
        boot: 4,
        reset_reason: ResetReason::Pin,
        config_status: ConfigStatus::Loaded,
    };
    Shell::new(Tag::new(0, Config::fallback(ID, Role::Presence), boot))
}

#[test]
fn step_sends_events_and_acks_over_the_link_release_them() {
    let mut board = FakeBoard::default();
    let mut shell = presence_shell();
    shell.step(&mut board);
    assert!(matches!(board.sent[0].event, TagEvent::Boot { .. }));
    board.inputs.push_back(Input::Presence(true));
    board.now = 1_000;
    shell.step(&mut board);
    board.now = 9_000;
    shell.step(&mut board);
    assert_eq!(
        board.sent.last().map(|u| &u.event),
        Some(&TagEvent::DwellStart)
    );

    for uplink in board.sent.clone() {
        board.downlink(Downlink::Ack {
            tag: ID,
            boot: 4,
            seq: uplink.seq,
        });
    }
    board.now = 9_100;
    shell.step(&mut board);
    assert!(shell.tag().outbox().is_empty());
}

#[test]
fn configure_downlink_is_persisted_by_the_board() {
    let mut board = FakeBoard::default();
    let mut shell = presence_shell();
    let settings = Settings {
        dwell_min_ms: 1_000,
        ..Settings::default()
    };
    board.downlink(Downlink::Configure { tag: ID, settings });
    board.downlink(Downlink::Configure {
        tag: ID + 1,
        settings: Settings::default(),
    });
    shell.step(&mut board);
    assert_eq!(board.stored.len(), 1);
    assert_eq!(board.stored[0].settings, settings);
}

#[test]
fn identify_blinks_the_led_and_wakes_to_toggle_it() {
    let mut board = FakeBoard::default();
    let mut shell = presence_shell();
    board.downlink(Downlink::Identify {
        tag: ID,
        duration_ms: 2_000,
    });
    while board.now < 5_000 {
        shell.step(&mut board);
        board.now = board.wake_at.unwrap().max(board.now + 1);
    }
    assert!(!board.led_on.is_empty());
    assert!(
        board.led_on.iter().all(|&t| t < 2_000),
        "{:?}",
        board.led_on
    );
    // On for half of each 500 ms period: several separate blinks.
    assert!(board.led_on.len() >= 3, "{:?}", board.led_on);
}

fn dwell_min_command(id: u16, dwell_min_ms: u32) -> Downlink {
    let mut changes = SettingsPatch::default();
    changes.set("dwell_min_ms", dwell_min_ms).unwrap();
    Downlink::Command {
        tag: ID,
        id,
        command: Command::Configure { changes },
    }
}

fn confirmations(board: &FakeBoard) -> Vec<TagEvent> {
    board
        .sent
        .iter()
        .filter(|u| matches!(u.event, TagEvent::CommandDone { .. }))
        .map(|u| u.event.clone())
        .collect()
}

#[test]
fn a_configure_command_is_persisted_then_confirmed_over_the_link() {
    let mut board = FakeBoard::default();
    let mut shell = presence_shell();
    board.downlink(dwell_min_command(41, 1_000));
    shell.step(&mut board);
    assert_eq!(board.stored.len(), 1);
    assert_eq!(board.stored[0].settings.dwell_min_ms, 1_000);
    assert_eq!(
        confirmations(&board),
        [TagEvent::CommandDone {
            id: 41,
            outcome: CommandOutcome::Applied
        }]
    );
    // The gateway did not hear the confirmation and resends: confirmed
    // again, the page not written again.
    board.downlink(dwell_min_command(41, 1_000));
    board.now = 100;
    shell.step(&mut board);
    assert_eq!(board.stored.len(), 1);
    // Retransmissions repeat a seq; a second confirmation is a new event.
    let events: std::collections::BTreeSet<_> = board
        .sent
        .iter()
        .filter(|u| matches!(u.event, TagEvent::CommandDone { id: 41, .. }))
        .map(|u| u.seq)
        .collect();
    assert_eq!(events.len(), 2, "two confirmation events: {events:?}");
}

#[test]
fn a_configure_command_the_page_refuses_is_confirmed_not_persisted() {
    let mut board = FakeBoard {
        store_fails: true,
        ..FakeBoard::default()
    };
    let mut shell = presence_shell();
    board.downlink(dwell_min_command(42, 1_000));
    shell.step(&mut board);
    assert_eq!(
        confirmations(&board),
        [TagEvent::CommandDone {
            id: 42,
            outcome: CommandOutcome::NotPersisted
        }]
    );
    assert_eq!(shell.tag().config().settings.dwell_min_ms, 1_000);
}
