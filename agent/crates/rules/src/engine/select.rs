//! Falco's `rules:` selections: enable or disable rules by name (with `*`
//! wildcards) or by tag, applied in order after the files' own `enabled`.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    EnableRule(String),
    DisableRule(String),
    EnableTag(String),
    DisableTag(String),
}

impl Selection {
    /// The new enabled state for a rule, if this selection concerns it.
    pub fn apply(&self, name: &str, tags: &[String]) -> Option<bool> {
        match self {
            Selection::EnableRule(p) if wildcard(p, name) => Some(true),
            Selection::DisableRule(p) if wildcard(p, name) => Some(false),
            Selection::EnableTag(t) if tags.contains(t) => Some(true),
            Selection::DisableTag(t) if tags.contains(t) => Some(false),
            _ => None,
        }
    }
}

/// `*` matches any run of characters; everything else is literal.
pub fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "anything"));
        assert!(wildcard("Terminal*", "Terminal shell in container"));
        assert!(wildcard("*shell*", "Terminal shell in container"));
        assert!(!wildcard("*shell", "Terminal shell in container"));
        assert!(wildcard("a*b*c", "abc"));
        assert!(!wildcard("ab*ba", "aba"));
        assert!(wildcard("exact", "exact"));
    }

    #[test]
    fn selections() {
        let tags = vec!["network".to_string()];
        assert_eq!(
            Selection::DisableTag("network".into()).apply("x", &tags),
            Some(false)
        );
        assert_eq!(
            Selection::EnableRule("x*".into()).apply("xy", &tags),
            Some(true)
        );
        assert_eq!(Selection::EnableRule("z".into()).apply("xy", &tags), None);
    }
}
