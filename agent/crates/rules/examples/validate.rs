//! `cargo run -p saker-rules --example validate -- FILE|DIR...`: what
//! `saker rules validate` prints, for trying rules files by hand.

use std::io::IsTerminal;
use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let report = saker_rules::validate(&paths);
    print!("{}", report.render(std::io::stdout().is_terminal()));
    if let Ok(loaded) = saker_rules::load(&paths, &Default::default()) {
        for r in saker_rules::rows(&loaded) {
            println!(
                "{:<60} {:<13} {:<8} {:<5} {}",
                r.name,
                r.priority.as_str(),
                r.source,
                r.enabled,
                r.evt_types
            );
        }
    }
    std::process::exit(if report.ok() { 0 } else { 1 });
}
