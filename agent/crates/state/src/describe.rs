//! A one-line text rendering of an event's enriched fields, for `saker
//! capture`.

use crate::view::EventView;
use saker_filter::fields::{FieldId as F, FieldRef, FieldSource, Values};

/// The fields `saker capture` shows per event, so what rules will see can
/// be checked by eye.
pub const DESCRIBE_FIELDS: &[F] = &[
    F::EvtType,
    F::EvtDir,
    F::EvtRes,
    F::EvtArgs,
    F::ProcPid,
    F::ProcPpid,
    F::ProcName,
    F::ProcExepath,
    F::ProcCmdline,
    F::ProcPname,
    F::ProcCwd,
    F::UserName,
    F::UserUid,
    F::FdNum,
    F::FdName,
    F::FdType,
    F::ContainerId,
    F::K8sNsName,
    F::K8sPodName,
];

impl EventView<'_> {
    /// `name=value` for each of [`DESCRIBE_FIELDS`] that has a value, in
    /// Falco's text rendering.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let mut out = Values::new();
        for &id in DESCRIBE_FIELDS {
            out.clear();
            if !self.extract(&FieldRef::new(id), &mut out) {
                continue;
            }
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(id.name());
            s.push('=');
            for (i, v) in out.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                saker_filter::fields::render_value(v, id.ty(), &mut s);
            }
        }
        s
    }
}
