//! Rough evaluation speed: `cargo run --release -p saker-filter --example eval_speed`.
//! Compiles a Falco-like condition and times `Filter::matches` against a
//! borrowed-value source (what the agent's state tables provide).

use std::time::Instant;

use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Value, Values};
use saker_filter::{compile, parse, Env};

struct Event {
    name: String,
    cmdline: String,
    ancestors: Vec<String>,
}

impl FieldSource for Event {
    fn evt_type(&self) -> &str {
        "execve"
    }
    fn extract<'a>(&'a self, f: &FieldRef, out: &mut Values<'a>) -> bool {
        match (f.id, &f.arg) {
            (FieldId::EvtType, _) => out.push(Value::Str("execve")),
            (FieldId::ProcName, _) => out.push(Value::Str(&self.name)),
            (FieldId::ProcCmdline, _) => out.push(Value::Str(&self.cmdline)),
            (FieldId::ProcAname, FieldArg::None) => {
                out.extend(self.ancestors.iter().map(|a| Value::Str(a)))
            }
            _ => return false,
        }
        true
    }
}

fn main() {
    let env = Env::new()
        .with_list(
            "shell_binaries",
            &["ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"],
        )
        .with_macro(
            "spawned_process",
            parse("evt.type in (execve, execveat)").expect("macro"),
        )
        .with_macro(
            "shell_procs",
            parse("proc.name in (shell_binaries)").expect("macro"),
        );
    let cond = "spawned_process and shell_procs and not proc.aname in (cron, sshd_config) \
        and (proc.cmdline contains xmrig or proc.cmdline contains minerd \
        or proc.cmdline contains stratum or proc.cmdline contains shadow)";
    let f = compile(&parse(cond).expect("parse"), &env).expect("compile");
    let ev = Event {
        name: "bash".into(),
        cmdline: "bash -c cat /etc/shadow".into(),
        ancestors: vec!["sshd".into(), "systemd".into()],
    };
    let n = 5_000_000;
    let start = Instant::now();
    let mut hits = 0u64;
    for _ in 0..n {
        hits += u64::from(f.matches(&ev));
    }
    let dt = start.elapsed();
    println!(
        "{hits}/{n} matched, {:.1} ns per evaluation",
        dt.as_nanos() as f64 / n as f64
    );
}
