//! `saker rules validate|list` and `saker fields`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Load and compile rules files; print every diagnostic. Exit 0 when valid, 1 when not.
    Validate {
        /// Rules files or directories, in load order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the rules of FILES: name, priority, source, event types, enabled.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Rules files or directories, in load order.
    #[arg(short = 'r', long = "rules", required = true)]
    pub rules: Vec<PathBuf>,
    /// One JSON object per rule instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Validate { paths } => {
            let report = saker_rules::validate(&paths);
            let color = std::io::stderr().is_terminal();
            eprint!("{}", report.render(color));
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RulesCommand::List(args) => {
            let rows = match saker_rules::list(&args.rules, &Default::default()) {
                Ok(r) => r,
                Err(d) => {
                    eprint!("{}", d.render(std::io::stderr().is_terminal()));
                    return Ok(ExitCode::from(1));
                }
            };
            if args.json {
                for r in rows {
                    println!(
                        "{}",
                        serde_json::json!({"name": r.name, "priority": r.priority.as_str(), "source": r.source,
                            "evt_types": r.evt_types, "enabled": r.enabled, "tags": r.tags})
                    );
                }
            } else {
                let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
                println!(
                    "{:w$}  {:13}  {:8}  {:7}  EVT.TYPES",
                    "NAME", "PRIORITY", "SOURCE", "ENABLED"
                );
                for r in rows {
                    println!(
                        "{:w$}  {:13}  {:8}  {:7}  {}",
                        r.name,
                        r.priority.as_str(),
                        r.source,
                        r.enabled,
                        r.evt_types
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `saker fields`: every field the condition language knows.
pub fn fields(json: bool) -> ExitCode {
    for f in saker_filter::fields::CATALOGUE {
        let arg = format!("{:?}", f.arg);
        if json {
            println!(
                "{}",
                serde_json::json!({"name": f.name, "type": f.ty.name(), "arg": arg, "desc": f.desc})
            );
        } else {
            println!("{:32} {:10} {:10} {}", f.name, f.ty.name(), arg, f.desc);
        }
    }
    ExitCode::SUCCESS
}
