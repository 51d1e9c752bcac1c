//! Fields: the static catalogue, resolved field references, the values a
//! source hands out, and the [`FieldSource`] trait that produces them.

mod catalogue;
mod resolve;
mod synthetic;
mod value;

pub use catalogue::{ArgKind, FieldId, FieldInfo, FieldType, CATALOGUE};
pub use resolve::{lookup, resolve, FieldArg, FieldError, FieldRef};
pub use synthetic::SyntheticEvent;
pub use value::{render_value, OwnedValue, Value, Values};

/// Where field values come from at evaluation time.
///
/// The agent's state tables implement it for live events; tests use
/// [`SyntheticEvent`]. Values borrow from the source so that evaluation does
/// not allocate: the caller passes a small inline buffer (`Values`), which
/// only spills to the heap past sixteen values.
pub trait FieldSource {
    /// The event type name (`"execve"`, `"openat"`), as used by `evt.type`.
    /// Rules are indexed by it.
    fn evt_type(&self) -> &str;

    /// Push the value(s) of `field` into `out`, returning false when the
    /// field has no value for this event (then nothing must be pushed).
    ///
    /// Scalar fields push one value. List-valued fields push each element;
    /// `proc.aname` (and `apid`, `aexe`, `aexepath`) with no index push every
    /// ancestor starting from the parent, and "either" fields (`fd.ip`,
    /// `fd.port`, `fd.net`, `fd.proto`) push the client and the server
    /// value. A comparison is true when any pushed value satisfies it; only
    /// for `FieldType::StrList` fields does `in` require every value. Numeric fields must push
    /// `Value::U64`/`Value::I64`, booleans `Value::Bool`, address fields
    /// `Value::Ip` (for `fd.net`-style fields: the address to test), strings
    /// `Value::Str` or `Value::Bytes`.
    fn extract<'a>(&'a self, field: &FieldRef, out: &mut Values<'a>) -> bool;
}

impl<T: FieldSource + ?Sized> FieldSource for &T {
    fn evt_type(&self) -> &str {
        (**self).evt_type()
    }
    fn extract<'a>(&'a self, field: &FieldRef, out: &mut Values<'a>) -> bool {
        (**self).extract(field, out)
    }
}
