//! A set of syscalls, as the kernel's interest bitmap holds it.

use saker_abi::{syscalls, INTEREST_WORDS, MAX_SYSCALLS};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallSet {
    words: [u64; INTEREST_WORDS],
}

/// Syscalls that are very frequent and say little (data I/O, and getppid,
/// which is there for the benchmarks); `all()` leaves them out unless asked
/// for by name.
const BULK_IO: &[&str] = &["read", "write", "pread", "pwrite", "getppid"];

impl SyscallSet {
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every syscall in the table except bulk data I/O.
    pub fn all() -> Self {
        let mut s = Self::empty();
        for def in syscalls::SYSCALLS {
            if !BULK_IO.contains(&def.name) {
                s.insert(def.nr);
            }
        }
        s
    }

    /// Parses `openat,execve,...`. An unknown name is an error that lists the
    /// valid ones.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let mut s = Self::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match syscalls::by_name(name) {
                Some(def) => s.insert(def.nr),
                None => {
                    let mut valid: Vec<&str> = syscalls::SYSCALLS.iter().map(|d| d.name).collect();
                    valid.sort_unstable();
                    return Err(format!(
                        "unknown syscall `{name}`; valid names: {}",
                        valid.join(", ")
                    ));
                }
            }
        }
        if s.is_empty() {
            return Err("empty syscall list".into());
        }
        Ok(s)
    }

    pub fn insert(&mut self, nr: u32) {
        if (nr as usize) < MAX_SYSCALLS {
            self.words[(nr / 64) as usize] |= 1 << (nr % 64);
        }
    }

    pub fn remove(&mut self, nr: u32) {
        if (nr as usize) < MAX_SYSCALLS {
            self.words[(nr / 64) as usize] &= !(1 << (nr % 64));
        }
    }

    pub fn contains(&self, nr: u32) -> bool {
        (nr as usize) < MAX_SYSCALLS && self.words[(nr / 64) as usize] & (1 << (nr % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn union(&mut self, other: &SyscallSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    pub fn words(&self) -> &[u64; INTEREST_WORDS] {
        &self.words
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_SYSCALLS as u32).filter(|nr| self.contains(*nr))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.iter()
            .filter_map(|nr| syscalls::by_nr(nr).map(|d| d.name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_unknown_with_the_valid_list() {
        let s = SyscallSet::parse_list("openat, execve").unwrap();
        assert!(s.contains(257) && s.contains(59));
        assert!(!s.contains(2));
        assert_eq!(s.names(), vec!["execve", "openat"]);
        let err = SyscallSet::parse_list("openat,frobnicate").unwrap_err();
        assert!(err.contains("`frobnicate`"), "{err}");
        assert!(err.contains("openat") && err.contains("execve"), "{err}");
        assert!(SyscallSet::parse_list(" , ").is_err());
    }

    #[test]
    fn all_leaves_out_bulk_io() {
        let all = SyscallSet::all();
        assert!(all.contains(257));
        assert!(!all.contains(0) && !all.contains(1));
    }
}
