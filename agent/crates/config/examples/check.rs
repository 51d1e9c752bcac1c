//! `cargo run -p saker-config --example check -- FILE [-o KEY=VALUE]...`:
//! prints the warnings and the parsed config, or the error.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(std::path::PathBuf::from);
    let mut overrides = Vec::new();
    while let Some(a) = args.next() {
        if a == "-o" {
            overrides.extend(args.next());
        }
    }
    match saker_config::Config::load(path.as_deref(), &overrides) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("warning: {w}");
            }
            println!("{:#?}", l.config);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
