//! `required_engine_version` and `required_plugin_versions` items.

use super::collector::Collector;
use super::decode::{Ctx, Res};
use super::yaml::Kind;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::ENGINE_VERSION;

pub fn engine_version(ctx: &Ctx, col: &mut Collector) -> Res<()> {
    let (s, node) = ctx.req_str("required_engine_version")?;
    // Falco first reads a legacy integer N, meaning 0.N.0; then a semver string.
    let v = match s.parse::<u32>() {
        Ok(n) => (0, n as u64, 0),
        Err(_) => parse_semver(&s).ok_or_else(|| {
            ctx.err_expected(
                node,
                &format!("Unable to parse engine version '{s}' as a semver string."),
                "\"x.y.z\" semver format",
            )
        })?,
    };
    let e = ENGINE_VERSION;
    let compatible = e.0 == v.0 && (e.1 > v.1 || (e.1 == v.1 && e.2 >= v.2));
    if !compatible {
        let mut d = ctx.err_expected(
            node,
            &format!(
                "Rules require engine version {}.{}.{}, but engine version is {}.{}.{}",
                v.0, v.1, v.2, e.0, e.1, e.2
            ),
            &format!(
                "a version compatible with {}.{}.{} (same major, not newer)",
                e.0, e.1, e.2
            ),
        );
        d.code = Code::Validate;
        return Err(d);
    }
    if col.required_engine_version.is_none_or(|cur| cur < v) {
        col.required_engine_version = Some(v);
    }
    Ok(())
}

/// `x.y.z` with an optional `-pre`/`+build` suffix.
pub fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

/// Reads a `required_plugin_versions` item. Plugins are not loaded: the
/// container plugin's fields are built in, so its requirement is met at any
/// version; any other plugin gets a warning (rules of its source are skipped).
pub fn plugin_versions(ctx: &Ctx, col: &mut Collector, diags: &mut Diagnostics) -> Res<()> {
    let Some(node) = ctx.item.get("required_plugin_versions") else {
        return Ok(());
    };
    let Kind::Seq(plugins) = &node.kind else {
        return Err(ctx.err_expected(
            node,
            "Value of required_plugin_versions must be a sequence",
            "a sequence of {name, version}",
        ));
    };
    for p in plugins {
        let mut reqs = Vec::new();
        let mut entries = vec![p];
        if let Some(alts) = p.get("alternatives") {
            let Kind::Seq(alts) = &alts.kind else {
                return Err(ctx.err(
                    alts,
                    "Value of plugin version alternatives must be a sequence",
                ));
            };
            entries.extend(alts.iter());
        }
        for e in entries {
            if !matches!(e.kind, Kind::Map(_)) {
                return Err(ctx.err_expected(
                    e,
                    "Plugin version must be a mapping",
                    "{name: NAME, version: x.y.z}",
                ));
            }
            let sub = Ctx {
                ft: ctx.ft,
                item: e,
                kind: ctx.kind,
                name: String::new(),
            };
            let name = sub.req_str("name")?.0;
            let (version, vnode) = sub.req_str("version")?;
            if parse_semver(&version).is_none() {
                return Err(ctx.err(
                    vnode,
                    format!("Invalid required version '{version}' for plugin '{name}'"),
                ));
            }
            if reqs.iter().any(|(n, _)| *n == name) {
                return Err(ctx.err(
                    e,
                    format!(
                        "Defined multiple alternative version requirements for plugin '{name}'"
                    ),
                ));
            }
            reqs.push((name, version));
        }
        if !reqs.iter().any(|(n, _)| n == "container") {
            let names: Vec<&str> = reqs.iter().map(|(n, _)| n.as_str()).collect();
            diags.push(
                Diagnostic::warning(
                    Code::UnknownSource,
                    format!("Required plugin {} is not available (only the container plugin's fields are built in)", names.join(" or ")),
                )
                .at(ctx.ft.node_pos(p))
                .item(ctx.kind, &names.join("|")),
            );
        }
        col.required_plugin_versions.push(reqs);
    }
    Ok(())
}
