//! A ledger of stock movements: deliveries in, shipments out, write-offs.
//!
//! Reads the same SKUs as the Python `inventory` package, one movement per
//! line in the form `date,sku,kind,quantity` (kind is `in`, `out` or `waste`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Delivery,
    Shipment,
    WriteOff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub date: String,
    pub sku: String,
    pub kind: Kind,
    pub quantity: u32,
}

impl Movement {
    /// The change this movement makes to the stock on the shelf.
    pub fn signed_quantity(&self) -> i64 {
        match self.kind {
            Kind::Delivery => i64::from(self.quantity),
            Kind::Shipment | Kind::WriteOff => -i64::from(self.quantity),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad ledger line: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl FromStr for Movement {
    type Err = ParseError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [date, sku, kind, quantity] = fields[..] else {
            return Err(ParseError(line.to_string()));
        };
        let kind = match kind {
            "in" => Kind::Delivery,
            "out" => Kind::Shipment,
            "waste" => Kind::WriteOff,
            _ => return Err(ParseError(line.to_string())),
        };
        let quantity = quantity.parse().map_err(|_| ParseError(line.to_string()))?;
        Ok(Movement { date: date.to_string(), sku: sku.to_string(), kind, quantity })
    }
}

impl fmt::Display for Movement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:<8} {:+}", self.date, self.sku, self.signed_quantity())
    }
}

/// Anything that can report the stock level of a SKU.
pub trait StockLevels {
    fn level(&self, sku: &str) -> i64;
}

#[derive(Debug, Default)]
pub struct Ledger {
    movements: Vec<Movement>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, movement: Movement) {
        self.movements.push(movement);
    }

    /// Parse every non-empty, non-comment line; stop at the first bad one.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut ledger = Self::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            ledger.record(line.parse()?);
        }
        Ok(ledger)
    }

    pub fn len(&self) -> usize {
        self.movements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.movements.is_empty()
    }

    /// Stock level of every SKU, in SKU order.
    pub fn levels(&self) -> BTreeMap<&str, i64> {
        let mut levels = BTreeMap::new();
        for movement in &self.movements {
            *levels.entry(movement.sku.as_str()).or_insert(0) += movement.signed_quantity();
        }
        levels
    }

    /// Units written off, per SKU: the cost of stock that expired.
    pub fn waste(&self) -> BTreeMap<&str, u32> {
        let mut waste = BTreeMap::new();
        for movement in self.movements.iter().filter(|m| m.kind == Kind::WriteOff) {
            *waste.entry(movement.sku.as_str()).or_insert(0) += movement.quantity;
        }
        waste
    }
}

impl StockLevels for Ledger {
    fn level(&self, sku: &str) -> i64 {
        self.levels().get(sku).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# date,sku,kind,quantity\n\
        2024-05-01,COF-1,in,20\n\
        2024-05-02,COF-1,out,3\n\
        2024-05-02,MLK-1,in,10\n\
        2024-05-06,MLK-1,waste,4\n";

    #[test]
    fn levels_add_deliveries_and_subtract_the_rest() {
        let ledger = Ledger::parse(SAMPLE).unwrap();
        assert_eq!(ledger.len(), 4);
        assert_eq!(ledger.level("COF-1"), 17);
        assert_eq!(ledger.level("MLK-1"), 6);
        assert_eq!(ledger.level("NOPE"), 0);
        assert_eq!(ledger.waste().get("MLK-1"), Some(&4));
    }

    #[test]
    fn bad_lines_are_reported() {
        assert!(Ledger::parse("2024-05-01,COF-1,borrowed,2").is_err());
        assert!("2024-05-01,COF-1,in".parse::<Movement>().is_err());
    }
}
