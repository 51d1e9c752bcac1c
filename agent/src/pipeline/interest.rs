//! Which syscalls the kernel must report: what the rules need plus what the
//! state tables need (Falco's `base_syscalls`).

use saker_filter::fields::FieldId;
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

/// What the kernel is asked to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interest {
    pub syscalls: SyscallSet,
    /// Of `syscalls`, the datagram calls reported only when they name a
    /// peer address: no active rule can match the address-less form, and
    /// the state tables learn nothing from it.
    pub addressed_only: SyscallSet,
    /// Event types the rules name that saker cannot capture, reported once.
    pub unknown: Vec<String>,
}

impl Interest {
    /// What serves both `self` and `next`: every syscall either reports,
    /// address-less calls left out only where both leave them out.
    pub fn widened_by(&self, next: &Interest) -> Interest {
        let mut syscalls = self.syscalls.clone();
        syscalls.union(&next.syscalls);
        let filtered_by =
            |i: &Interest, nr| !i.syscalls.contains(nr) || i.addressed_only.contains(nr);
        let mut addressed_only = SyscallSet::empty();
        for nr in syscalls.iter() {
            if filtered_by(self, nr) && filtered_by(next, nr) {
                addressed_only.insert(nr);
            }
        }
        Interest {
            syscalls,
            addressed_only,
            unknown: next.unknown.clone(),
        }
    }
}

/// The interest for `engine` and `base`.
pub fn interest_for(engine: &Engine, base: &BaseSyscalls) -> Interest {
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
    let mut addressed_only = SyscallSet::empty();
    for name in saker_state::sys::DATAGRAM_SYSCALLS {
        let Some(def) = saker_abi::syscalls::by_name(name) else {
            continue;
        };
        if set.contains(def.nr) && !engine.may_match_when_false(name, FieldId::FdNameChanged) {
            addressed_only.insert(def.nr);
        }
    }
    Interest {
        syscalls: set,
        addressed_only,
        unknown,
    }
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
        let Interest {
            syscalls: set,
            unknown,
            ..
        } = interest_for(&engine(OPEN_RULE), &BaseSyscalls::default());
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
        let set = interest_for(&engine(OPEN_RULE), &base).syscalls;
        assert_eq!(set.names(), vec!["connect", "openat"]);
        let base = BaseSyscalls {
            repair: true,
            ..base
        };
        let set = interest_for(&engine(OPEN_RULE), &base).syscalls;
        assert!(set.names().contains(&"execve") && !set.names().contains(&"dup"));
    }

    const NEW_PEER: &str = "- rule: p\n  desc: d\n  condition: evt.type in (sendto, recvfrom) and fd.name_changed = true\n  output: o\n  priority: WARNING\n";
    const EVERY_SEND: &str = "- rule: s\n  desc: d\n  condition: evt.type = sendto and fd.sport = 53\n  output: o\n  priority: WARNING\n";

    fn nrs(names: &[&str]) -> SyscallSet {
        let mut s = SyscallSet::empty();
        add_names(&mut s, names.iter().copied());
        s
    }

    #[test]
    fn address_less_datagrams_are_left_out_only_when_no_rule_matches_them() {
        let i = interest_for(&engine(NEW_PEER), &BaseSyscalls::default());
        assert_eq!(i.addressed_only, nrs(&["recvfrom", "sendto"]));
        let i = interest_for(&engine(EVERY_SEND), &BaseSyscalls::default());
        assert!(
            i.addressed_only.is_empty(),
            "{:?}",
            i.addressed_only.names()
        );
        // Only among what is captured at all.
        let i = interest_for(&engine(OPEN_RULE), &BaseSyscalls::default());
        assert!(i.addressed_only.is_empty());
    }

    #[test]
    fn a_reload_reports_what_either_rule_set_needs() {
        let base = BaseSyscalls::default();
        let old = interest_for(&engine(NEW_PEER), &base);
        let new = interest_for(&engine(EVERY_SEND), &base);
        let during = old.widened_by(&new);
        assert!(during
            .syscalls
            .contains(nrs(&["recvfrom"]).iter().next().unwrap()));
        // sendto: the new rules need every form; recvfrom: only the old
        // rules name it, and they need only the addressed form.
        assert_eq!(during.addressed_only, nrs(&["recvfrom"]));
        let back = new.widened_by(&old);
        assert_eq!(back.syscalls, during.syscalls);
        assert_eq!(back.addressed_only, during.addressed_only);
        assert_eq!(old.widened_by(&old), old);
    }
}
