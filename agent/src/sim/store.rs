//! The simulated store, read from the same `store.toml` the gateway uses:
//! its entrances, fixtures, zone readers and garments become the model's
//! layout, the virtual tags' ids and EPCs, and the names the truth groups
//! by; `[[skus]]` gives the propensities.

use super::shoppers::{FixtureLayout, GarmentLayout, Layout, Propensity, ReaderKind};
use super::tags::TagIds;
use super::truth::Names;
use crate::config::{self, StoreConfig};

/// Why a valid store config cannot be simulated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the config lists no [[fixtures]]: shoppers would have nowhere to go")]
    NoFixtures,
    #[error("garment tag {tag}: EPC {epc} is not an SGTIN ({reason})")]
    BadEpc {
        tag: u32,
        epc: String,
        reason: String,
    },
    #[error("garment tag {tag}: fixture {fixture:?} is not in [[fixtures]]")]
    UnknownFixture { tag: u32, fixture: String },
}

/// The model's layout, the tags' identities and the names on HQ's events,
/// index-aligned.
pub fn from_config(cfg: &StoreConfig) -> Result<(Layout, TagIds, Names), StoreError> {
    if cfg.fixtures.is_empty() {
        return Err(StoreError::NoFixtures);
    }
    let fixtures = cfg
        .fixtures
        .iter()
        .map(|f| FixtureLayout {
            gtins: f.gtins.clone(),
        })
        .collect();
    let readers = cfg
        .readers
        .iter()
        .map(|r| match r.kind {
            config::ReaderKind::FittingRoom => ReaderKind::FittingRoom,
            config::ReaderKind::Checkout => ReaderKind::Checkout,
        })
        .collect();
    let mut garments = Vec::new();
    let mut garment_ids = Vec::new();
    for g in &cfg.garments {
        let bad = |reason: String| StoreError::BadEpc {
            tag: g.tag,
            epc: g.epc.clone(),
            reason,
        };
        let garment = crate::epc::garment_from_hex(&g.epc).map_err(|e| bad(e.to_string()))?;
        let (gtin, epc) = (garment.gtin, garment.bytes);
        let fixture = cfg
            .fixtures
            .iter()
            .position(|f| f.id == g.fixture)
            .ok_or_else(|| StoreError::UnknownFixture {
                tag: g.tag,
                fixture: g.fixture.clone(),
            })?;
        garments.push(GarmentLayout {
            fixture,
            propensity: propensity(cfg, &gtin),
            gtin,
        });
        garment_ids.push((g.tag, epc));
    }
    let ids = TagIds {
        garments: garment_ids,
        fixtures: cfg.fixtures.iter().map(|f| f.presence_tag).collect(),
        readers: cfg.readers.iter().map(|r| r.tag).collect(),
        entrances: cfg.entrances.iter().map(|e| e.tag).collect(),
    };
    let names = Names {
        store: cfg.store.clone(),
        fixtures: cfg
            .fixtures
            .iter()
            .map(|f| (f.id.clone(), f.zone.clone()))
            .collect(),
        readers: cfg.readers.iter().map(|r| r.zone.clone()).collect(),
        entrances: cfg.entrances.iter().map(|e| e.zone.clone()).collect(),
    };
    Ok((
        Layout {
            fixtures,
            garments,
            readers,
            entrances: cfg.entrances.len(),
        },
        ids,
        names,
    ))
}

/// The SKU's propensities from `[[skus]]`, defaults for what is not given.
fn propensity(cfg: &StoreConfig, gtin: &str) -> Propensity {
    let default = Propensity::default();
    match cfg.skus.iter().find(|s| s.gtin == gtin) {
        Some(s) => Propensity {
            pickup: s.pickup.unwrap_or(default.pickup),
            try_on: s.try_on.unwrap_or(default.try_on),
            purchase: s.purchase.unwrap_or(default.purchase),
        },
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_demo_store_becomes_a_layout_with_its_propensities() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/store.toml");
        let cfg = config::load(&path).expect("examples/store.toml loads");
        let (layout, ids, names) = from_config(&cfg).unwrap();
        assert_eq!(
            (layout.entrances, ids.entrances.as_slice()),
            (1, &[4001][..])
        );
        assert_eq!(names.entrances, ["main-door"]);
        assert_eq!(
            names.fixtures[0],
            ("F1".to_owned(), "womens-tops".to_owned())
        );
        assert_eq!(layout.fixtures.len(), cfg.fixtures.len());
        assert_eq!(layout.garments.len(), cfg.garments.len());
        assert_eq!(ids.garments.len(), cfg.garments.len());
        assert_eq!(
            layout.readers,
            [ReaderKind::FittingRoom, ReaderKind::Checkout]
        );
        let shirt = layout
            .garments
            .iter()
            .find(|g| g.gtin == "00614141100118")
            .expect("a linen shirt");
        assert_eq!(
            shirt.propensity,
            Propensity {
                pickup: 0.35,
                try_on: 0.5,
                purchase: 0.6
            }
        );
        for (g, garment) in layout.garments.iter().enumerate() {
            assert!(
                layout.fixtures[garment.fixture]
                    .gtins
                    .contains(&garment.gtin),
                "garment {g} hangs on its SKU's fixture"
            );
        }
    }
}
