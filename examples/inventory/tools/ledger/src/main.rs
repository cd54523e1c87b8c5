//! `ledger [FILE]`: print stock levels computed from a movement ledger.
//! Reads standard input when no file is given.

use std::io::Read;
use std::process::ExitCode;
use std::{env, fs, io};

use ledger::{Ledger, StockLevels};

fn read_input() -> io::Result<String> {
    match env::args().nth(1) {
        Some(path) => fs::read_to_string(path),
        None => {
            let mut text = String::new();
            io::stdin().read_to_string(&mut text)?;
            Ok(text)
        }
    }
}

fn main() -> ExitCode {
    let text = match read_input() {
        Ok(text) => text,
        Err(err) => {
            eprintln!("ledger: {err}");
            return ExitCode::from(2);
        }
    };
    let ledger = match Ledger::parse(&text) {
        Ok(ledger) => ledger,
        Err(err) => {
            eprintln!("ledger: {err}");
            return ExitCode::from(1);
        }
    };
    for (sku, level) in ledger.levels() {
        let warning = if level < 0 { "  (negative: missing delivery?)" } else { "" };
        println!("{sku:<8} {level:>6}{warning}");
    }
    for (sku, units) in ledger.waste() {
        println!("{sku:<8} {units:>6} written off, {} left", ledger.level(sku));
    }
    ExitCode::SUCCESS
}
