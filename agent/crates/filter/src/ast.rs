//! The syntax tree of a condition, as written (macros and lists not expanded).
//!
//! Every node carries the byte span of its source text so that the compiler
//! can point at the offending token.

/// A byte range `[start, end)` in the condition text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// A boolean expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>, Span),
    Or(Vec<Expr>, Span),
    Not(Box<Expr>, Span),
    /// A bare identifier: a macro reference, expanded at compile time.
    Macro(String, Span),
    /// `lhs op rhs` or `lhs exists`.
    Check(Box<Check>),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::And(_, s) | Expr::Or(_, s) | Expr::Not(_, s) | Expr::Macro(_, s) => *s,
            Expr::Check(c) => c.span,
        }
    }
}

/// A field as written: `proc.aname[2]`, `evt.arg.flags`, `proc.env[HOME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The dotted name, without the bracket argument.
    pub name: String,
    /// The bracket argument, unquoted; `None` when absent.
    pub arg: Option<String>,
    pub span: Span,
}

/// The field transformers of libsinsp (plus `val`, which only appears on the
/// right-hand side).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Concat,
    Join,
    Getopt,
}

impl Transformer {
    pub const ALL: [Transformer; 8] = [
        Transformer::ToLower,
        Transformer::ToUpper,
        Transformer::B64,
        Transformer::Basename,
        Transformer::Len,
        Transformer::Concat,
        Transformer::Join,
        Transformer::Getopt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Concat => "concat",
            Transformer::Join => "join",
            Transformer::Getopt => "getopt",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// A value-producing operand: a field, a transformer applied to operands, or
/// (only inside the multi-argument transformers `concat`, `join`, `getopt`,
/// as in libsinsp's grammar) a quoted string or number literal, or a list
/// of those and fields: `getopt(("-n", "-t", "x"), "nt:")`.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Field(Field),
    Transform {
        func: Transformer,
        args: Vec<Operand>,
        /// `getopt(...)[t]`: the option to select (only `getopt` takes one).
        arg: Option<String>,
        span: Span,
    },
    Literal(String, Span),
    List(Vec<Operand>, Span),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Field(f) => f.span,
            Operand::Transform { span, .. }
            | Operand::Literal(_, span)
            | Operand::List(_, span) => *span,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
    Exists,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Operators whose right-hand side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

/// A list modifier on a string operator: `proc.cmdline contains allof (nc,
/// "-e")`, `proc.name startswith anyof (ba, zs)`.
///
/// An item "hits" when some value of the field satisfies the operator with
/// it. `anyof`: at least one item hits; `allof`: every item hits; `oneof`:
/// exactly one item hits. Only string operators (`=`, `!=`, `contains`,
/// `icontains`, `bcontains`, `startswith`, `bstartswith`, `endswith`,
/// `glob`, `iglob`, `regex`) take a modifier, as in libsinsp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    AnyOf,
    AllOf,
    OneOf,
}

impl Modifier {
    pub fn name(self) -> &'static str {
        match self {
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
            Modifier::OneOf => "oneof",
        }
    }
}

/// One item of a list literal: a string (quoted or bare) or a name that may
/// refer to a list from the lists table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListItem {
    pub value: String,
    /// True when written without quotes: only bare items can name a list.
    pub bare: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Rhs {
    /// No right-hand side (`exists`).
    None,
    /// A single string or number, as written (unquoted, unescaped).
    Value {
        text: String,
        quoted: bool,
        span: Span,
    },
    /// `(a, b, "c d")`.
    List(Vec<ListItem>, Span),
    /// A bare identifier after a list operator: `in shell_binaries`.
    ListRef(String, Span),
    /// `val(field)` or a transformer: compared field to field.
    Operand(Operand),
}

impl Rhs {
    pub fn span(&self) -> Option<Span> {
        match self {
            Rhs::None => None,
            Rhs::Value { span, .. } | Rhs::List(_, span) | Rhs::ListRef(_, span) => Some(*span),
            Rhs::Operand(o) => Some(o.span()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub lhs: Operand,
    pub op: Op,
    /// Span of the operator token.
    pub op_span: Span,
    pub modifier: Option<Modifier>,
    pub rhs: Rhs,
    pub span: Span,
}
