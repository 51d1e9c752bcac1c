//! Literal parsing and the matchers built at compile time: globs, path
//! prefix sets, IP networks, numbers, hex bytes, base64.

use std::net::IpAddr;

use rustc_hash::FxHashSet;

/// Parse an unsigned number: decimal or `0x` hex.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    s.parse().ok()
}

/// Parse a signed number: decimal (with sign) or `0x` hex.
pub fn parse_i64(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        return parse_u64(rest).and_then(|v| 0i64.checked_sub_unsigned(v));
    }
    parse_u64(t).and_then(|v| i64::try_from(v).ok())
}

/// A number as a wide integer so signed and unsigned compare exactly.
pub fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        return parse_u64(rest).map(|v| -(v as i128));
    }
    parse_u64(t).map(i128::from)
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "TRUE" | "True" | "1" => Some(true),
        "false" | "FALSE" | "False" | "0" => Some(false),
        _ => None,
    }
}

/// An address or a network (`10.0.0.0/8`, `::1`, `fe80::/10`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 address may arrive as IPv4-mapped IPv6.
        let ip = match ip {
            IpAddr::V6(v6) if self.addr.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Hex text to bytes, for `bcontains`/`bstartswith` (libsinsp takes the
/// needle as hex).
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            let hi = (c[0] as char).to_digit(16)?;
            let lo = (c[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Standard base64 (padding optional, whitespace ignored); `None` if invalid.
pub fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pad = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if pad > 2 {
        return None;
    }
    Some(out)
}

#[derive(Clone, Debug)]
enum GlobTok {
    Lit(u8),
    Any,
    One,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

/// An fnmatch-style glob (`*`, `?`, `[a-z]`, `[!x]`), as libsinsp's `glob`
/// (fnmatch without FNM_PATHNAME: `*` also matches `/`). Matching is
/// bytewise and allocation-free.
#[derive(Clone, Debug)]
pub struct Glob {
    toks: Vec<GlobTok>,
    fold: bool,
}

impl Glob {
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        let p = pattern.as_bytes();
        let fold = |b: u8| {
            if case_insensitive {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        let mut toks = Vec::new();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                b'*' => {
                    if !matches!(toks.last(), Some(GlobTok::Any)) {
                        toks.push(GlobTok::Any);
                    }
                }
                b'?' => toks.push(GlobTok::One),
                b'[' => match Self::class(p, i + 1, &fold) {
                    Some((tok, next)) => {
                        toks.push(tok);
                        i = next;
                        continue;
                    }
                    None => toks.push(GlobTok::Lit(b'[')),
                },
                b => toks.push(GlobTok::Lit(fold(b))),
            }
            i += 1;
        }
        Glob {
            toks,
            fold: case_insensitive,
        }
    }

    /// Parse `[...]` starting after the `[`; `None` if unterminated (then
    /// the `[` is literal, as in fnmatch).
    fn class(p: &[u8], mut i: usize, fold: &impl Fn(u8) -> u8) -> Option<(GlobTok, usize)> {
        let negated = matches!(p.get(i), Some(b'!' | b'^'));
        if negated {
            i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = *p.get(i)?;
            if c == b']' && !first {
                return Some((GlobTok::Class { negated, ranges }, i + 1));
            }
            first = false;
            if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|&e| e != b']') {
                let e = p[i + 2];
                ranges.push((fold(c).min(fold(e)), fold(c).max(fold(e))));
                i += 3;
            } else {
                ranges.push((fold(c), fold(c)));
                i += 1;
            }
        }
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        let fold = |b: u8| if self.fold { b.to_ascii_lowercase() } else { b };
        let one = |t: &GlobTok, b: u8| match t {
            GlobTok::Lit(l) => *l == fold(b),
            GlobTok::One => true,
            GlobTok::Class { negated, ranges } => {
                let b = fold(b);
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&b)) != *negated
            }
            GlobTok::Any => false,
        };
        // Classic single-backtrack wildcard matching: linear in practice.
        let (mut ti, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match self.toks.get(ti) {
                Some(GlobTok::Any) => {
                    star = Some((ti, si));
                    ti += 1;
                }
                Some(t) if one(t, s[si]) => {
                    ti += 1;
                    si += 1;
                }
                _ => match star {
                    Some((st, ss)) => {
                        ti = st + 1;
                        si = ss + 1;
                        star = Some((st, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        self.toks[ti..].iter().all(|t| matches!(t, GlobTok::Any))
    }
}

/// A set of byte strings for `in`/`intersects`, probed once per event and
/// value: FxHash (SipHash's DoS resistance buys nothing against constants
/// fixed at load time) behind a bitmask of the member lengths, which turns
/// most misses into one AND.
#[derive(Clone, Debug, Default)]
pub struct ByteSet {
    set: FxHashSet<Box<[u8]>>,
    lens: u64,
}

fn len_bit(n: usize) -> u64 {
    1 << n.min(63)
}

impl ByteSet {
    pub fn insert(&mut self, item: &[u8]) {
        self.lens |= len_bit(item.len());
        self.set.insert(item.into());
    }

    #[inline]
    pub fn contains(&self, b: &[u8]) -> bool {
        self.lens & len_bit(b.len()) != 0 && self.set.contains(b)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.set.iter().map(|b| &b[..])
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl<'a> FromIterator<&'a [u8]> for ByteSet {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut s = ByteSet::default();
        for it in iter {
            s.insert(it);
        }
        s
    }
}

/// `pmatch`: is the path equal to, or under, one of the prefixes?
/// Prefixes are stored whole; a path is checked at each `/` boundary, so
/// the cost is one hash lookup per path component.
#[derive(Clone, Debug, Default)]
pub struct PrefixSet {
    prefixes: FxHashSet<Box<[u8]>>,
    root: bool,
}

impl PrefixSet {
    pub fn new<'a>(items: impl IntoIterator<Item = &'a str>) -> PrefixSet {
        let mut set = PrefixSet::default();
        for it in items {
            let t = it.trim_end_matches('/');
            if t.is_empty() {
                if it.starts_with('/') {
                    set.root = true;
                }
                continue;
            }
            set.prefixes.insert(t.as_bytes().into());
        }
        set
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        if self.root && path.first() == Some(&b'/') {
            return true;
        }
        let trimmed = match path.iter().rposition(|&b| b != b'/') {
            Some(i) => &path[..=i],
            None => return false,
        };
        if self.prefixes.contains(trimmed) {
            return true;
        }
        memchr::memchr_iter(b'/', trimmed).any(|i| i > 0 && self.prefixes.contains(&trimmed[..i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0x1F"), Some(31));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_i64("-1"), Some(-1));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN as i128));
        assert_eq!(parse_int("18446744073709551615"), Some(u64::MAX as i128));
        assert_eq!(parse_int("abc"), None);
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        let v6 = IpNet::parse("fe80::/10").unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(IpNet::parse("nope").is_none());
    }

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p, false).matches(s.as_bytes());
        assert!(g("/etc/*", "/etc/passwd"));
        assert!(g("/etc/*", "/etc/a/b"));
        assert!(!g("/etc/*", "/etcx"));
        assert!(g("*.sh", "run.sh"));
        assert!(!g("*.sh", "run.shx"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[!a-c]x", "bx"));
        assert!(g("[x", "[x"));
        assert!(g("*a*b*", "xxaxxbxx"));
        assert!(!g("*a*b*", "xxbxxaxx"));
        assert!(Glob::new("*.SH", true).matches(b"run.sh"));
        assert!(!Glob::new("*.SH", false).matches(b"run.sh"));
    }

    #[test]
    fn prefixes() {
        let p = PrefixSet::new(["/etc", "/usr/bin/", "/var/lib/x"]);
        assert!(p.matches(b"/etc"));
        assert!(p.matches(b"/etc/passwd"));
        assert!(!p.matches(b"/etcx/passwd"));
        assert!(p.matches(b"/usr/bin/ls"));
        assert!(!p.matches(b"/usr/sbin/ls"));
        assert!(!p.matches(b"/var/lib"));
        assert!(PrefixSet::new(["/"]).matches(b"/anything"));
    }

    #[test]
    fn byte_sets() {
        let s: ByteSet = [&b"/etc/shadow"[..], b"", b"x"].into_iter().collect();
        assert!(s.contains(b"/etc/shadow"));
        assert!(s.contains(b""));
        assert!(s.contains(b"x"));
        assert!(!s.contains(b"y"));
        assert!(!s.contains(b"/etc/shadoW"));
        let long = vec![b'a'; 100];
        let t: ByteSet = [&long[..]].into_iter().collect();
        assert!(t.contains(&long));
        assert!(!t.contains(&long[..99]));
        assert!(!t.contains(&[b'a'; 64]));
        assert_eq!((s.len(), ByteSet::default().is_empty()), (3, true));
    }

    #[test]
    fn hex_and_b64() {
        assert_eq!(parse_hex("CAFEbabe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(b64_decode(b"aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(b64_decode(b"aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(b64_decode(b"a*"), None);
    }
}
