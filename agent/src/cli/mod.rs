//! Command line: `saker capture`, and the other subcommands as they land.

mod capture;
mod gate;
mod rules;
pub mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "saker",
    version,
    about = "Runtime security agent: eBPF capture, Falco rules, alert store and shadow gate"
)]
pub struct Cli {
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the agent: capture, state, rules, alerts, store and API.
    Run(run::RunArgs),
    /// Print raw syscall events as JSON lines (like `sysdig -j`).
    Capture(capture::CaptureArgs),
    /// Validate or list Falco rules files.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Every field conditions and outputs can use.
    Fields {
        /// One JSON object per field.
        #[arg(long)]
        json: bool,
    },
    /// Shadow-gate verdicts from running agents.
    #[command(subcommand)]
    Gate(gate::GateCommand),
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Capture(args) => capture::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Fields { json } => Ok(rules::fields(json)),
        Command::Gate(cmd) => gate::run(cmd),
    }
}
