//! Which syscalls the kernel must report: what the rules need plus what the
//! state tables need (Falco's `base_syscalls`).

use saker_rules::Engine;

use crate::capture::SyscallSet;

/// The smallest set that keeps the process tree right, for
/// `base_syscalls.repair: true`.
pub const REPAIR_SYSCALLS: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "close",
    "chdir",
    "fchdir",
    "setuid",
    "setgid",
    "setresuid",
    "setsid",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseSyscalls {
    pub custom_set: Vec<String>,
    pub repair: bool,
}

fn add_names<'a>(set: &mut SyscallSet, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut unknown = Vec::new();
    for name in names {
        // Falco allows `!name` in custom_set to remove a syscall; handled by the caller.
        match saker_abi::syscalls::by_name(name) {
            Some(def) => set.insert(def.nr),
            None => unknown.push(name.to_string()),
        }
    }
    unknown
}

/// The interest set for `engine` and `base`. Also returns the event types the
/// rules name that saker cannot capture, so they can be reported once.
pub fn syscalls_for(engine: &Engine, base: &BaseSyscalls) -> (SyscallSet, Vec<String>) {
    let mut set = SyscallSet::empty();
    let mut unknown = Vec::new();
    match engine.evt_types() {
        Some(types) => unknown.extend(add_names(&mut set, types)),
        // Some rule has no evt.type restriction: it needs every event.
        None => set.union(&SyscallSet::all()),
    }
    let (adds, removes): (Vec<&str>, Vec<&str>) = base
        .custom_set
        .iter()
        .map(String::as_str)
        .partition(|n| !n.starts_with('!'));
    if base.custom_set.is_empty() {
        add_names(&mut set, saker_state::sys::STATE_SYSCALLS.iter().copied());
    } else {
        unknown.extend(add_names(&mut set, adds));
        if base.repair {
            add_names(&mut set, REPAIR_SYSCALLS.iter().copied());
        }
    }
    let mut without = SyscallSet::empty();
    unknown.extend(add_names(&mut without, removes.iter().map(|n| &n[1..])));
    for nr in without.iter() {
        set.remove(nr);
    }
    // Types that are not syscalls (procexit, container...) come from other
    // sources and are not "unknown".
    unknown.retain(|n| {
        !matches!(
            n.as_str(),
            "procexit" | "container" | "switch" | "clone_child"
        )
    });
    unknown.sort();
    unknown.dedup();
    (set, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(rules: &str) -> Engine {
        saker_rules::load_str("t.yaml", rules, &Default::default())
            .unwrap()
            .engine
    }

    const OPEN_RULE: &str = "- rule: r\n  desc: d\n  condition: evt.type in (openat, ptrace)\n  output: o\n  priority: WARNING\n";

    #[test]
    fn rules_plus_state_by_default() {
        let (set, unknown) = syscalls_for(&engine(OPEN_RULE), &BaseSyscalls::default());
        let names = set.names();
        assert!(names.contains(&"openat") && names.contains(&"ptrace"));
        assert!(
            names.contains(&"execve") && names.contains(&"close"),
            "state syscalls"
        );
        assert!(!names.contains(&"read"));
        assert!(unknown.is_empty());
    }

    #[test]
    fn custom_set_replaces_state_set_and_repair_adds_the_minimum() {
        let base = BaseSyscalls {
            custom_set: vec!["connect".into(), "!ptrace".into()],
            repair: false,
        };
        let (set, _) = syscalls_for(&engine(OPEN_RULE), &base);
        assert_eq!(set.names(), vec!["connect", "openat"]);
        let base = BaseSyscalls {
            repair: true,
            ..base
        };
        let (set, _) = syscalls_for(&engine(OPEN_RULE), &base);
        assert!(set.names().contains(&"execve") && !set.names().contains(&"dup"));
    }
}
