//! AST → compiled nodes: macro and list expansion, field resolution, typed
//! right-hand sides and matcher construction.

use std::collections::HashSet;
use std::sync::Arc;

use aho_corasick::AhoCorasickBuilder;
use memchr::memmem::Finder;

use super::matchers::{parse_bool, parse_hex, parse_int, Glob, IpNet, PrefixSet};
use super::node::*;
use super::{CompileError, CompileErrorKind as K, Env, MAX_COMPILE_DEPTH, MAX_COMPILE_NODES};
use crate::ast::{self, Expr, Modifier, Op, Rhs, Span, Transformer};
use crate::fields::{resolve, ArgKind, FieldArg, FieldError, FieldRef, FieldType};

type Result<T> = std::result::Result<T, CompileError>;

/// Lists may name lists; this bounds that recursion.
const MAX_LIST_DEPTH: usize = 64;

pub struct Builder<'e> {
    env: &'e Env,
    depth: usize,
    nodes: usize,
    macros: Vec<String>,
    origin: Option<usize>,
    fields: Vec<FieldRef>,
    seen: HashSet<FieldRef>,
}

/// A left-hand side with its type and whether it yields several values.
struct Typed {
    lhs: Lhs,
    ty: FieldType,
    /// Several values possible (list fields, `proc.aname` without index).
    list: bool,
    /// A true list (`k8s.pod.labels`): `in` needs every value in the set.
    /// Other multi-valued fields (`proc.aname`, `fd.port`) match when any
    /// value satisfies the comparison, as libsinsp's per-field compares do.
    set_semantics: bool,
    name: String,
}

impl<'e> Builder<'e> {
    pub fn new(env: &'e Env) -> Self {
        Builder {
            env,
            depth: 0,
            nodes: 0,
            macros: Vec::new(),
            origin: None,
            fields: Vec::new(),
            seen: HashSet::new(),
        }
    }

    pub fn into_fields(self) -> Vec<FieldRef> {
        self.fields
    }

    fn err(&self, kind: K, message: String, span: Span) -> CompileError {
        CompileError {
            kind,
            message,
            offset: span.start,
            in_macro: self.macros.last().cloned(),
            origin_offset: self.origin.unwrap_or(span.start),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> Result<Node> {
        self.nodes += 1;
        if self.nodes > MAX_COMPILE_NODES {
            return Err(self.err(
                K::TooLarge,
                format!("condition expands to more than {MAX_COMPILE_NODES} nodes"),
                e.span(),
            ));
        }
        self.depth += 1;
        if self.depth > MAX_COMPILE_DEPTH {
            return Err(self.err(
                K::TooDeep,
                format!(
                    "condition nests deeper than {MAX_COMPILE_DEPTH} levels after macro expansion"
                ),
                e.span(),
            ));
        }
        let n = match e {
            Expr::And(c, _) => Node::And(c.iter().map(|x| self.expr(x)).collect::<Result<_>>()?),
            Expr::Or(c, _) => Node::Or(c.iter().map(|x| self.expr(x)).collect::<Result<_>>()?),
            Expr::Not(x, _) => Node::Not(Box::new(self.expr(x)?)),
            Expr::Macro(name, span) => self.macro_ref(name, *span)?,
            Expr::Check(c) => self.check(c)?,
        };
        self.depth -= 1;
        Ok(n)
    }

    fn macro_ref(&mut self, name: &str, span: Span) -> Result<Node> {
        if self.macros.iter().any(|m| m == name) {
            return Err(self.err(
                K::MacroCycle(name.into()),
                format!(
                    "macro '{name}' refers to itself (through {})",
                    self.macros.join(" -> ")
                ),
                span,
            ));
        }
        let Some(body) = self.env.macros.get(name) else {
            return Err(self.err(
                K::UndefinedMacro(name.into()),
                format!("undefined macro '{name}'"),
                span,
            ));
        };
        if self.macros.is_empty() {
            self.origin = Some(span.start);
        }
        self.macros.push(name.to_string());
        let n = self.expr(body)?;
        self.macros.pop();
        if self.macros.is_empty() {
            self.origin = None;
        }
        Ok(n)
    }

    pub fn lone_operand(&mut self, o: &ast::Operand) -> Result<(Lhs, FieldType, String)> {
        let t = self.operand(o)?;
        Ok((t.lhs, t.ty, t.name))
    }

    fn field(&mut self, f: &ast::Field) -> Result<Typed> {
        let r = resolve(&f.name, f.arg.as_deref()).map_err(|e| {
            let kind = match &e {
                FieldError::Unknown(n) => K::UnknownField(n.clone()),
                _ => K::BadFieldArg,
            };
            self.err(kind, e.to_string(), f.span)
        })?;
        let info = r.id.info();
        let list = info.ty == FieldType::StrList
            || (info.arg == ArgKind::OptIndex && r.arg == FieldArg::None);
        if self.seen.insert(r.clone()) {
            self.fields.push(r.clone());
        }
        Ok(Typed {
            name: r.to_string(),
            lhs: Lhs::Field(r, NO_SLOT),
            ty: info.ty,
            list,
            set_semantics: info.ty == FieldType::StrList,
        })
    }

    fn operand(&mut self, o: &ast::Operand) -> Result<Typed> {
        match o {
            ast::Operand::Field(f) => self.field(f),
            ast::Operand::Literal(_, span) | ast::Operand::List(_, span) => Err(self.err(
                K::BadValue,
                "a literal or a list is only allowed as a transformer argument".into(),
                *span,
            )),
            ast::Operand::Transform {
                func,
                args,
                arg,
                span,
            } => {
                let mut targs = Vec::with_capacity(args.len());
                // Per argument: (yields several values, true list, string).
                let mut shapes: Vec<(bool, bool, bool)> = Vec::with_capacity(args.len());
                let mut names = Vec::new();
                for a in args {
                    let (targ, name, shape) = self.transformer_arg(a)?;
                    targs.push(targ);
                    names.push(name);
                    shapes.push(shape);
                }
                let (in_list, in_set, _) = shapes.first().copied().unwrap_or_default();
                self.check_transformer_types(*func, &shapes, *span)?;
                // Per-value transformers keep the shape of their input;
                // `getopt` yields a list (one value with `[c]`); the other
                // multi-argument ones a single string.
                let (ty, list, set_semantics) = match func {
                    Transformer::Len => (FieldType::U64, false, false),
                    Transformer::Getopt if arg.is_none() => (FieldType::Str, true, true),
                    Transformer::Concat | Transformer::Join | Transformer::Getopt => {
                        (FieldType::Str, false, false)
                    }
                    Transformer::B64 => (FieldType::Bytes, in_list, in_set),
                    _ => (FieldType::Str, in_list, in_set),
                };
                let sel = arg.as_ref().map_or(String::new(), |a| format!("[{a}]"));
                Ok(Typed {
                    name: format!("{}({}){sel}", func.name(), names.join(", ")),
                    lhs: Lhs::Transform(Box::new(Transform {
                        func: *func,
                        args: targs,
                        list_input: in_list,
                        select: arg.as_ref().and_then(|a| a.bytes().next()),
                    })),
                    ty,
                    list,
                    set_semantics,
                })
            }
        }
    }

    /// One transformer argument, its spelling, and its shape.
    fn transformer_arg(&mut self, a: &ast::Operand) -> Result<(TArg, String, (bool, bool, bool))> {
        Ok(match a {
            ast::Operand::Literal(s, _) => (
                TArg::Lit(s.as_bytes().into()),
                format!("{s:?}"),
                (false, false, true),
            ),
            ast::Operand::List(items, _) => {
                let mut out = Vec::with_capacity(items.len());
                let mut names = Vec::with_capacity(items.len());
                for it in items {
                    let (t, n, _) = self.transformer_arg(it)?;
                    out.push(t);
                    names.push(n);
                }
                (
                    TArg::List(out),
                    format!("({})", names.join(", ")),
                    (true, true, true),
                )
            }
            other => {
                let t = self.operand(other)?;
                let string = t.ty.is_string() && t.ty != FieldType::Bytes;
                (TArg::Lhs(t.lhs), t.name, (t.list, t.set_semantics, string))
            }
        })
    }

    /// The argument types libsinsp's multi-value transformers require
    /// (sinsp_filtercheck_multivalue_transformer.cpp): `concat` single
    /// strings; `join` a single separator then a list; `getopt` a list of
    /// strings then a single string.
    fn check_transformer_types(
        &self,
        func: Transformer,
        shapes: &[(bool, bool, bool)],
        span: Span,
    ) -> Result<()> {
        let bad = |m: &str| Err(self.err(K::BadValue, m.to_string(), span));
        match (func, shapes) {
            (Transformer::Concat, s) if s.iter().any(|&(list, _, string)| list || !string) => {
                bad("concat() arguments must be strings, not lists")
            }
            (Transformer::Join, [(true, ..), _]) => {
                bad("join() first argument (separator) must be a single value, not a list")
            }
            (Transformer::Join, [_, (false, ..)]) => bad("join() second argument must be a list"),
            (Transformer::Getopt, [(false, ..), _]) => {
                bad("getopt() first argument must be a list")
            }
            (Transformer::Getopt, [_, (true, ..)]) => {
                bad("getopt() second argument (optstring) must be a single value")
            }
            (Transformer::Getopt, [(_, _, a), (_, _, b)]) if !(*a && *b) => {
                bad("getopt() arguments must be strings")
            }
            _ => Ok(()),
        }
    }

    fn check(&mut self, c: &ast::Check) -> Result<Node> {
        let lhs = self.operand(&c.lhs)?;
        // What the right-hand side means, for the check's key.
        let mut rhs_key = String::new();
        let test = match (&c.rhs, c.op) {
            (_, Op::Exists) => Test::Exists,
            (Rhs::Operand(o), op) => {
                if matches!(op, Op::Glob | Op::IGlob | Op::Regex | Op::Pmatch) {
                    return Err(self.err(
                        K::BadOperator,
                        format!("operator '{}' needs a constant, not a field", op.name()),
                        c.op_span,
                    ));
                }
                let r = self.operand(o)?;
                rhs_key = r.name;
                let op = if op == Op::In && !lhs.set_semantics {
                    Op::Intersects
                } else {
                    op
                };
                Test::Dyn(op, r.lhs)
            }
            (rhs, op @ (Op::In | Op::Intersects)) => {
                let items = self.list_items(rhs)?;
                rhs_key = items_key(&items);
                let set = self.const_set(&lhs, &items)?;
                if op == Op::In && lhs.set_semantics {
                    Test::In(set)
                } else {
                    Test::Intersects(set)
                }
            }
            (rhs, Op::Pmatch) => {
                self.require_string(&lhs, Op::Pmatch, c.op_span)?;
                let items = self.list_items(rhs)?;
                rhs_key = items_key(&items);
                Test::Pmatch(PrefixSet::new(items.iter().map(|(s, _)| s.as_str())))
            }
            (rhs, op) if c.modifier.is_some() => {
                let m = c.modifier.unwrap_or(Modifier::AnyOf);
                let items = self.list_items(rhs)?;
                rhs_key = items_key(&items);
                self.quantified(&lhs, op, m, &items, c.op_span)?
            }
            (Rhs::Value { text, span, .. }, op) => {
                rhs_key = format!("{text:?}");
                self.scalar(&lhs, op, text, *span, c.op_span)?
            }
            (rhs, op) => {
                return Err(self.err(
                    K::BadValue,
                    format!("operator '{}' takes a single value", op.name()),
                    rhs.span().unwrap_or(c.span),
                ))
            }
        };
        // The resolved operand, not its spelling: `evt.arg.0` (by name) and
        // `evt.arg[0]` (by position) print alike but are different checks.
        let key = format!(
            "{:?}\0{}\0{}\0{rhs_key}",
            lhs.lhs,
            c.op.name(),
            c.modifier.map_or("", |m| m.name())
        );
        Ok(Node::Check(Arc::new(Check {
            lhs: lhs.lhs,
            test,
            key: key.into(),
            memo: NO_SLOT,
        })))
    }

    fn require_string(&self, lhs: &Typed, op: Op, at: Span) -> Result<()> {
        if lhs.ty.is_string() {
            return Ok(());
        }
        Err(self.err(
            K::BadOperator,
            format!(
                "operator '{}' is not supported on '{}' (type {})",
                op.name(),
                lhs.name,
                lhs.ty.name()
            ),
            at,
        ))
    }

    fn constant(&self, lhs: &Typed, text: &str, span: Span) -> Result<Const> {
        let bad = |what: &str| {
            self.err(
                K::BadValue,
                format!(
                    "'{}' (type {}) expects {what}, got '{text}'",
                    lhs.name,
                    lhs.ty.name()
                ),
                span,
            )
        };
        Ok(match lhs.ty {
            FieldType::Str | FieldType::Bytes | FieldType::StrList => {
                Const::Bytes(text.as_bytes().into())
            }
            FieldType::U64
            | FieldType::I64
            | FieldType::Port
            | FieldType::AbsTime
            | FieldType::RelTime => Const::Int(parse_int(text).ok_or_else(|| bad("a number"))?),
            FieldType::Bool => Const::Bool(parse_bool(text).ok_or_else(|| bad("true or false"))?),
            FieldType::IpAddr | FieldType::IpNet => {
                Const::Net(IpNet::parse(text).ok_or_else(|| bad("an IP address or network"))?)
            }
        })
    }

    fn const_set(&self, lhs: &Typed, items: &[(String, Span)]) -> Result<ConstSet> {
        if lhs.ty.is_string() {
            return Ok(ConstSet::Bytes(
                items.iter().map(|(s, _)| s.as_bytes()).collect(),
            ));
        }
        let consts = items
            .iter()
            .map(|(s, sp)| self.constant(lhs, s, *sp))
            .collect::<Result<Vec<_>>>()?;
        if lhs.ty.is_numeric() {
            return Ok(ConstSet::Int(
                consts
                    .iter()
                    .filter_map(|c| match c {
                        Const::Int(n) => Some(*n),
                        _ => None,
                    })
                    .collect(),
            ));
        }
        Ok(ConstSet::Other(consts))
    }

    fn scalar(&self, lhs: &Typed, op: Op, text: &str, span: Span, op_span: Span) -> Result<Test> {
        let cmp = |o| -> Result<Test> {
            let ordered = matches!(o, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge);
            // `evt.arg.fd < 0`: text fields holding numbers order numerically.
            if ordered && lhs.ty.is_string() {
                if let Some(n) = parse_int(text) {
                    return Ok(Test::Cmp(o, Const::Int(n)));
                }
            }
            let c = self.constant(lhs, text, span)?;
            if ordered && matches!(c, Const::Bool(_) | Const::Net(_)) {
                return Err(self.err(
                    K::BadOperator,
                    format!(
                        "operator '{}' is not supported on '{}' (type {})",
                        op.name(),
                        lhs.name,
                        lhs.ty.name()
                    ),
                    op_span,
                ));
            }
            Ok(Test::Cmp(o, c))
        };
        match op {
            Op::Eq => return cmp(CmpOp::Eq),
            Op::Ne => return cmp(CmpOp::Ne),
            Op::Lt => return cmp(CmpOp::Lt),
            Op::Le => return cmp(CmpOp::Le),
            Op::Gt => return cmp(CmpOp::Gt),
            Op::Ge => return cmp(CmpOp::Ge),
            _ => {}
        }
        self.require_string(lhs, op, op_span)?;
        let hex = || {
            parse_hex(text).ok_or_else(|| {
                self.err(
                    K::BadValue,
                    format!("'{}' expects hex bytes, got '{text}'", op.name()),
                    span,
                )
            })
        };
        Ok(match op {
            Op::Contains => Test::Contains(Box::new(Finder::new(text.as_bytes()).into_owned())),
            Op::BContains => Test::Contains(Box::new(Finder::new(&hex()?).into_owned())),
            Op::IContains => Test::ContainsAny(self.ac(&[text], true, span)?),
            Op::StartsWith => Test::StartsWith(text.as_bytes().into()),
            Op::BStartsWith => Test::StartsWith(hex()?.into()),
            Op::EndsWith => Test::EndsWith(text.as_bytes().into()),
            Op::Glob => Test::Glob(Glob::new(text, false)),
            Op::IGlob => Test::Glob(Glob::new(text, true)),
            Op::Regex => Test::Regex(Box::new(
                regex::bytes::RegexBuilder::new(&format!("^(?:{text})$"))
                    .size_limit(1 << 22)
                    .build()
                    .map_err(|e| self.err(K::BadValue, format!("invalid regex: {e}"), span))?,
            )),
            other => {
                return Err(self.err(
                    K::BadOperator,
                    format!("operator '{}' takes a list", other.name()),
                    op_span,
                ))
            }
        })
    }

    fn ac(
        &self,
        needles: &[&str],
        fold: bool,
        span: Span,
    ) -> Result<Box<aho_corasick::AhoCorasick>> {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(fold)
            .build(needles)
            .map(Box::new)
            .map_err(|e| self.err(K::BadValue, format!("cannot build matcher: {e}"), span))
    }

    /// `op anyof|allof|oneof (items)`: an item "hits" when some left value
    /// satisfies `op` with it; `anyof` needs one hit, `allof` every item to
    /// hit, `oneof` exactly one item to hit; duplicates count twice and an
    /// empty list never matches. From libsinsp (Falco 0.44): the
    /// FILTERCHECK_MOD_* tests and filter_cmpop_modifier.h (string
    /// operators only).
    fn quantified(
        &self,
        lhs: &Typed,
        op: Op,
        m: Modifier,
        items: &[(String, Span)],
        op_span: Span,
    ) -> Result<Test> {
        if !matches!(
            op,
            Op::Eq
                | Op::Ne
                | Op::Contains
                | Op::IContains
                | Op::BContains
                | Op::StartsWith
                | Op::BStartsWith
                | Op::EndsWith
                | Op::Glob
                | Op::IGlob
                | Op::Regex
        ) {
            return Err(self.err(
                K::BadOperator,
                format!(
                    "'{}' cannot take '{}': modifiers apply to string operators",
                    op.name(),
                    m.name()
                ),
                op_span,
            ));
        }
        let span = items.first().map_or(op_span, |(_, s)| *s);
        if m == Modifier::AnyOf {
            if matches!(op, Op::Contains | Op::IContains) && lhs.ty.is_string() {
                let needles: Vec<&str> = items.iter().map(|(s, _)| s.as_str()).collect();
                return Ok(Test::ContainsAny(self.ac(
                    &needles,
                    op == Op::IContains,
                    span,
                )?));
            }
            if op == Op::Eq {
                return Ok(Test::Intersects(self.const_set(lhs, items)?));
            }
        }
        let tests = items
            .iter()
            .map(|(s, sp)| self.scalar(lhs, op, s, *sp, op_span))
            .collect::<Result<Vec<_>>>()?;
        Ok(Test::Quant(m, tests.into()))
    }

    /// The items of a list right-hand side, with list names expanded.
    fn list_items(&self, rhs: &Rhs) -> Result<Vec<(String, Span)>> {
        let mut out = Vec::new();
        match rhs {
            Rhs::List(items, _) => {
                for it in items {
                    if it.bare && self.env.lists.contains_key(&it.value) {
                        self.expand_list(&it.value, it.span, 0, &mut out)?;
                    } else {
                        out.push((it.value.clone(), it.span));
                    }
                }
            }
            Rhs::ListRef(name, span) => {
                if !self.env.lists.contains_key(name) {
                    return Err(self.err(
                        K::UndefinedList(name.clone()),
                        format!("undefined list '{name}'"),
                        *span,
                    ));
                }
                self.expand_list(name, *span, 0, &mut out)?;
            }
            Rhs::Value { text, span, .. } => out.push((text.clone(), *span)),
            Rhs::None | Rhs::Operand(_) => {}
        }
        Ok(out)
    }

    fn expand_list(
        &self,
        name: &str,
        span: Span,
        depth: usize,
        out: &mut Vec<(String, Span)>,
    ) -> Result<()> {
        if depth > MAX_LIST_DEPTH {
            return Err(self.err(
                K::TooDeep,
                format!("list '{name}' nests too deeply (cycle?)"),
                span,
            ));
        }
        for item in self.env.lists.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            if item != name && self.env.lists.contains_key(item) {
                self.expand_list(item, span, depth + 1, out)?;
            } else {
                let v = crate::parser::unquote(item).unwrap_or_else(|| item.clone());
                out.push((v, span));
            }
        }
        Ok(())
    }
}

/// List items in a check key: quoted so that items containing commas or
/// quotes cannot make two different lists spell the same.
fn items_key(items: &[(String, Span)]) -> String {
    let mut k = String::from("(");
    for (s, _) in items {
        k.push_str(&format!("{s:?},"));
    }
    k.push(')');
    k
}
