//! The product catalog: a CSV mapping each GTIN to its SKU code, style, name,
//! colour and size, so reports can be keyed by SKU code or by style.
//!
//! Format (header required, columns in this order, RFC 4180 quoting):
//! `gtin,sku,style,name,colour,size`.

use super::csv::ShapeError;
use std::collections::HashMap;

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub sku: String,
    pub style: String,
    pub name: String,
    pub colour: String,
    pub size: String,
}

/// GTIN → catalog entry. Empty when no catalog was given.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    items: HashMap<String, CatalogItem>,
    /// SKU code → GTIN, for online behaviours, which name the merchant's SKU
    /// code. A code listed for several GTINs maps to the first listed.
    gtins: HashMap<String, String>,
}

/// A catalog file that cannot be read as the expected CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("line 1: the header must be `gtin,sku,style,name,colour,size`, found `{0}`")]
    Header(String),
    #[error("line {line}: expected 6 fields (gtin,sku,style,name,colour,size), found {found}")]
    Fields { line: usize, found: usize },
    #[error("line {line}: unterminated quoted field")]
    Quote { line: usize },
    #[error("line {line}: GTIN `{gtin}` is listed twice (first on line {first})")]
    Duplicate {
        line: usize,
        gtin: String,
        first: usize,
    },
}

const HEADER: [&str; 6] = ["gtin", "sku", "style", "name", "colour", "size"];

impl From<ShapeError> for CatalogError {
    fn from(e: ShapeError) -> Self {
        match e {
            ShapeError::Header(found) => CatalogError::Header(found),
            ShapeError::Fields { line, found } => CatalogError::Fields { line, found },
            ShapeError::Quote { line } => CatalogError::Quote { line },
        }
    }
}

impl Catalog {
    /// Parses the catalog CSV text. Blank lines are skipped.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut items = HashMap::new();
        let mut gtins = HashMap::new();
        let mut first_line = HashMap::new();
        for record in super::csv::records(text, HEADER)? {
            let (line_no, [gtin, sku, style, name, colour, size]) = record?;
            let gtin = gtin.trim().to_string();
            if let Some(&first) = first_line.get(&gtin) {
                return Err(CatalogError::Duplicate {
                    line: line_no,
                    gtin,
                    first,
                });
            }
            first_line.insert(gtin.clone(), line_no);
            gtins.entry(sku.clone()).or_insert_with(|| gtin.clone());
            items.insert(
                gtin,
                CatalogItem {
                    sku,
                    style,
                    name,
                    colour,
                    size,
                },
            );
        }
        Ok(Catalog { items, gtins })
    }

    pub fn get(&self, gtin: &str) -> Option<&CatalogItem> {
        self.items.get(gtin)
    }

    /// Every entry, by GTIN, in no particular order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &CatalogItem)> {
        self.items.iter().map(|(gtin, item)| (gtin.as_str(), item))
    }

    /// The SKU code of `gtin`: the catalog's, or the GTIN itself.
    pub fn sku<'a>(&'a self, gtin: &'a str) -> &'a str {
        self.get(gtin).map_or(gtin, |item| item.sku.as_str())
    }

    /// The GTIN the catalog lists for the merchant's SKU code `sku`.
    pub fn gtin_of_sku(&self, sku: &str) -> Option<&str> {
        self.gtins.get(sku).map(String::as_str)
    }

    /// The style of `gtin`, if the catalog lists it.
    pub fn style(&self, gtin: &str) -> Option<&str> {
        self.get(gtin).map(|item| item.style.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_gtins_to_sku_and_style_and_quotes_fields() {
        let cat = Catalog::parse(
            "gtin,sku,style,name,colour,size\n\
             80614141123458,TS-RED-M,TS,\"Tee, crew\",red,M\n\
             \n\
             80614141123465,TS-RED-L,TS,\"Tee \"\"classic\"\"\",red,L\n",
        )
        .unwrap();
        assert_eq!(cat.sku("80614141123458"), "TS-RED-M");
        assert_eq!(cat.style("80614141123465"), Some("TS"));
        assert_eq!(cat.get("80614141123458").unwrap().name, "Tee, crew");
        assert_eq!(cat.get("80614141123465").unwrap().name, "Tee \"classic\"");
        assert_eq!(cat.sku("00000000000000"), "00000000000000");
        assert_eq!(cat.gtin_of_sku("TS-RED-L"), Some("80614141123465"));
        assert_eq!(cat.gtin_of_sku("TS-BLUE-L"), None);
        assert_eq!(cat.style("00000000000000"), None);
    }

    #[test]
    fn points_at_the_bad_line() {
        let bad_header = Catalog::parse("gtin,sku\n1,2\n").unwrap_err();
        assert!(matches!(bad_header, CatalogError::Header(_)));
        let short = Catalog::parse("gtin,sku,style,name,colour,size\n1,2,3\n").unwrap_err();
        assert_eq!(short, CatalogError::Fields { line: 2, found: 3 });
        let quote = Catalog::parse("gtin,sku,style,name,colour,size\n1,2,3,\"x,5,6\n").unwrap_err();
        assert_eq!(quote, CatalogError::Quote { line: 2 });
        let twice = Catalog::parse("gtin,sku,style,name,colour,size\n1,a,s,n,c,z\n1,b,s,n,c,z\n")
            .unwrap_err();
        assert_eq!(
            twice,
            CatalogError::Duplicate {
                line: 3,
                gtin: "1".into(),
                first: 2
            }
        );
    }
}
