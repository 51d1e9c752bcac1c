//! The reader: walks the top-level items of one rules file and hands each to
//! the collector, as Falco's rule_loader::reader does. Like Falco, reading a
//! file stops at its first error (later items would only cascade).

use std::collections::BTreeSet;

use super::collector::{Collector, Entry, ExceptionInfo, RuleInfo, RuleUpdate};
use super::decode::{is_bare_str, is_identifier, Ctx, Res};
use super::text::FileText;
use super::versions;
use super::yaml::{Kind, Node};
use crate::diag::{Code, Diagnostic, Diagnostics, ItemKind};
use crate::model::Priority;

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
];
const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];
const WARNING_APPEND: &str = "The 'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry in the 'override' key (i.e. 'override: { enabled: replace }').";

/// Reads every document of a parsed file into the collector. Returns false
/// after the first error, which is pushed to `diags`.
pub fn read(ft: &FileText, docs: &[Node], col: &mut Collector, diags: &mut Diagnostics) -> bool {
    for doc in docs {
        let items = match &doc.kind {
            Kind::Null => continue,
            Kind::Seq(items) => items,
            _ => {
                diags.push(
                    Diagnostic::error(
                        Code::YamlValidate,
                        "Rules content is not yaml array of objects",
                    )
                    .at(ft.node_pos(doc))
                    .expected("a sequence of items: '- rule: ...', '- macro: ...', '- list: ...'"),
                );
                return false;
            }
        };
        for item in items.iter().filter(|i| !i.is_null()) {
            if let Err(e) = read_item(ft, item, col, diags) {
                diags.push(*e);
                return false;
            }
        }
    }
    true
}

fn read_item(ft: &FileText, item: &Node, col: &mut Collector, diags: &mut Diagnostics) -> Res<()> {
    let mut ctx = Ctx {
        ft,
        item,
        kind: ItemKind::Item,
        name: String::new(),
    };
    if !matches!(item.kind, Kind::Map(_)) {
        return Err(ctx.err_expected(
            item,
            "Unexpected element type. Each element should be a yaml associative array.",
            "a mapping such as '- rule: NAME'",
        ));
    }
    let is = |k: &str| item.get(k).is_some();
    if is("required_engine_version") {
        ctx.kind = ItemKind::RequiredEngineVersion;
        diags
            .list
            .extend(ctx.unknown_keys(&["required_engine_version"]));
        versions::engine_version(&ctx, col)
    } else if is("required_plugin_versions") {
        ctx.kind = ItemKind::RequiredPluginVersions;
        diags
            .list
            .extend(ctx.unknown_keys(&["required_plugin_versions"]));
        versions::plugin_versions(&ctx, col, diags)
    } else if is("list") {
        ctx.kind = ItemKind::List;
        ctx.name = ctx.req_str("list")?.0;
        if !is_bare_str(&ctx.name) {
            let node = item.get("list").unwrap_or(item);
            return Err(ctx.err_expected(
                node,
                "Invalid list name",
                "a name matching [^()\"'[:space:]=,]+",
            ));
        }
        diags
            .list
            .extend(ctx.unknown_keys(&["list", "items", "append", "override"]));
        let items = ctx.str_seq("items", false)?.unwrap_or_default();
        let append = append_flag(&ctx, diags)?
            || overrides(&ctx, &["items"], &["items"])?.0.contains("items");
        let pos = ft.node_pos(item);
        if append {
            col.append_list(&ctx.name, items, &pos)
        } else {
            col.define_list(&ctx.name, items, pos);
            Ok(())
        }
    } else if is("macro") {
        ctx.kind = ItemKind::Macro;
        ctx.name = ctx.req_str("macro")?.0;
        if !is_identifier(&ctx.name) {
            let node = item.get("macro").unwrap_or(item);
            return Err(ctx.err_expected(
                node,
                "Invalid macro name",
                "a name matching [a-zA-Z]+[a-zA-Z0-9_]*",
            ));
        }
        diags
            .list
            .extend(ctx.unknown_keys(&["macro", "condition", "append", "override"]));
        let (cond, node) = ctx.req_str("condition")?;
        let cond = ft.scalar_source(node, &cond);
        let append = append_flag(&ctx, diags)?
            || overrides(&ctx, &["condition"], &["condition"])?
                .0
                .contains("condition");
        let pos = ft.node_pos(item);
        if append {
            col.append_macro(&ctx.name, cond, &pos)
        } else {
            col.define_macro(&ctx.name, cond, pos);
            Ok(())
        }
    } else if is("rule") {
        ctx.kind = ItemKind::Rule;
        ctx.name = ctx.req_str("rule")?.0;
        diags.list.extend(ctx.unknown_keys(RULE_KEYS));
        rule(&ctx, col, diags)
    } else {
        diags.push(
            Diagnostic::warning(Code::UnknownItem, "Unknown top level item")
                .at(ft.node_pos(item))
                .expected(
                    "one of: rule, macro, list, required_engine_version, required_plugin_versions",
                ),
        );
        Ok(())
    }
}

/// The deprecated `append: true`, with Falco's deprecation warning.
fn append_flag(ctx: &Ctx, diags: &mut Diagnostics) -> Res<bool> {
    let append = ctx.bool_val("append")?.unwrap_or(false);
    if append {
        diags.push(
            Diagnostic::warning(Code::DeprecatedItem, WARNING_APPEND)
                .at(ctx.ft.node_pos(ctx.item))
                .item(ctx.kind, &ctx.name),
        );
        if ctx.item.get("override").is_some() {
            return Err(ctx.err(
                ctx.item,
                "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
            ));
        }
    }
    Ok(append)
}

/// Decodes `override: {key: append|replace}`, checking Falco's per-key permissions.
fn overrides(
    ctx: &Ctx,
    appendable: &[&str],
    replaceable: &[&str],
) -> Res<(BTreeSet<String>, BTreeSet<String>)> {
    let (mut app, mut rep) = (BTreeSet::new(), BTreeSet::new());
    let Some(ov) = ctx.item.get("override") else {
        return Ok((app, rep));
    };
    let Kind::Map(entries) = &ov.kind else {
        return Err(ctx.err_expected(
            ov,
            "Value for key 'override' is not a mapping",
            "a mapping like {condition: append}",
        ));
    };
    for (k, v) in entries {
        let key = k.as_scalar().unwrap_or_default();
        let can_append = appendable.contains(&key);
        let can_replace = replaceable.contains(&key);
        match v.as_scalar() {
            Some("append") if can_append => {
                app.insert(key.to_string());
            }
            Some("append") => {
                return Err(ctx.err(
                    k,
                    format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                ))
            }
            Some("replace") if can_replace => {
                rep.insert(key.to_string());
            }
            Some("replace") => return Err(ctx.err(k, format!("Key '{key}' cannot be replaced"))),
            other => {
                let mut allowed = Vec::new();
                if can_append {
                    allowed.push("append");
                }
                if can_replace {
                    allowed.push("replace");
                }
                let msg = format!(
                    "Invalid override operation for key '{key}': '{}'",
                    other.unwrap_or("<not a scalar>")
                );
                let exp = if allowed.is_empty() {
                    "a key that can be overridden".to_string()
                } else {
                    allowed.join(" or ")
                };
                return Err(ctx.err_expected(v, &msg, &exp));
            }
        }
    }
    Ok((app, rep))
}

fn priority(ctx: &Ctx) -> Res<Option<Priority>> {
    let Some((s, node)) = ctx.str_val("priority", true)? else {
        return Ok(None);
    };
    match Priority::parse(&s) {
        Some(p) => Ok(Some(p)),
        None => Err(ctx.err_expected(
            node,
            &format!("Invalid priority '{s}'"),
            "one of emergency, alert, critical, error, warning, notice, informational (info), debug",
        )),
    }
}

fn rule(ctx: &Ctx, col: &mut Collector, diags: &mut Diagnostics) -> Res<()> {
    let item = ctx.item;
    let pos = ctx.ft.node_pos(item);
    let has_append = append_flag(ctx, diags)?;
    let (app, rep) = overrides(ctx, RULE_APPENDABLE, RULE_REPLACEABLE)?;
    if !app.is_empty() || !rep.is_empty() {
        // Every overridable key present must be named under `override`.
        let mut expected: BTreeSet<&str> = RULE_APPENDABLE
            .iter()
            .chain(RULE_REPLACEABLE)
            .copied()
            .filter(|k| item.get(k).is_some())
            .collect();
        for (set, kind) in [(&app, "append"), (&rep, "replace")] {
            if set.is_empty() {
                continue;
            }
            for key in set {
                if !expected.remove(key.as_str()) {
                    return Err(ctx.err(
                        item.get("override").unwrap_or(item),
                        format!("An {kind} override for '{key}' was specified but '{key}' is not defined"),
                    ));
                }
            }
            let upd = update(ctx, set, kind == "append")?;
            if kind == "append" {
                col.append_rule(&ctx.name, upd, &pos)?;
            } else {
                col.replace_rule(&ctx.name, upd, &pos)?;
            }
        }
        if let Some(key) = expected.into_iter().next() {
            let (k, _) = item.entry(key).unwrap_or((item, item));
            return Err(ctx.err(
                k,
                format!(
                    "Unexpected key '{key}': no corresponding entry under 'override' is defined."
                ),
            ));
        }
        return Ok(());
    }
    if has_append {
        let keys: BTreeSet<String> = ["condition", "exceptions"]
            .into_iter()
            .filter(|k| item.get(k).is_some())
            .map(String::from)
            .collect();
        let upd = update(ctx, &keys, true)?;
        return col.append_rule(&ctx.name, upd, &pos);
    }
    if ["condition", "output", "desc", "priority"]
        .iter()
        .all(|k| item.get(k).is_none())
    {
        // `- rule: X` + `enabled: B` toggles an earlier rule.
        let Some(enabled) = ctx.bool_val("enabled")? else {
            return Err(ctx.err_expected(item, "Item has no mapping for key 'condition'", "condition, output, desc and priority (or just 'enabled' to toggle an existing rule)"));
        };
        diags.push(
            Diagnostic::warning(Code::DeprecatedItem, WARNING_ENABLED)
                .at(pos.clone())
                .item(ItemKind::Rule, &ctx.name),
        );
        return col.enable_rule(&ctx.name, enabled, &pos);
    }
    let (cond, cnode) = ctx.req_str("condition")?;
    let (output, onode) = ctx.req_str("output")?;
    let (desc, _) = ctx.req_str("desc")?;
    let Some(priority) = priority(ctx)? else {
        return Err(ctx.err_expected(
            item,
            "Item has no mapping for key 'priority'",
            "a 'priority' key",
        ));
    };
    let info = RuleInfo {
        name: ctx.name.clone(),
        desc,
        cond: ctx.ft.scalar_source(cnode, &cond),
        output: output.trim().to_string(),
        output_pos: ctx.ft.node_pos(onode),
        priority,
        source: ctx
            .str_val("source", true)?
            .map_or_else(|| "syscall".to_string(), |s| s.0),
        enabled: ctx.bool_val("enabled")?.unwrap_or(true),
        tags: ctx.tags()?.unwrap_or_default(),
        exceptions: exceptions(ctx, has_append, diags)?,
        warn_evttypes: ctx.bool_val("warn_evttypes")?.unwrap_or(true),
        skip_if_unknown_filter: ctx.bool_val("skip-if-unknown-filter")?.unwrap_or(false),
        capture: ctx.bool_val("capture")?.unwrap_or(false),
        capture_duration: ctx.u64_val("capture_duration")?,
        pos,
        index: 0,
        visibility: 0,
    };
    col.define_rule(info)
}

/// Reads the keys named in `keys` into a rule update.
fn update(ctx: &Ctx, keys: &BTreeSet<String>, append: bool) -> Res<RuleUpdate> {
    let has = |k: &str| keys.contains(k);
    let mut u = RuleUpdate::default();
    if has("condition") {
        let (c, node) = ctx.req_str("condition")?;
        u.cond = Some(ctx.ft.scalar_source(node, &c));
    }
    if has("output") {
        u.output = Some(ctx.req_str("output")?.0);
    }
    if has("desc") {
        u.desc = Some(ctx.req_str("desc")?.0);
    }
    if has("tags") {
        u.tags = Some(ctx.tags()?.unwrap_or_default());
    }
    if has("exceptions") {
        let mut sink = Diagnostics::default();
        u.exceptions = Some(exceptions(ctx, true, &mut sink)?);
    }
    if !append {
        if has("priority") {
            u.priority = priority(ctx)?;
        }
        if has("enabled") {
            u.enabled = ctx.bool_val("enabled")?;
        }
        if has("warn_evttypes") {
            u.warn_evttypes = ctx.bool_val("warn_evttypes")?;
        }
        if has("skip-if-unknown-filter") {
            u.skip_if_unknown_filter = ctx.bool_val("skip-if-unknown-filter")?;
        }
        if has("capture") {
            u.capture = ctx.bool_val("capture")?;
        }
        if has("capture_duration") {
            u.capture_duration = ctx.u64_val("capture_duration")?;
        }
    }
    Ok(u)
}

fn entry(ctx: &Ctx, node: &Node, depth: usize) -> Res<Entry> {
    match &node.kind {
        Kind::Null => Ok(Entry::Absent),
        Kind::Scalar(s, _) if s.is_empty() => Err(ctx.err(node, "Value must be non-empty")),
        Kind::Scalar(s, _) => Ok(Entry::Item(s.clone())),
        Kind::Seq(items) if depth < 2 => items
            .iter()
            .map(|i| entry(ctx, i, depth + 1))
            .collect::<Res<Vec<_>>>()
            .map(Entry::List),
        _ => Err(ctx.err_expected(
            node,
            "Unexpected exception value",
            "a string or a list of strings",
        )),
    }
}

fn exceptions(ctx: &Ctx, append: bool, diags: &mut Diagnostics) -> Res<Vec<ExceptionInfo>> {
    let mut out: Vec<ExceptionInfo> = Vec::new();
    let Some(exs) = ctx.item.get("exceptions").filter(|e| !e.is_null()) else {
        return Ok(out);
    };
    let Kind::Seq(list) = &exs.kind else {
        return Err(ctx.err_expected(
            exs,
            "Rule exceptions must be a sequence",
            "a sequence of {name, fields, comps, values}",
        ));
    };
    for ex in list {
        if !matches!(ex.kind, Kind::Map(_)) {
            return Err(ctx.err(ex, "Rule exception must be a mapping"));
        }
        let sub = Ctx {
            ft: ctx.ft,
            item: ex,
            kind: ctx.kind,
            name: ctx.name.clone(),
        };
        diags
            .list
            .extend(sub.unknown_keys(&["name", "fields", "comps", "values"]));
        let (name, nnode) = sub.req_str("name")?;
        if out.iter().any(|e| e.name == name) {
            return Err(ctx.err(nnode, "Exceptions names in the same object must be unique"));
        }
        let fields = match ex.get("fields") {
            Some(f) => entry(ctx, f, 1)?,
            None if append => Entry::Absent,
            None => {
                return Err(ctx.err_expected(
                    ex,
                    "Item has no mapping for key 'fields'",
                    "a 'fields' key",
                ))
            }
        };
        let comps = ex
            .get("comps")
            .map(|c| entry(ctx, c, 1))
            .transpose()?
            .unwrap_or(Entry::Absent);
        let mut values = Vec::new();
        match ex.get("values") {
            Some(v) => {
                let Kind::Seq(vals) = &v.kind else {
                    return Err(ctx.err_expected(
                        v,
                        "Rule exception values must be a sequence",
                        "a sequence of values",
                    ));
                };
                for val in vals {
                    values.push(entry(ctx, val, 0)?);
                }
            }
            None if append => diags.push(
                Diagnostic::warning(
                    Code::AppendNoValues,
                    "Overriding/appending exception with no values",
                )
                .at(ctx.ft.node_pos(ex))
                .item(ItemKind::Rule, &ctx.name),
            ),
            None => {}
        }
        out.push(ExceptionInfo {
            name,
            fields,
            comps,
            values,
            pos: ctx.ft.node_pos(ex),
        });
    }
    Ok(out)
}
