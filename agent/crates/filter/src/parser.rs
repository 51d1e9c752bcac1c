//! Recursive-descent parser for the libsinsp filter grammar.
//!
//! Follows libsinsp's `parser.cpp` (Falco's reference): `or` < `and` < `not`
//! precedence, `not(`/`and(`/`or(` without a blank, bare strings
//! `[^()"'\s=,]+`, field names `ident(.ident)+` with an optional `[arg]`,
//! list values `( a, "b c" )` or a list name, and the transformers,
//! including the `anyof`/`allof`/`oneof` modifiers, the `regex` operator and
//! the multi-argument transformers `concat`, `join`, `getopt(...)[c]` of
//! recent libsinsp.
//!
//! Never panics; nesting deeper than [`MAX_DEPTH`] is an error rather than a
//! stack overflow.

use crate::ast::*;

mod lex;

use lex::Cursor;

/// Maximum nesting of parentheses, `not`s and transformers. libsinsp's
/// default max depth is 100 (counted in recursive calls, so its effective
/// nesting limit is lower); 100 nesting levels is at least as permissive.
pub const MAX_DEPTH: usize = 100;

/// A syntax error: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct ParseError {
    /// Byte offset into the condition text.
    pub offset: usize,
    pub message: String,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Parse a condition (or a macro body) into an [`Expr`].
pub fn parse(text: &str) -> Result<Expr> {
    let mut p = Parser {
        c: Cursor::new(text),
        depth: 0,
    };
    p.c.blank();
    if p.c.at_end() {
        return Err(p.err("expected a condition, found empty input"));
    }
    let e = p.or()?;
    p.c.blank();
    if !p.c.at_end() {
        return Err(p.err("unexpected token, expected 'and', 'or' or end of condition"));
    }
    Ok(e)
}

/// Parse a field or a transformer at the start of `text` (for output
/// formats); returns it and the number of bytes used, or `None`.
pub fn parse_operand(text: &str) -> Option<(Operand, usize)> {
    let mut p = Parser {
        c: Cursor::new(text),
        depth: 0,
    };
    if let Some(t) = p.c.transformer() {
        let o = p.transformer_rest(t, 0).ok()?;
        return Some((o, p.c.pos));
    }
    let name = p.c.field_name()?;
    let f = p.field_rest(name, 0).ok()?;
    Some((Operand::Field(f), p.c.pos))
}

/// The content of a string that is wholly one quoted literal (`"a b"`,
/// `'x'`), unescaped; `None` otherwise. List items from rules files are
/// spliced into conditions as text by Falco, so quotes in them count.
pub fn unquote(text: &str) -> Option<String> {
    let mut c = Cursor::new(text);
    let s = c.quoted().ok()??;
    c.at_end().then_some(s)
}

struct Parser<'s> {
    c: Cursor<'s>,
    depth: usize,
}

const STR_WORD_OPS: [(&str, Op); 9] = [
    ("contains", Op::Contains),
    ("icontains", Op::IContains),
    ("bcontains", Op::BContains),
    ("startswith", Op::StartsWith),
    ("bstartswith", Op::BStartsWith),
    ("endswith", Op::EndsWith),
    ("glob", Op::Glob),
    ("iglob", Op::IGlob),
    ("regex", Op::Regex),
];
const LIST_OPS: [(&str, Op); 3] = [
    ("in", Op::In),
    ("intersects", Op::Intersects),
    ("pmatch", Op::Pmatch),
];

impl<'s> Parser<'s> {
    fn err(&self, msg: &str) -> ParseError {
        self.err_at(self.c.pos, msg)
    }

    fn err_at(&self, offset: usize, msg: &str) -> ParseError {
        ParseError {
            offset,
            message: msg.to_string(),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("exceeded max nesting depth of {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr> {
        let start = self.c.pos;
        let mut children = vec![self.and()?];
        loop {
            self.c.blank();
            if !self.c.keyword("or") {
                break;
            }
            children.push(self.after_bool_keyword("or")?);
        }
        Ok(self.fold(children, start, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr> {
        let start = self.c.pos;
        let mut children = vec![self.not()?];
        loop {
            self.c.blank();
            if !self.c.keyword("and") {
                break;
            }
            children.push(self.after_bool_keyword("and")?);
        }
        Ok(self.fold(children, start, Expr::And))
    }

    /// After `and`/`or`: a blank then an operand, or `(` directly.
    fn after_bool_keyword(&mut self, kw: &str) -> Result<Expr> {
        if self.c.blank() {
            return if kw == "or" { self.and() } else { self.not() };
        }
        if self.c.eat("(") {
            return self.embedded();
        }
        Err(self.err(&format!("expected a blank or '(' after '{kw}'")))
    }

    fn fold(&self, mut children: Vec<Expr>, start: usize, f: fn(Vec<Expr>, Span) -> Expr) -> Expr {
        if children.len() == 1 {
            if let Some(only) = children.pop() {
                return only;
            }
        }
        let end = children.last().map_or(start, |e| e.span().end);
        f(children, Span::new(start, end))
    }

    fn not(&mut self) -> Result<Expr> {
        self.c.blank();
        let start = self.c.pos;
        let mut negate = false;
        loop {
            if self.c.keyword("not") {
                if self.c.blank() {
                    negate = !negate;
                    continue;
                }
                if self.c.eat("(") {
                    let inner = self.embedded()?;
                    let span = Span::new(start, self.c.pos);
                    let e = Expr::Not(Box::new(inner), span);
                    return Ok(if negate {
                        Expr::Not(Box::new(e), span)
                    } else {
                        e
                    });
                }
                return Err(self.err("expected a blank or '(' after 'not'"));
            }
            break;
        }
        let inner = self.check()?;
        Ok(if negate {
            let span = Span::new(start, inner.span().end);
            Expr::Not(Box::new(inner), span)
        } else {
            inner
        })
    }

    /// The rest of `( Expr )` after the `(`.
    fn embedded(&mut self) -> Result<Expr> {
        self.enter()?;
        let e = self.or()?;
        self.c.blank();
        if !self.c.eat(")") {
            return Err(self.err("expected ')' or 'and' / 'or'"));
        }
        self.depth -= 1;
        Ok(e)
    }

    fn check(&mut self) -> Result<Expr> {
        self.c.blank();
        let start = self.c.pos;
        if self.c.eat("(") {
            return self.embedded();
        }
        if let Some(t) = self.c.transformer() {
            let lhs = self.transformer_rest(t, start)?;
            return self.condition(lhs, start);
        }
        if let Some(name) = self.c.field_name() {
            let field = self.field_rest(name, start)?;
            return self.condition(Operand::Field(field), start);
        }
        if let Some(id) = self.c.identifier() {
            if matches!(id, "and" | "or" | "not") {
                return Err(self.err_at(start, &format!("unexpected '{id}', expected a check")));
            }
            return Ok(Expr::Macro(id.to_string(), Span::new(start, self.c.pos)));
        }
        if self.c.at_end() {
            return Err(
                self.err("unexpected end of condition, expected a field check, a macro or '('")
            );
        }
        Err(self.err("expected a field check, a macro name or '('"))
    }

    /// After a field name: an optional `[arg]`.
    fn field_rest(&mut self, name: &str, start: usize) -> Result<Field> {
        let mut arg = None;
        if self.c.eat("[") {
            let a = if let Some(q) = self.c.quoted()? {
                q
            } else if let Some(b) = self.c.field_arg_bare() {
                b.to_string()
            } else {
                return Err(self.err("expected a field argument: a quoted or bare string"));
            };
            if !self.c.eat("]") {
                return Err(self.err("expected ']' closing the field argument"));
            }
            arg = Some(a);
        }
        Ok(Field {
            name: name.to_string(),
            arg,
            span: Span::new(start, self.c.pos),
        })
    }

    /// After `name(`: the arguments and `)`, then `[c]` for `getopt`.
    fn transformer_rest(&mut self, func: Transformer, start: usize) -> Result<Operand> {
        self.enter()?;
        let mut args = Vec::new();
        loop {
            self.c.blank();
            let at = self.c.pos;
            let arg = if func_takes_literal(func) && self.c.eat("(") {
                self.transformer_list(at)?
            } else {
                self.transformer_arg(func, at, true)?
            };
            args.push(arg);
            self.c.blank();
            if self.c.eat(",") {
                continue;
            }
            if self.c.eat(")") {
                break;
            }
            return Err(self.err(&format!("expected ',' or ')' closing '{}('", func.name())));
        }
        self.depth -= 1;
        let mut arg = None;
        if func == Transformer::Getopt && self.c.eat("[") {
            let a = match self.c.quoted()? {
                Some(q) => q,
                None => self
                    .c
                    .field_arg_bare()
                    .map(str::to_string)
                    .unwrap_or_default(),
            };
            if !self.c.eat("]") {
                return Err(self.err("expected ']' closing the getopt option"));
            }
            arg = Some(a);
        }
        let span = Span::new(start, self.c.pos);
        check_transformer_args(func, &args, arg.as_deref()).map_err(|m| self.err_at(start, &m))?;
        Ok(Operand::Transform {
            func,
            args,
            arg,
            span,
        })
    }

    /// One transformer argument: a nested transformer, a field, or (for
    /// the multi-argument transformers) a quoted string or a number, as
    /// libsinsp's FieldTransformerArg.
    fn transformer_arg(&mut self, func: Transformer, at: usize, nested: bool) -> Result<Operand> {
        if let Some(t) = self.c.transformer().filter(|_| nested) {
            return self.transformer_rest(t, at);
        }
        if let Some(name) = self.c.field_name() {
            return Ok(Operand::Field(self.field_rest(name, at)?));
        }
        if func_takes_literal(func) {
            if let Some(q) = self.c.quoted()? {
                return Ok(Operand::Literal(q, Span::new(at, self.c.pos)));
            }
            let save = self.c.pos;
            if let Some(b) = self.c.bare_str() {
                if is_number(b) {
                    return Ok(Operand::Literal(b.to_string(), Span::new(at, self.c.pos)));
                }
                self.c.pos = save;
            }
        }
        Err(self.err_at(
            at,
            &format!(
                "expected a field, a nested transformer{} inside '{}('",
                if func_takes_literal(func) {
                    ", a quoted string, a number or a list"
                } else {
                    ""
                },
                func.name()
            ),
        ))
    }

    /// After the `(` of a list argument: `(a, "b", 1)` up to `)`.
    fn transformer_list(&mut self, start: usize) -> Result<Operand> {
        self.enter()?;
        let mut items = Vec::new();
        self.c.blank();
        if !self.c.eat(")") {
            loop {
                self.c.blank();
                let at = self.c.pos;
                let item = if let Some(t) = self.c.transformer() {
                    self.transformer_rest(t, at)?
                } else {
                    // Literals are allowed in lists whatever the transformer.
                    self.transformer_arg(Transformer::Concat, at, false)?
                };
                items.push(item);
                self.c.blank();
                if self.c.eat(",") {
                    continue;
                }
                if self.c.eat(")") {
                    break;
                }
                return Err(self.err("expected ',' or ')' closing the list"));
            }
        }
        self.depth -= 1;
        Ok(Operand::List(items, Span::new(start, self.c.pos)))
    }

    fn condition(&mut self, lhs: Operand, start: usize) -> Result<Expr> {
        self.c.blank();
        let op_start = self.c.pos;
        let op = self.operator()?;
        let op_span = Span::new(op_start, self.c.pos);
        let mut modifier = None;
        let rhs = match op {
            Op::Exists => Rhs::None,
            Op::In | Op::Intersects | Op::Pmatch => self.list_value()?,
            _ => {
                self.c.blank();
                if let Some(m) = self.c.modifier() {
                    modifier = Some(m);
                    self.list_value()?
                } else {
                    self.scalar_value()?
                }
            }
        };
        let span = Span::new(start, self.c.pos);
        Ok(Expr::Check(Box::new(Check {
            lhs,
            op,
            op_span,
            modifier,
            rhs,
            span,
        })))
    }

    fn operator(&mut self) -> Result<Op> {
        for (s, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.c.eat(s) {
                return Ok(op);
            }
        }
        let save = self.c.pos;
        if let Some(w) = self.c.word() {
            if w == "exists" {
                return Ok(Op::Exists);
            }
            for (name, op) in STR_WORD_OPS.iter().chain(LIST_OPS.iter()) {
                if *name == w {
                    // A word operator must be followed by a blank (or, for
                    // list operators, the list's '(').
                    if self.c.peek_blank() || (op.takes_list() && self.c.peek() == Some(b'(')) {
                        return Ok(*op);
                    }
                    return Err(self.err(&format!("expected a blank after '{w}'")));
                }
            }
            self.c.pos = save;
        }
        Err(self.err(
            "expected an operator: =, ==, !=, <, <=, >, >=, contains, icontains, bcontains, \
             startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, pmatch, exists",
        ))
    }

    /// A right-hand side for a scalar operator.
    fn scalar_value(&mut self) -> Result<Rhs> {
        self.c.blank();
        let start = self.c.pos;
        if let Some(o) = self.rhs_operand()? {
            return Ok(Rhs::Operand(o));
        }
        if let Some(q) = self.c.quoted()? {
            return Ok(Rhs::Value {
                text: q,
                quoted: true,
                span: Span::new(start, self.c.pos),
            });
        }
        if let Some(b) = self.c.bare_str() {
            return Ok(Rhs::Value {
                text: b.to_string(),
                quoted: false,
                span: Span::new(start, self.c.pos),
            });
        }
        Err(self.err("expected a value: a quoted or bare string, a number, or val(field)"))
    }

    /// `val(field)` or a transformer on the right-hand side.
    fn rhs_operand(&mut self) -> Result<Option<Operand>> {
        let start = self.c.pos;
        if self.c.eat_word_paren("val") {
            self.enter()?;
            self.c.blank();
            let at = self.c.pos;
            let Some(name) = self.c.field_name() else {
                return Err(self.err("expected a field inside 'val('"));
            };
            let field = self.field_rest(name, at)?;
            self.c.blank();
            if !self.c.eat(")") {
                return Err(self.err("expected ')' closing 'val('"));
            }
            self.depth -= 1;
            let _ = start;
            return Ok(Some(Operand::Field(field)));
        }
        if let Some(t) = self.c.transformer() {
            return Ok(Some(self.transformer_rest(t, start)?));
        }
        Ok(None)
    }

    fn list_value(&mut self) -> Result<Rhs> {
        self.c.blank();
        let start = self.c.pos;
        if self.c.eat("(") {
            let mut items = Vec::new();
            self.c.blank();
            if !self.c.eat(")") {
                loop {
                    self.c.blank();
                    let at = self.c.pos;
                    if let Some(q) = self.c.quoted()? {
                        items.push(ListItem {
                            value: q,
                            bare: false,
                            span: Span::new(at, self.c.pos),
                        });
                    } else if let Some(b) = self.c.bare_str() {
                        items.push(ListItem {
                            value: b.to_string(),
                            bare: true,
                            span: Span::new(at, self.c.pos),
                        });
                    } else {
                        return Err(self.err("expected a list item: a quoted or bare string"));
                    }
                    self.c.blank();
                    if self.c.eat(",") {
                        continue;
                    }
                    if self.c.eat(")") {
                        break;
                    }
                    return Err(self.err("expected ',' or ')' in list"));
                }
            }
            return Ok(Rhs::List(items, Span::new(start, self.c.pos)));
        }
        if let Some(o) = self.rhs_operand()? {
            return Ok(Rhs::Operand(o));
        }
        if let Some(id) = self.c.identifier() {
            return Ok(Rhs::ListRef(id.to_string(), Span::new(start, self.c.pos)));
        }
        Err(self.err("expected a list '(...)', a list name, or val(field)"))
    }
}

fn func_takes_literal(f: Transformer) -> bool {
    matches!(
        f,
        Transformer::Concat | Transformer::Join | Transformer::Getopt
    )
}

/// libsinsp's number token (`RGX_NUMBER`, `RGX_HEXNUM`).
fn is_number(s: &str) -> bool {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric());
    }
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(b);
    if int == 0 {
        return false;
    }
    let mut rest = &b[int..];
    if let Some(r) = rest.strip_prefix(b".") {
        rest = &r[digits(r)..];
    }
    if let Some(r) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let r = r.strip_prefix(b"+").or_else(|| r.strip_prefix(b"-"));
        return r.is_some_and(|r| !r.is_empty() && digits(r) == r.len());
    }
    rest.is_empty()
}

/// Arity as libsinsp's transformers check it (the types are checked when
/// compiling): single-operand transformers take one field or transformer;
/// `concat` two or more arguments; `join` (separator, list) and `getopt`
/// (argv list, optstring) exactly two; only `getopt` takes `[c]`, one
/// character (sinsp_filtercheck_multivalue_transformer.cpp).
fn check_transformer_args(
    f: Transformer,
    args: &[Operand],
    arg: Option<&str>,
) -> std::result::Result<(), String> {
    let literals = args
        .iter()
        .filter(|a| matches!(a, Operand::Literal(..) | Operand::List(..)))
        .count();
    let ok = match f {
        Transformer::Concat => args.len() >= 2,
        Transformer::Join | Transformer::Getopt => args.len() == 2,
        _ => args.len() == 1 && literals == 0,
    };
    if arg.is_some_and(|a| a.chars().count() != 1) {
        return Err("getopt()[...] takes a single option character".into());
    }
    if ok {
        return Ok(());
    }
    Err(match f {
        Transformer::Concat => "concat( takes at least two arguments".into(),
        Transformer::Join => "join( takes a separator and a list".into(),
        Transformer::Getopt => "getopt( takes an argument list and an option string".into(),
        _ => format!("{}( takes exactly one field or transformer", f.name()),
    })
}

#[cfg(test)]
mod tests;
