//! `aisle epc`: the technicians' EPC tool. Decodes the hex a handheld reader
//! shows into GTIN, serial and GS1 URIs, and encodes a GTIN and serial into
//! the hex to write to a tag, with the codec in `protocol::epc`.

use anyhow::Context;
use protocol::epc::{Scheme, Sgtin};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Decode an SGTIN-96 / SGTIN-198 EPC given as hex.
    Decode {
        /// The EPC as hex, e.g. 3074257BF7194E4000001A85.
        hex: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Encode a GTIN and serial as an EPC and print it as upper-case hex.
    #[command(after_help = "Example (the GS1 Tag Data Standard's; prints \
        3074257BF7194E4000001A85):\n  \
        aisle epc encode --gtin 80614141123458 --serial 6789 --company-prefix-len 7 --filter 3")]
    Encode {
        /// GTIN with its check digit: GTIN-14, or a GTIN-8/12/13 (EAN/UPC),
        /// which is padded with leading zeros.
        #[arg(long)]
        gtin: String,
        /// The garment's serial: a number for sgtin-96; up to 20 GS1
        /// characters for sgtin-198 (which may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        serial: String,
        /// Digits in the brand's GS1 company prefix (6 to 12).
        #[arg(long, allow_hyphen_values = true, value_parser = company_prefix_len)]
        company_prefix_len: usize,
        /// Filter value, 0 to 7 (1 = point-of-sale item).
        #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = filter)]
        filter: u8,
        /// Binary scheme: sgtin-96 or sgtin-198.
        #[arg(long, default_value = "sgtin-96")]
        scheme: String,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Decode { hex, json } => {
            let sgtin = Sgtin::decode_hex(&hex)
                .with_context(|| format!("cannot decode EPC {:?}", hex.trim()))?;
            if json {
                println!("{}", decoded_json(&sgtin));
            } else {
                print!("{}", decoded_text(&sgtin));
            }
        }
        Command::Encode {
            gtin,
            serial,
            company_prefix_len,
            filter,
            scheme,
        } => {
            // Parsed here rather than by clap so a typo gets the same one-line
            // error as every other bad input.
            let scheme: Scheme = scheme.parse()?;
            let gtin = gtin14(&gtin);
            let hex = Sgtin::from_gtin(&gtin, &serial, company_prefix_len, filter, scheme)
                .and_then(|sgtin| sgtin.encode_hex())
                .with_context(|| {
                    format!("cannot encode GTIN {gtin} serial {serial:?} as {scheme}")
                })?;
            println!("{hex}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// The two number flags are parsed here, not by clap's integer parsers, so
// the message states the flag's real range instead of its type's (0..=255),
// and they take hyphen values so `-1` is judged as a value, not an option.
// The codec checks the ranges again with the rest of the EPC.

fn company_prefix_len(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (6..=12).contains(n))
        .ok_or_else(|| "must be a number of digits from 6 to 12".to_string())
}

fn filter(s: &str) -> Result<u8, String> {
    s.parse::<u8>()
        .ok()
        .filter(|f| *f <= 7)
        .ok_or_else(|| "must be a filter value from 0 to 7 (1 = point-of-sale item)".to_string())
}

/// Labels carry GTIN-13 (EAN) or GTIN-12 (UPC); as a GTIN-14 they gain
/// leading zeros, which leave the check digit unchanged.
fn gtin14(gtin: &str) -> String {
    let is_short_gtin =
        matches!(gtin.len(), 8 | 12 | 13) && gtin.bytes().all(|b| b.is_ascii_digit());
    if is_short_gtin {
        format!("{gtin:0>14}")
    } else {
        gtin.to_string()
    }
}

fn decoded_json(sgtin: &Sgtin) -> serde_json::Value {
    serde_json::json!({
        "scheme": sgtin.scheme.as_str(),
        "filter": sgtin.filter,
        "partition": sgtin.partition,
        "company_prefix": sgtin.company_prefix,
        "item_reference": sgtin.item_reference,
        "serial": sgtin.serial,
        "gtin": sgtin.gtin(),
        "tag_uri": sgtin.tag_uri(),
        "pure_uri": sgtin.pure_uri(),
    })
}

fn decoded_text(sgtin: &Sgtin) -> String {
    let rows = [
        ("scheme", sgtin.scheme.to_string()),
        ("filter", sgtin.filter.to_string()),
        ("partition", sgtin.partition.to_string()),
        ("company prefix", sgtin.company_prefix.clone()),
        ("item reference", sgtin.item_reference.clone()),
        ("serial", sgtin.serial.clone()),
        ("GTIN", sgtin.gtin()),
        ("tag URI", sgtin.tag_uri()),
        ("pure URI", sgtin.pure_uri()),
    ];
    rows.iter()
        .map(|(name, value)| format!("{name:<15} {value}\n"))
        .collect()
}
