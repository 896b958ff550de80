//! The store map's rules: unique fixture ids, each tag id in one role,
//! named reader and entrance zones, GTINs with valid check digits, SKUs
//! listed once with probabilities, and garment EPCs whose GTIN their
//! fixture shows.

use super::{Key, Validator, I, N};
use crate::config::StoreConfig;
use crate::epc;
use std::collections::HashMap;

impl Validator<'_> {
    pub(super) fn check_store_map(&mut self, c: &StoreConfig) {
        // Every tag id may have one role; remember where each was first used.
        let mut tags: HashMap<u32, Vec<Key>> = HashMap::new();
        let mut claim = |v: &mut Self, tag: u32, path: Vec<Key<'static>>| {
            if let Some(first) = tags.get(&tag) {
                let line = v.line_of(first);
                v.error(
                    &path,
                    format!("tag id {tag} is used twice (first at line {line})"),
                    "each tag id belongs to one fixture, reader, entrance or garment; fix one of them",
                );
            } else {
                tags.insert(tag, path);
            }
        };
        let mut fixtures: HashMap<&str, usize> = HashMap::new();
        for (i, f) in c.fixtures.iter().enumerate() {
            if f.id.is_empty() {
                self.error(
                    &[N("fixtures"), I(i), N("id")],
                    "fixture id is empty".into(),
                    "give each fixture a short unique id such as \"F1\"",
                );
            }
            if let Some(&first) = fixtures.get(f.id.as_str()) {
                let line = self.line_of(&[N("fixtures"), I(first), N("id")]);
                self.error(
                    &[N("fixtures"), I(i), N("id")],
                    format!("duplicate fixture id {:?} (first at line {line})", f.id),
                    "give each fixture a unique id",
                );
            } else {
                fixtures.insert(&f.id, i);
            }
            claim(
                self,
                f.presence_tag,
                vec![N("fixtures"), I(i), N("presence_tag")],
            );
            for (g, gtin) in f.gtins.iter().enumerate() {
                self.check_gtin(gtin, &[N("fixtures"), I(i), N("gtins"), I(g)]);
            }
        }
        for (i, r) in c.readers.iter().enumerate() {
            claim(self, r.tag, vec![N("readers"), I(i), N("tag")]);
            if r.zone.is_empty() {
                self.error(
                    &[N("readers"), I(i), N("zone")],
                    "reader zone is empty".into(),
                    "name the fitting room or checkout, e.g. \"fitting-room-1\"",
                );
            }
        }
        for (i, e) in c.entrances.iter().enumerate() {
            claim(self, e.tag, vec![N("entrances"), I(i), N("tag")]);
            if e.zone.is_empty() {
                self.error(
                    &[N("entrances"), I(i), N("zone")],
                    "entrance zone is empty".into(),
                    "name the door, e.g. \"main-door\"",
                );
            }
        }
        let mut skus: HashMap<&str, usize> = HashMap::new();
        for (i, s) in c.skus.iter().enumerate() {
            self.check_gtin(&s.gtin, &[N("skus"), I(i), N("gtin")]);
            if let Some(&first) = skus.get(s.gtin.as_str()) {
                let line = self.line_of(&[N("skus"), I(first), N("gtin")]);
                self.error(
                    &[N("skus"), I(i), N("gtin")],
                    format!("SKU {} is listed twice (first at line {line})", s.gtin),
                    "merge the two entries",
                );
            } else {
                skus.insert(&s.gtin, i);
            }
            for (key, p) in [
                ("pickup", s.pickup),
                ("try_on", s.try_on),
                ("purchase", s.purchase),
            ] {
                if p.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                    self.error(
                        &[N("skus"), I(i), N(key)],
                        format!("{key} must be a probability from 0 to 1"),
                        "e.g. 0.35",
                    );
                }
            }
        }
        for (i, g) in c.garments.iter().enumerate() {
            claim(self, g.tag, vec![N("garments"), I(i), N("tag")]);
            let fixture = fixtures.get(g.fixture.as_str()).map(|&f| &c.fixtures[f]);
            if fixture.is_none() {
                self.error(
                    &[N("garments"), I(i), N("fixture")],
                    format!("fixture {:?} is not defined", g.fixture),
                    "use the id of one of the [[fixtures]]",
                );
            }
            let path = [N("garments"), I(i), N("epc")];
            match epc::garment_from_hex(&g.epc) {
                Err(_) => self.error(
                    &path,
                    format!("EPC {:?} is not an SGTIN-96/198 in hex", g.epc),
                    "write the EPC as hex, e.g. 3074257BF7194E4000001A85 (see `aisle epc decode`)",
                ),
                Ok(garment) => {
                    let gtin = garment.gtin;
                    if let Some(f) = fixture.filter(|f| !f.gtins.contains(&gtin)) {
                        self.error(&path, format!("EPC's GTIN {gtin} is not on fixture {:?}", f.id), "add the GTIN to the fixture's gtins, or move the garment to the right fixture");
                    }
                }
            }
        }
    }

    fn check_gtin(&mut self, gtin: &str, path: &[Key]) {
        if !epc::is_valid_gtin14(gtin) {
            self.error(
                path,
                format!("GTIN {gtin:?} is not 14 digits with a valid check digit"),
                "check the last digit (GS1 mod-10); pad shorter GTINs with leading zeros",
            );
        }
    }
}
