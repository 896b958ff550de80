//! `aisle online import`: streams newline-delimited JSON (files, `-` for
//! stdin, gzipped or not) into the event store as one channel's funnel
//! steps. Memory stays flat however long the input: lines are read one at a
//! time and stored in bounded transactions.
//!
//! Nothing is dropped silently: every line that is not imported is counted
//! under its reason, and the first few are named by file and line number in
//! the report printed at the end.

use super::event::{OnlineEvent, Rejection};
use super::youshu::UserKey;
use super::Format;
use crate::event_store::{DbArgs, EventStore};
use anyhow::Context;
use flate2::read::MultiGzDecoder;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Steps stored per transaction: large enough that commits (synced to
/// disk) do not dominate, small enough to keep memory flat.
const BATCH_EVENTS: usize = 20_000;
/// How often progress goes to stderr during a long import.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Rejected lines named in the report, per reason.
const SHOWN_PER_REASON: usize = 5;
/// The longest line read: a behaviour is well under a kilobyte, a GA4 row
/// with many items a few tens. A longer line is no behaviour, and reading
/// it whole would let one bad line take the memory.
pub const MAX_LINE_BYTES: u64 = 1 << 20;
/// gzip's magic number: compressed input is recognised by its content, so
/// `.gz` files and gzipped stdin both work.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    aisle online import --db hq.db --format youshu --channel miniprogram day1.ndjson.gz day2.ndjson\n  \
    zcat ga4-*.json.gz | aisle online import --db hq.db --format ga4 --channel web -\n\n\
    Reference: docs/online.md")]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// youshu: Tencent Youshu behaviours; ga4: GA4 BigQuery export rows.
    #[arg(long, value_enum)]
    format: Format,
    /// The channel these behaviours report under (`--by channel`), e.g.
    /// miniprogram, web. `store` is the tags' channel and cannot be used.
    #[arg(long)]
    channel: String,
    /// youshu: which `wx_user` field names the user.
    #[arg(long, value_enum, default_value = "open-id")]
    user_id: UserKey,
    /// Newline-delimited JSON files, gzipped or not; `-` reads stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// How many lines each reason rejected, and where the first few were.
#[derive(Debug, Default)]
pub struct Rejections {
    by_reason: BTreeMap<Rejection, (u64, Vec<String>)>,
}

impl Rejections {
    fn add(&mut self, reason: Rejection, at: impl FnOnce() -> String) {
        let (count, shown) = self.by_reason.entry(reason).or_default();
        *count += 1;
        if shown.len() < SHOWN_PER_REASON {
            shown.push(at());
        }
    }

    /// Lines not imported at all.
    pub fn total(&self) -> u64 {
        self.by_reason
            .iter()
            .filter(|(reason, _)| reason.rejects_line())
            .map(|(_, (n, _))| n)
            .sum()
    }

    /// Count and first locations of one reason.
    pub fn get(&self, reason: Rejection) -> Option<&(u64, Vec<String>)> {
        self.by_reason.get(&reason)
    }
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub lines: u64,
    /// Funnel steps read (a GA4 row holds one per item).
    pub steps: u64,
    /// Steps new to the database.
    pub stored: u64,
    pub rejected: Rejections,
}

impl ImportReport {
    /// The report for people, one reason a line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} lines read: {} funnel steps, {} stored, {} already stored; {} lines rejected\n",
            self.lines,
            self.steps,
            self.stored,
            self.steps - self.stored,
            self.rejected.total()
        );
        for (reason, (count, shown)) in &self.rejected.by_reason {
            let more = if *count > shown.len() as u64 {
                ", …"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {count} {}: {}{more}\n",
                reason.describe(),
                shown.join(", ")
            ));
        }
        out
    }
}

/// Reads the lines of `input`, gunzipping when it starts with gzip's magic.
fn lines_of(input: Box<dyn Read>) -> std::io::Result<Box<dyn BufRead>> {
    let mut buffered = BufReader::with_capacity(1 << 16, input);
    let gzipped = buffered.fill_buf()?.starts_with(&GZIP_MAGIC);
    Ok(if gzipped {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    })
}

/// The importer's state across files.
struct Importer<'a> {
    db: &'a mut EventStore,
    format: Format,
    channel: &'a str,
    user_key: UserKey,
    pending: Vec<OnlineEvent>,
    report: ImportReport,
    started: Instant,
    last_progress: Instant,
}

impl Importer<'_> {
    fn line(&mut self, name: &str, line_no: u64, bytes: &[u8]) -> anyhow::Result<()> {
        self.report.lines += 1;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // Blank lines (a trailing newline, a hand-edited file) hold no
            // behaviour.
            return Ok(());
        }
        let parsed = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or(Rejection::NotJson)
            .and_then(|value| match self.format {
                Format::Youshu => {
                    super::youshu::parse(&value, self.channel, self.user_key).map(|e| (vec![e], 0))
                }
                Format::Ga4 => super::ga4::parse(&value, self.channel),
            });
        match parsed {
            Ok((steps, skipped)) => {
                if skipped > 0 {
                    self.report
                        .rejected
                        .add(Rejection::ItemsWithoutSku, || format!("{name}:{line_no}"));
                }
                self.report.steps += steps.len() as u64;
                self.pending.extend(steps);
                if self.pending.len() >= BATCH_EVENTS {
                    self.flush()?;
                }
            }
            Err(reason) => self
                .report
                .rejected
                .add(reason, || format!("{name}:{line_no}")),
        }
        if self.report.lines.is_multiple_of(4096) && self.last_progress.elapsed() >= PROGRESS_EVERY
        {
            self.last_progress = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "aisle online import: {} lines read, {} steps stored, {:.0} lines/s",
                self.report.lines,
                self.report.stored,
                self.report.lines as f64 / secs
            );
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.report.stored += self.db.insert_online(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    fn file(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let (name, input): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
            ("stdin".to_string(), Box::new(std::io::stdin().lock()))
        } else {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            (path.display().to_string(), Box::new(file))
        };
        let mut lines = lines_of(input).with_context(|| format!("reading {name}"))?;
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let at = line_no + 1;
            let cannot_read = || format!("{name}:{at}: cannot read");
            let read = (&mut lines)
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut buf)
                .with_context(cannot_read)?;
            if read == 0 {
                return Ok(());
            }
            line_no += 1;
            if read as u64 == MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
                skip_line(&mut lines).with_context(cannot_read)?;
                self.report.lines += 1;
                self.report
                    .rejected
                    .add(Rejection::LineTooLong, || format!("{name}:{line_no}"));
                continue;
            }
            self.line(&name, line_no, &buf)?;
        }
    }
}

/// Reads past the rest of the current line without keeping it.
fn skip_line(lines: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let chunk = lines.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            lines.consume(end + 1);
            return Ok(());
        }
        let len = chunk.len();
        lines.consume(len);
    }
}

/// Imports `files` into `db` as `channel`'s steps in `format`.
pub fn import(
    db: &mut EventStore,
    format: Format,
    channel: &str,
    user_key: UserKey,
    files: &[PathBuf],
) -> anyhow::Result<ImportReport> {
    let mut importer = Importer {
        db,
        format,
        channel,
        user_key,
        pending: Vec::with_capacity(BATCH_EVENTS),
        report: ImportReport::default(),
        started: Instant::now(),
        last_progress: Instant::now(),
    };
    for path in files {
        importer.file(path)?;
    }
    importer.flush()?;
    Ok(importer.report)
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let channel = args.channel.trim();
    if channel.is_empty() {
        anyhow::bail!("--channel needs a name, e.g. miniprogram or web");
    }
    if channel == crate::funnel::engine::STORE_CHANNEL {
        anyhow::bail!("--channel store is the channel of what the tags saw; name the online channel, e.g. miniprogram");
    }
    // Every file is checked before anything is read, so a typo in the last
    // name does not stop an import half way.
    for path in args.files.iter().filter(|p| p.as_os_str() != "-") {
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    }
    let (target, credentials) = args.db.resolve()?;
    let mut db = EventStore::open(&target, &credentials)?;
    let report = import(&mut db, args.format, channel, args.user_id, &args.files)?;
    print!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}
