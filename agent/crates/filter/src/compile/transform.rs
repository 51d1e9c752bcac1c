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
        TArg::Lit(_) => None,
    })?
}

fn literal(t: &Transform) -> &[u8] {
    t.args
        .iter()
        .find_map(|a| match a {
            TArg::Lit(l) => Some(&l[..]),
            TArg::Lhs(_) => None,
        })
        .unwrap_or(b"")
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
        Transformer::Concat => {
            let mut out = Vec::new();
            for a in &t.args {
                match a {
                    TArg::Lit(l) => out.extend_from_slice(l),
                    TArg::Lhs(l) => {
                        for v in operand(l, src)? {
                            out.extend_from_slice(&v);
                        }
                    }
                }
            }
            Some(smallvec::smallvec![OwnedValue::Bytes(out)])
        }
        Transformer::Join => {
            let sep = literal(t);
            let vals = first_operand(t, src)?;
            Some(smallvec::smallvec![OwnedValue::Bytes(vals.join(sep))])
        }
        Transformer::Getopt => {
            let opt = literal(t);
            let vals = first_operand(t, src)?;
            let tokens: Vec<&[u8]> = if vals.len() == 1 {
                vals[0]
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|s| !s.is_empty())
                    .collect()
            } else {
                vals.iter().map(|v| &v[..]).collect()
            };
            getopt(&tokens, opt).map(|v| smallvec::smallvec![OwnedValue::Bytes(v.to_vec())])
        }
    }
}

/// The value of option `opt` in an argument vector: `-c VALUE`,
/// `-cVALUE` (single-dash, single-letter options), `--opt=VALUE`.
fn getopt<'a>(tokens: &[&'a [u8]], opt: &[u8]) -> Option<&'a [u8]> {
    if opt.is_empty() {
        return None;
    }
    for (i, tok) in tokens.iter().enumerate() {
        if *tok == opt {
            return tokens.get(i + 1).copied();
        }
        if let Some(rest) = tok.strip_prefix(opt) {
            if let Some(v) = rest.strip_prefix(b"=") {
                return Some(v);
            }
            let short = opt.len() == 2 && opt[0] == b'-' && opt[1] != b'-';
            if short && !rest.is_empty() {
                return Some(rest);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::getopt;

    #[test]
    fn getopt_forms() {
        let t: Vec<&[u8]> = vec![b"-c", b"echo hi", b"--user=bob", b"-ofile"];
        assert_eq!(getopt(&t, b"-c"), Some(&b"echo hi"[..]));
        assert_eq!(getopt(&t, b"--user"), Some(&b"bob"[..]));
        assert_eq!(getopt(&t, b"-o"), Some(&b"file"[..]));
        assert_eq!(getopt(&t, b"-x"), None);
        assert_eq!(getopt(&[&b"-c"[..]], b"-c"), None);
    }
}
