//! The `saker` binary: parses the command line and hands over to `saker::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = saker::cli::Cli::parse();
    saker::cli::init_logging(cli.verbose);
    match saker::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("saker: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
