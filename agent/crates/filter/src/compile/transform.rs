//! Field transformers, applied at evaluation time. These produce owned
//! values and so allocate; plain field checks do not.

use smallvec::SmallVec;

use super::matchers::b64_decode;
use super::node::{Lhs, TArg, Transform};
use crate::ast::Transformer;
use crate::fields::{FieldSource, OwnedValue, Value, Values};

pub type Owned = SmallVec<[OwnedValue; 4]>;

fn bytes_of(v: &Value<'_>) -> Vec<u8> {
    match v.as_bytes() {
        Some(b) => b.to_vec(),
        None => {
            let mut s = String::new();
            crate::fields::render_value(v, crate::fields::FieldType::Str, &mut s);
            s.into_bytes()
        }
    }
}

/// The values of an operand, owned; `None` when missing.
fn operand<S: FieldSource + ?Sized>(lhs: &Lhs, src: &S) -> Option<Vec<Vec<u8>>> {
    match lhs {
        Lhs::Field(f, _) => {
            let mut vals = Values::new();
            if !src.extract(f, &mut vals) || vals.is_empty() {
                return None;
            }
            Some(vals.iter().map(bytes_of).collect())
        }
        Lhs::Transform(t) => {
            let out = apply(t, src)?;
            Some(out.iter().map(|o| bytes_of(&o.as_value())).collect())
        }
    }
}

fn first_operand<S: FieldSource + ?Sized>(t: &Transform, src: &S) -> Option<Vec<Vec<u8>>> {
    t.args.iter().find_map(|a| match a {
        TArg::Lhs(l) => Some(operand(l, src)),
        TArg::Lit(_) | TArg::List(_) => None,
    })?
}

/// The values of a multi-value transformer argument; `None` when a field
/// in it is missing.
fn arg_values<S: FieldSource + ?Sized>(a: &TArg, src: &S) -> Option<Vec<Vec<u8>>> {
    match a {
        TArg::Lit(l) => Some(vec![l.to_vec()]),
        TArg::Lhs(l) => operand(l, src),
        TArg::List(items) => {
            let mut out = Vec::new();
            for it in items {
                out.extend(arg_values(it, src)?);
            }
            Some(out)
        }
    }
}

/// libsinsp appends values as C strings: up to the first NUL.
fn c_str(v: &[u8]) -> &[u8] {
    memchr::memchr(0, v).map_or(v, |i| &v[..i])
}

pub fn apply<S: FieldSource + ?Sized>(t: &Transform, src: &S) -> Option<Owned> {
    let each = |f: &dyn Fn(Vec<u8>) -> Option<Vec<u8>>| -> Option<Owned> {
        let vals = first_operand(t, src)?;
        let out: Owned = vals
            .into_iter()
            .filter_map(f)
            .map(OwnedValue::Bytes)
            .collect();
        (!out.is_empty()).then_some(out)
    };
    let one = |v: Vec<u8>| -> Option<Owned> { Some(smallvec::smallvec![OwnedValue::Bytes(v)]) };
    match t.func {
        Transformer::ToLower => each(&|mut v| {
            v.make_ascii_lowercase();
            Some(v)
        }),
        Transformer::ToUpper => each(&|mut v| {
            v.make_ascii_uppercase();
            Some(v)
        }),
        Transformer::B64 => each(&|v| b64_decode(&v)),
        Transformer::Basename => each(&|v| {
            let start = v.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
            Some(v[start..].to_vec())
        }),
        Transformer::Len => {
            let vals = first_operand(t, src)?;
            if t.list_input {
                return Some(smallvec::smallvec![OwnedValue::U64(vals.len() as u64)]);
            }
            Some(
                vals.iter()
                    .map(|v| OwnedValue::U64(v.len() as u64))
                    .collect(),
            )
        }
        // concat(a, b, ...): the first value of each argument, in order;
        // missing if any is (libsinsp's multivalue concat).
        Transformer::Concat => {
            let mut out = Vec::new();
            for a in &t.args {
                let vals = arg_values(a, src)?;
                out.extend_from_slice(c_str(vals.first()?));
            }
            one(out)
        }
        // join(separator, list): the list's values separated by the first
        // value of the separator argument (libsinsp's multivalue join).
        Transformer::Join => {
            let [sep, list] = &t.args[..] else {
                return None;
            };
            let sep = arg_values(sep, src)?.into_iter().next()?;
            let vals = arg_values(list, src)?;
            let mut out = Vec::new();
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(&sep);
                }
                out.extend_from_slice(c_str(v));
            }
            one(out)
        }
        Transformer::Getopt => {
            let [argv, optstring] = &t.args[..] else {
                return None;
            };
            let opts = OptString::parse(&arg_values(optstring, src)?.into_iter().next()?);
            let argv = arg_values(argv, src)?;
            let argv: Vec<&[u8]> = argv.iter().map(|v| &v[..]).collect();
            getopt(&argv, &opts, t.select)
                .map(|vals| vals.into_iter().map(OwnedValue::Bytes).collect())
        }
    }
}

/// A getopt(3) option string: which option characters exist and which
/// take an argument (`c:`); a leading `:` only changes getopt(3)'s error
/// reporting, which the transformer does not expose.
struct OptString {
    valid: [bool; 256],
    with_arg: [bool; 256],
}

impl OptString {
    fn parse(s: &[u8]) -> OptString {
        let mut o = OptString {
            valid: [false; 256],
            with_arg: [false; 256],
        };
        let mut i = usize::from(s.first() == Some(&b':'));
        while i < s.len() {
            let c = s[i];
            if c != b':' {
                o.valid[usize::from(c)] = true;
                if s.get(i + 1) == Some(&b':') {
                    o.with_arg[usize::from(c)] = true;
                    i += 1;
                }
            }
            i += 1;
        }
        o
    }
}

/// libsinsp's `getopt(argv, optstring)` (sinsp_filtercheck_multivalue_
/// transformer.cpp, 2026): POSIX scanning of `argv` from its first
/// element. `--` and the first non-option stop; long options (`--x`) are
/// skipped; `-abc` is a cluster of short options. Without a selector the
/// result lists each option character, followed by its value for options
/// taking one (`-tV` or `-t V`), `?` for unknown options and an empty
/// string for a missing value. With `[c]` the result is the value of the
/// last `-c` (or `c` itself when it takes no value), and missing when `-c`
/// is absent.
fn getopt(argv: &[&[u8]], opts: &OptString, select: Option<u8>) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut selected: Option<Vec<u8>> = None;
    let mut i = 0;
    'args: while i < argv.len() {
        let a = argv[i];
        if a == b"--" {
            break;
        }
        if a.len() > 2 && a.starts_with(b"--") {
            i += 1;
            continue;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        for (j, &c) in a.iter().enumerate().skip(1) {
            if c == b':' || !opts.valid[usize::from(c)] {
                if select.is_none() {
                    out.push(b"?".to_vec());
                }
                continue;
            }
            let hit = select.is_none_or(|s| s == c);
            if !opts.with_arg[usize::from(c)] {
                if hit {
                    match select {
                        Some(_) => selected = Some(vec![c]),
                        None => out.push(vec![c]),
                    }
                }
                continue;
            }
            // The rest of this token, or the next one.
            let value = if j + 1 < a.len() {
                Some(&a[j + 1..])
            } else if i + 1 < argv.len() {
                i += 1;
                Some(argv[i])
            } else {
                None
            };
            if hit {
                match (select, value) {
                    (Some(_), v) => selected = Some(v.unwrap_or_default().to_vec()),
                    (None, Some(v)) => {
                        out.push(vec![c]);
                        out.push(v.to_vec());
                    }
                    (None, None) => out.push(Vec::new()),
                }
            }
            i += 1;
            continue 'args;
        }
        i += 1;
    }
    match select {
        Some(_) => selected.map(|v| vec![v]),
        None => Some(out),
    }
}

#[cfg(test)]
mod tests {
    use super::{getopt, OptString};

    fn run(argv: &[&str], opts: &str, sel: Option<u8>) -> Option<Vec<String>> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        getopt(&argv, &OptString::parse(opts.as_bytes()), sel).map(|v| {
            v.into_iter()
                .map(|x| String::from_utf8(x).unwrap())
                .collect()
        })
    }

    /// Cases from libsinsp's getopt transformer tests.
    #[test]
    fn getopt_follows_libsinsp() {
        let l = |argv: &[&str], o: &str| run(argv, o, None).unwrap();
        assert_eq!(l(&["-n", ""], "n"), ["n"]);
        assert_eq!(l(&["-t", "hello"], "t:"), ["t", "hello"]);
        assert_eq!(l(&["-nt", "hello"], "nt:"), ["n", "t", "hello"]);
        assert_eq!(l(&["-thello"], "t:"), ["t", "hello"]);
        assert_eq!(l(&["-n", "--", "-t"], "nt:"), ["n"]);
        assert_eq!(l(&["-x", "-n"], "n"), ["?", "n"]);
        assert_eq!(l(&["--exec", "-n"], "n"), ["n"]);
        assert_eq!(l(&["arg1", "-n"], "n"), Vec::<String>::new());
        assert_eq!(l(&["-", "-n"], "n"), Vec::<String>::new());
        assert_eq!(l(&["-t"], "t:"), [""]);
        assert_eq!(l(&["-lpe", "/bin/sh"], "lp:e:"), ["l", "p", "e"]);
        assert_eq!(l(&["-lpe", "/bin/sh"], "lpe:"), ["l", "p", "e", "/bin/sh"]);
        assert_eq!(l(&["-abcvalue"], "abc:"), ["a", "b", "c", "value"]);
        assert_eq!(l(&["-t", "-123"], "t:"), ["t", "-123"]);
        assert_eq!(l(&["-n", "-t"], ""), ["?", "?"]);
        assert_eq!(l(&["-n-t"], "nt"), ["n", "?", "t"]);
        assert_eq!(l(&["-n"], ":n"), ["n"]);
        // Selector: last match wins; an option without a value selects
        // itself; absent means missing.
        assert_eq!(
            run(&["-t", "a", "-t", "b"], "t:", Some(b't')).unwrap(),
            ["b"]
        );
        assert_eq!(run(&["-n"], "nt:", Some(b'n')).unwrap(), ["n"]);
        assert_eq!(run(&["-t"], "t:", Some(b't')).unwrap(), [""]);
        assert_eq!(run(&["-n"], "nt:", Some(b't')), None);
        assert_eq!(run(&["-x"], "n", Some(b'x')), None);
    }
}
