//! `Collected` → `Engine`, following Falco's rule_loader::compiler: parse
//! every macro (a macro may only use macros visible where it was defined),
//! compile every rule against all macros and lists, compile its output once,
//! and warn about unused macros and lists and about rules that are not
//! restricted to a few event types.

use std::collections::{HashMap, HashSet};

use saker_filter::ast::Expr;
use saker_filter::compile::CompileErrorKind;
use saker_filter::output::{compile_format, OutputError};
use saker_filter::{parser, CompileError, Env, EvtTypes};

use super::{refs, CompiledRule, Engine, EngineOptions};
use crate::diag::{Code, Diagnostic, Diagnostics, ItemKind};
use crate::model::{Collected, MacroDef, RuleDef, Source};

/// Falco warns when a rule may match more event types than this.
const MAX_EVTTYPES: usize = 100;

/// Compiles `c` into an engine. Errors and warnings go to `diags`; the
/// engine is returned only when there was no error.
pub fn compile(c: &Collected, opts: &EngineOptions, diags: &mut Diagnostics) -> Option<Engine> {
    let errors_before = diags.error_count();
    let mut used_macros: HashSet<&str> = HashSet::new();
    let mut used_lists: HashSet<&str> = HashSet::new();
    for l in &c.lists {
        used_lists.extend(l.uses.iter().map(String::as_str));
    }

    let macro_index: HashMap<&str, &MacroDef> =
        c.macros.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut env = Env::new();
    // Macros that failed to parse: rules using them are not reported again.
    let mut broken: HashSet<&str> = HashSet::new();
    for m in &c.macros {
        let ast = match parser::parse(&m.condition.text) {
            Ok(a) => a,
            Err(e) => {
                diags.push(parse_error(&m.condition, e, ItemKind::Macro, &m.name));
                broken.insert(&m.name);
                continue;
            }
        };
        let r = refs::collect(&ast);
        for (name, span) in &r.macros {
            match macro_index.get_key_value(name.as_str()) {
                Some((k, def)) if def.index < m.visibility => {
                    used_macros.insert(k);
                }
                _ => diags.push(
                    Diagnostic::error(
                        Code::CompileCondition,
                        format!("Undefined macro '{name}' used in filter."),
                    )
                    .at_opt(m.condition.pos_of(span.start))
                    .len(name.len())
                    .item(ItemKind::Macro, &m.name)
                    .expected("a macro defined before this one, or a field comparison"),
                ),
            }
        }
        mark_lists(c, &r.lists, &mut used_lists);
        if r.macros.iter().any(|(n, _)| broken.contains(n.as_str())) {
            broken.insert(&m.name);
        }
        env.macros.insert(m.name.clone(), ast);
    }
    for l in &c.lists {
        env.lists
            .insert(l.name.clone(), l.items.iter().map(|i| unquote(i)).collect());
    }

    let mut rules = Vec::new();
    for r in &c.rules {
        if r.source != "syscall" {
            diags.push(
                Diagnostic::warning(
                    Code::UnknownSource,
                    format!("Unknown source {}, skipping", r.source),
                )
                .at(r.pos.clone())
                .item(ItemKind::Rule, &r.name)
                .expected("source 'syscall' (plugin sources are not loaded)"),
            );
            continue;
        }
        let ast = match parser::parse(&r.condition.text) {
            Ok(a) => a,
            Err(e) => {
                diags.push(parse_error(&r.condition, e, ItemKind::Rule, &r.name));
                continue;
            }
        };
        let refs = refs::collect(&ast);
        for (name, _) in &refs.macros {
            if let Some((k, _)) = macro_index.get_key_value(name.as_str()) {
                used_macros.insert(k);
            }
        }
        mark_lists(c, &refs.lists, &mut used_lists);
        if refs.macros.iter().any(|(n, _)| broken.contains(n.as_str())) {
            continue;
        }
        if let Some(rule) = compile_rule(r, &ast, &env, &macro_index, opts, diags) {
            rules.push(rule);
        }
    }

    for m in c
        .macros
        .iter()
        .filter(|m| !used_macros.contains(m.name.as_str()))
    {
        diags.push(
            Diagnostic::warning(
                Code::UnusedMacro,
                "Macro not referred to by any other rule/macro",
            )
            .at(m.pos.clone())
            .item(ItemKind::Macro, &m.name),
        );
    }
    for l in c
        .lists
        .iter()
        .filter(|l| !used_lists.contains(l.name.as_str()))
    {
        diags.push(
            Diagnostic::warning(
                Code::UnusedList,
                "List not referred to by any other rule/macro",
            )
            .at(l.pos.clone())
            .item(ItemKind::List, &l.name),
        );
    }
    if diags.error_count() > errors_before {
        return None;
    }
    Some(Engine::from_rules(rules, opts))
}

/// Falco splices list items into the condition text, so an item written
/// with quotes (`'"10.0.0.0/8"'`) is read by the condition parser as a
/// quoted string: the quotes are not part of the value.
fn unquote(item: &str) -> String {
    let b = item.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &item[1..item.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        return out;
    }
    item.to_string()
}

fn mark_lists<'a>(c: &'a Collected, names: &[String], used: &mut HashSet<&'a str>) {
    for n in names {
        if let Some(l) = c.lists.iter().find(|l| l.name == *n) {
            used.insert(&l.name);
        }
    }
}

fn parse_error(src: &Source, e: parser::ParseError, kind: ItemKind, name: &str) -> Diagnostic {
    Diagnostic::error(Code::CompileCondition, e.message.clone())
        .at_opt(src.pos_of(e.offset))
        .item(kind, name)
}

/// Where a compile error points: into the macro it came from, if any.
fn compile_error(
    r: &RuleDef,
    e: &CompileError,
    macros: &HashMap<&str, &MacroDef>,
    code: Code,
    warning: bool,
) -> Diagnostic {
    // Falco's wording for the most common mistake.
    let message = match &e.kind {
        CompileErrorKind::UndefinedMacro(name) => {
            format!("Undefined macro '{name}' used in filter.")
        }
        _ => e.message.clone(),
    };
    let (pos, msg) = match e.in_macro.as_deref().and_then(|m| macros.get(m)) {
        Some(m) => (
            m.condition.pos_of(e.offset),
            format!(
                "{} (in macro '{}', used by this rule at {})",
                message,
                m.name,
                r.condition
                    .pos_of(e.origin_offset)
                    .map_or_else(String::new, |p| format!("line {} column {}", p.line, p.col))
            ),
        ),
        None => (r.condition.pos_of(e.offset), message),
    };
    let d = if warning {
        Diagnostic::warning(code, msg)
    } else {
        Diagnostic::error(code, msg)
    };
    let d = d.at_opt(pos).item(ItemKind::Rule, &r.name);
    match &e.kind {
        CompileErrorKind::UndefinedMacro(n) => d.len(n.chars().count()).expected(
            "a macro defined in the loaded files, or a comparison such as 'field = value'",
        ),
        CompileErrorKind::UnknownField(f) => d
            .len(f.chars().count())
            .expected("a field listed by `saker fields`"),
        _ => d,
    }
}

fn compile_rule(
    r: &RuleDef,
    ast: &Expr,
    env: &Env,
    macros: &HashMap<&str, &MacroDef>,
    opts: &EngineOptions,
    diags: &mut Diagnostics,
) -> Option<CompiledRule> {
    let filter = match saker_filter::compile(ast, env) {
        Ok(f) => f,
        Err(e) if e.unknown_field().is_some() && r.skip_if_unknown_filter => {
            diags.push(compile_error(r, &e, macros, Code::UnknownFilter, true));
            return None;
        }
        Err(e) => {
            diags.push(compile_error(r, &e, macros, Code::CompileCondition, false));
            return None;
        }
    };
    // Falco drops the deprecated %container.info (the container fields are
    // appended as suggested output fields instead) and warns.
    let output_text = if r.output.contains("%container.info") {
        diags.push(
            Diagnostic::warning(
                Code::DeprecatedItem,
                "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.",
            )
            .at(r.output_pos.clone())
            .item(ItemKind::Rule, &r.name),
        );
        r.output.replace("%container.info", "")
    } else {
        r.output.clone()
    };
    let mut output_text = output_text;
    let mut extra = Vec::new();
    for a in opts
        .append_output
        .iter()
        .filter(|a| a.applies(&r.name, &r.source, &r.tags))
    {
        if let Some(x) = &a.extra_output {
            output_text = format!("{output_text} {x}");
        }
        extra.extend(a.extra_fields.iter().cloned());
    }
    let mut extra_fields = Vec::with_capacity(extra.len());
    for (key, fmt) in extra {
        match compile_format(&fmt) {
            Ok(f) => extra_fields.push((key, f)),
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        Code::CompileOutput,
                        format!("append_output field '{key}': {e}"),
                    )
                    .at(r.output_pos.clone())
                    .item(ItemKind::Rule, &r.name),
                );
                return None;
            }
        }
    }
    let output = match compile_format(&output_text) {
        Ok(o) => o,
        Err(e) => {
            let unknown = matches!(&e, OutputError::Field(f) if f.unknown_field().is_some());
            let d = if unknown && r.skip_if_unknown_filter {
                Diagnostic::warning(Code::UnknownFilter, e.to_string())
            } else {
                Diagnostic::error(Code::CompileOutput, e.to_string())
            };
            diags.push(d.at(r.output_pos.clone()).item(ItemKind::Rule, &r.name));
            return None;
        }
    };
    let evt_types = filter.evt_types().clone();
    let too_many = match &evt_types {
        EvtTypes::Only(s) => s.is_empty() || s.len() > MAX_EVTTYPES,
        _ => true,
    };
    if too_many && r.warn_evttypes {
        diags.push(
            Diagnostic::warning(
                Code::NoEvttype,
                "Rule matches too many evt.type values. This has a significant performance penalty.",
            )
            .at(r.pos.clone())
            .item(ItemKind::Rule, &r.name)
            .expected("a condition restricted to a few evt.type values"),
        );
    }
    let mut enabled = r.enabled;
    for s in &opts.selections {
        if let Some(e) = s.apply(&r.name, &r.tags) {
            enabled = e;
        }
    }
    Some(CompiledRule {
        name: r.name.clone(),
        desc: r.desc.clone(),
        priority: r.priority,
        source: r.source.clone(),
        tags: r.tags.clone(),
        enabled,
        evt_types,
        capture: r.capture,
        capture_duration: r.capture_duration,
        filter,
        output,
        output_text,
        extra_fields,
        pos: r.pos.clone(),
    })
}
