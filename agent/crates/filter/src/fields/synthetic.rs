//! A hand-built event for tests: a map from field spelling to values.

use std::collections::HashMap;

use super::{resolve, FieldArg, FieldError, FieldId, FieldRef, FieldSource, OwnedValue, Values};

/// **Test helper**: an event whose fields are set by name.
///
/// Keys are canonical field spellings (`proc.name`, `proc.aname[2]`,
/// `evt.arg.flags`, `proc.env[HOME]`). Values are parsed by the field's
/// catalogue type. Lookups allocate; this is for tests and replay tools, not
/// the hot path.
///
/// Ancestors: [`SyntheticEvent::ancestors`] sets the chain parent-first;
/// `proc.aname[0]` is then `proc.name`, `proc.aname[N]` the Nth ancestor and
/// `proc.aname` (no index) every ancestor. The same holds for `apid`,
/// `aexe`, `aexepath` with `proc.pid`, `proc.exe`, `proc.exepath`.
#[derive(Clone, Debug, Default)]
pub struct SyntheticEvent {
    evt_type: String,
    values: HashMap<String, Vec<OwnedValue>>,
}

impl SyntheticEvent {
    pub fn new(evt_type: &str) -> Self {
        let mut e = SyntheticEvent {
            evt_type: evt_type.to_string(),
            ..Default::default()
        };
        e.values
            .insert("evt.type".into(), vec![OwnedValue::Str(evt_type.into())]);
        e
    }

    fn key(field: &str) -> Result<(String, FieldRef), FieldError> {
        let (name, arg) = match field.find('[') {
            Some(i) if field.ends_with(']') => (&field[..i], Some(&field[i + 1..field.len() - 1])),
            _ => (field, None),
        };
        let r = resolve(name, arg)?;
        Ok((r.to_string(), r))
    }

    /// Set a field to values given as text, parsed by the field's type.
    pub fn try_set(&mut self, field: &str, values: &[&str]) -> Result<&mut Self, String> {
        let (key, r) = Self::key(field).map_err(|e| e.to_string())?;
        let ty = r.id.ty();
        let parsed = values
            .iter()
            .map(|v| OwnedValue::parse(ty, v).ok_or_else(|| format!("{field}: bad value '{v}'")))
            .collect::<Result<Vec<_>, _>>()?;
        if r.id == FieldId::EvtType {
            if let Some(OwnedValue::Str(s)) = parsed.first() {
                self.evt_type = s.clone();
            }
        }
        self.values.insert(key, parsed);
        Ok(self)
    }

    /// Set a field from already typed values.
    pub fn set_values(&mut self, field: &str, values: Vec<OwnedValue>) -> &mut Self {
        if let Ok((key, _)) = Self::key(field) {
            self.values.insert(key, values);
        }
        self
    }

    /// Builder form of [`Self::try_set`] with one value.
    ///
    /// # Panics
    /// On an unknown field or a value that does not parse: a test bug.
    pub fn with(mut self, field: &str, value: &str) -> Self {
        if let Err(e) = self.try_set(field, &[value]) {
            panic!("SyntheticEvent::with: {e}");
        }
        self
    }

    /// Builder form of [`Self::try_set`] with several values (list fields).
    ///
    /// # Panics
    /// On an unknown field or a value that does not parse: a test bug.
    pub fn with_list(mut self, field: &str, values: &[&str]) -> Self {
        if let Err(e) = self.try_set(field, values) {
            panic!("SyntheticEvent::with_list: {e}");
        }
        self
    }

    /// Set the ancestor names, parent first (see the type docs).
    pub fn ancestors(self, names: &[&str]) -> Self {
        self.with_list("proc.aname", names)
    }

    /// Remove a field so that it reads as missing.
    pub fn without(mut self, field: &str) -> Self {
        if let Ok((key, _)) = Self::key(field) {
            self.values.remove(&key);
        }
        self
    }

    fn ancestor_self(id: FieldId) -> Option<FieldId> {
        Some(match id {
            FieldId::ProcAname => FieldId::ProcName,
            FieldId::ProcApid => FieldId::ProcPid,
            FieldId::ProcAexe => FieldId::ProcExe,
            FieldId::ProcAexepath => FieldId::ProcExepath,
            FieldId::ProcAcmdline => FieldId::ProcCmdline,
            _ => return None,
        })
    }
}

impl FieldSource for SyntheticEvent {
    fn evt_type(&self) -> &str {
        &self.evt_type
    }

    fn extract<'a>(&'a self, field: &FieldRef, out: &mut Values<'a>) -> bool {
        let found = match self.values.get(&field.to_string()) {
            Some(v) => Some(&v[..]),
            None => match (&field.arg, Self::ancestor_self(field.id)) {
                // Ancestors by index from the parent-first chain.
                (FieldArg::Index(0), Some(own)) => self.values.get(own.name()).map(|v| &v[..]),
                (FieldArg::Index(n), Some(_)) => self
                    .values
                    .get(field.id.name())
                    .and_then(|v| v.get(*n as usize - 1))
                    .map(std::slice::from_ref),
                _ => None,
            },
        };
        match found {
            Some(vals) if !vals.is_empty() => {
                out.extend(vals.iter().map(OwnedValue::as_value));
                true
            }
            _ => false,
        }
    }
}
