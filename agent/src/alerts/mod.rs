//! Alerts in Falco's formats: the JSON object (keys alphabetical: hostname,
//! output, output_fields, priority, rule, source, tags, time) and the text line
//! (`HH:MM:SS.nnnnnnnnn: Priority message`).
//!
//! Everything that does not change per event (the rule name and tags as JSON,
//! the output format with the suggested fields appended) is prepared once per
//! rule by [`Formatter::prepare`]; per alert we only render values.

use std::fmt::Write as _;

use saker_filter::fields::FieldType;
use saker_filter::{FieldSource, OutputFormat, Value};
use saker_rules::{CompiledRule, Priority};

/// The container and Kubernetes fields Falco's container plugin suggests, and
/// Falco appends to every syscall rule's output (`append_output:
/// suggested_output: true`) as `name=%field`, unless the output has them.
pub const SUGGESTED_FIELDS: [(&str, &str); 6] = [
    ("container_id", "container.id"),
    ("container_name", "container.name"),
    ("container_image_repository", "container.image.repository"),
    ("container_image_tag", "container.image.tag"),
    ("k8s_pod_name", "k8s.pod.name"),
    ("k8s_ns_name", "k8s.ns.name"),
];

#[derive(Clone, Debug)]
pub struct FormatOptions {
    pub hostname: String,
    pub include_output: bool,
    pub include_tags: bool,
    pub include_output_fields: bool,
    pub suggested_output: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            hostname: hostname(),
            include_output: true,
            include_tags: true,
            include_output_fields: true,
            suggested_output: true,
        }
    }
}

pub fn hostname() -> String {
    // Falco reads FALCO_HOSTNAME first, then the host's name.
    if let Ok(h) = std::env::var("FALCO_HOSTNAME") {
        return h;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Per-rule pieces computed at load time.
#[derive(Debug)]
pub struct PreparedRule {
    pub format: OutputFormat,
    pub rule_json: String,
    pub tags_json: String,
    pub priority: Priority,
}

/// One rendered alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub time_ns: i64,
    pub json: String,
    pub text: String,
    pub output: String,
}

pub struct Formatter {
    opts: FormatOptions,
    hostname_json: String,
}

/// Appends `s` as a JSON string, escaped exactly as serde_json does (`\"`,
/// `\\`, `\b \t \n \f \r`, other control characters as `\u00xx`, nothing
/// else), straight into `out`: alerts are rendered on the event path and
/// this runs for every key and string value.
fn json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Escapes are ASCII, so `start..i` always falls on char boundaries.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl Formatter {
    pub fn new(opts: FormatOptions) -> Self {
        let mut hostname_json = String::new();
        json_str(&mut hostname_json, &opts.hostname);
        Formatter {
            opts,
            hostname_json,
        }
    }

    pub fn options(&self) -> &FormatOptions {
        &self.opts
    }

    /// Compiles a rule's output with the suggested and extra fields appended.
    pub fn prepare(&self, rule: &CompiledRule) -> Result<PreparedRule, saker_filter::OutputError> {
        // `output_text` already carries Falco's append_output (the engine
        // applies it); the suggested fields come last, as in Falco.
        let mut text = rule.output_text.trim_end().to_string();
        if self.opts.suggested_output && rule.source == "syscall" {
            let present = saker_filter::compile_format(&text)?;
            for (label, field) in SUGGESTED_FIELDS {
                if !present.fields().iter().any(|f| f.name == field) {
                    let _ = write!(text, " {label}=%{field}");
                }
            }
        }
        let format = saker_filter::compile_format(&text)?;
        let mut tags: Vec<&str> = rule.tags.iter().map(String::as_str).collect();
        tags.sort_unstable();
        tags.dedup();
        let mut rule_json = String::new();
        json_str(&mut rule_json, &rule.name);
        Ok(PreparedRule {
            format,
            rule_json,
            tags_json: serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
            priority: rule.priority,
        })
    }

    /// Renders one alert for `rule` (prepared from `compiled`) matched by the
    /// event `src` at `time_ns`.
    pub fn render<S: FieldSource + ?Sized>(
        &self,
        rule: &PreparedRule,
        compiled: &CompiledRule,
        src: &S,
        time_ns: i64,
    ) -> Alert {
        let mut output = String::with_capacity(256);
        rule.format.render_text(src, &mut output);
        let priority = rule.priority.as_str();
        let time = saker_store::timefmt::format_falco(time_ns);

        let text = format!("{}: {priority} {output}", clock_of(&time));
        let mut json = String::with_capacity(512 + 2 * output.len());
        json.push_str("{\"hostname\":");
        json.push_str(&self.hostname_json);
        if self.opts.include_output {
            json.push_str(",\"output\":");
            json_str(&mut json, &text);
        }
        if self.opts.include_output_fields {
            // Falco builds output_fields from a sorted map: keys in order,
            // evt.time always present (as int ns), append_output's extra
            // fields rendered as strings. Values go into one buffer, keys are
            // borrowed from the rule: two allocations per alert, not two per
            // field.
            let mut vals = String::with_capacity(256);
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(16);
            rule.format.render_fields(src, |f, v| {
                let at = vals.len();
                write_values(&mut vals, f.ty, v);
                ranges.push(at..vals.len());
            });
            // render_fields visits the format's fields once each, in order.
            let mut fields: Vec<(&str, std::ops::Range<usize>)> = rule
                .format
                .fields()
                .iter()
                .map(|f| f.name.as_str())
                .zip(ranges)
                .collect();
            let mut scratch = String::new();
            for (key, fmt) in &compiled.extra_fields {
                scratch.clear();
                fmt.render_text(src, &mut scratch);
                let at = vals.len();
                json_str(&mut vals, &scratch);
                fields.push((key.as_str(), at..vals.len()));
            }
            if !fields.iter().any(|(k, _)| *k == "evt.time") {
                let at = vals.len();
                let _ = write!(vals, "{time_ns}");
                fields.push(("evt.time", at..vals.len()));
            }
            fields.sort_by(|a, b| a.0.cmp(b.0));
            fields.dedup_by(|a, b| a.0 == b.0);
            json.push_str(",\"output_fields\":{");
            for (i, (k, r)) in fields.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json_str(&mut json, k);
                json.push(':');
                json.push_str(&vals[r.clone()]);
            }
            json.push('}');
        }
        json.push_str(",\"priority\":\"");
        json.push_str(priority);
        json.push_str("\",\"rule\":");
        json.push_str(&rule.rule_json);
        json.push_str(",\"source\":\"syscall\"");
        if self.opts.include_tags {
            json.push_str(",\"tags\":");
            json.push_str(&rule.tags_json);
        }
        json.push_str(",\"time\":\"");
        json.push_str(&time);
        json.push_str("\"}");

        Alert {
            time_ns,
            json,
            text,
            output,
        }
    }
}

/// `HH:MM:SS.nnnnnnnnn` out of an RFC 3339 time with nanoseconds.
fn clock_of(rfc3339: &str) -> &str {
    rfc3339
        .split_once('T')
        .map(|(_, t)| t.trim_end_matches('Z'))
        .unwrap_or(rfc3339)
}

fn write_value(out: &mut String, ty: FieldType, v: &Value<'_>) {
    match *v {
        Value::Str(s) => json_str(out, s),
        // Invalid UTF-8 becomes U+FFFD, as Falco's JSON encoder does.
        Value::Bytes(b) => json_str(out, &String::from_utf8_lossy(b)),
        Value::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Ip(ip) => {
            let _ = write!(out, "\"{ip}\"");
        }
    }
    let _ = ty;
}

/// A field's value in `output_fields`: null when missing, an array for list
/// fields and several values, the typed scalar otherwise.
fn write_values(out: &mut String, ty: FieldType, vals: Option<&[Value<'_>]>) {
    match vals {
        None | Some([]) => out.push_str("null"),
        Some([v]) if ty != FieldType::StrList => write_value(out, ty, v),
        Some(vs) => {
            out.push('[');
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, ty, v);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests;
