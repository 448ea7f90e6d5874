//! PromQL-style label matchers for readers without a Prometheus to
//! evaluate them (the scaler's agents source, the testbed, the tests):
//! `k="v"`, `k!="v"`, `k=~"re"`, `k!~"re"`, regexes anchored at both ends
//! as in `PromQL` (the `regex` crate speaks the same RE2 syntax).

use std::collections::BTreeMap;

use regex::Regex;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error(
        "label selector `{0}`: expected label=\"value\" pairs (=, !=, =~, !~) separated by commas"
    )]
    Syntax(String),
    #[error("label selector `{selector}`: bad regex `{pattern}`: {message}")]
    Regex {
        selector: String,
        pattern: String,
        message: String,
    },
}

/// One matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub label: String,
    pub op: Op,
    pub value: String,
    /// The anchored regex of `=~` and `!~`.
    regex: Option<Regex>,
}

impl Matcher {
    /// `label op "value"`; regex values are compiled (anchored) here.
    pub fn new(label: &str, op: Op, value: &str) -> Result<Self, SelectorError> {
        let regex =
            match op {
                Op::Re | Op::NotRe => Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                    SelectorError::Regex {
                        selector: format!("{label}{op}\"{value}\""),
                        pattern: value.to_owned(),
                        message: e.to_string(),
                    }
                })?),
                Op::Eq | Op::Ne => None,
            };
        Ok(Self {
            label: label.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Whether `labels` satisfy this matcher (a missing label is the empty
    /// string, as in `PromQL`).
    #[must_use]
    pub fn holds(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.label).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (Op::Eq, _) => v == self.value,
            (Op::Ne, _) => v != self.value,
            (Op::Re, Some(re)) => re.is_match(v),
            (Op::NotRe, Some(re)) => !re.is_match(v),
            (Op::Re | Op::NotRe, None) => unreachable!("regex matchers are compiled in new"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Re => "=~",
            Op::NotRe => "!~",
        })
    }
}

/// Parse `a="x",b!~"y|z"` (the part of a `PromQL` selector inside `{}`).
pub fn parse(text: &str) -> Result<Vec<Matcher>, SelectorError> {
    let syntax = || SelectorError::Syntax(text.to_owned());
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let op_at = rest.find(['=', '!']).ok_or_else(syntax)?;
        let label = rest[..op_at].trim();
        let after = &rest[op_at..];
        let (op, after) = if let Some(a) = after.strip_prefix("=~") {
            (Op::Re, a)
        } else if let Some(a) = after.strip_prefix("!~") {
            (Op::NotRe, a)
        } else if let Some(a) = after.strip_prefix("!=") {
            (Op::Ne, a)
        } else {
            (Op::Eq, after.strip_prefix('=').ok_or_else(syntax)?)
        };
        let after = after.trim_start().strip_prefix('"').ok_or_else(syntax)?;
        let mut value = String::new();
        let mut end = None;
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next().ok_or_else(syntax)?.1),
                '"' => {
                    end = Some(i);
                    break;
                }
                other => value.push(other),
            }
        }
        if label.is_empty() {
            return Err(syntax());
        }
        out.push(Matcher::new(label, op, &value)?);
        rest = after[end.ok_or_else(syntax)? + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Ok(out)
}

/// True when every matcher holds.
#[must_use]
pub fn matches(labels: &BTreeMap<String, String>, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.holds(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn promql_matchers() {
        let m = parse(r#"method="INVITE",iface=~"tbv-p.*",kind!="relay_response""#).expect("parse");
        assert_eq!(m.len(), 3);
        let proxy = labels(&[
            ("method", "INVITE"),
            ("iface", "tbv-p12"),
            ("kind", "response"),
        ]);
        let lb = labels(&[
            ("method", "INVITE"),
            ("iface", "tbv-lb"),
            ("kind", "response"),
        ]);
        assert!(matches(&proxy, &m));
        assert!(!matches(&lb, &m));
        let m = parse(r#"iface!~"tbv-lb|lo""#).expect("parse");
        assert!(matches(&proxy, &m) && !matches(&lb, &m));
        assert!(matches(&proxy, &parse("").expect("empty selector")));
        assert_eq!(
            parse(r#"method="INVITE"#).map(|_| ()),
            Err(SelectorError::Syntax(r#"method="INVITE"#.to_owned())),
            "unterminated"
        );
    }

    #[test]
    fn regexes_are_anchored_like_promql() {
        let m = parse(r#"iface=~"tbv-p[0-9]+""#).expect("parse");
        assert!(matches(&labels(&[("iface", "tbv-p7")]), &m));
        assert!(
            !matches(&labels(&[("iface", "tbv-p7x")]), &m),
            "anchored at the end"
        );
        assert!(
            !matches(&labels(&[("iface", "xtbv-p7")]), &m),
            "anchored at the start"
        );
        let missing = parse(r#"pod=~"""#).expect("parse");
        assert!(matches(&labels(&[]), &missing), "a missing label is empty");
        assert!(matches!(
            parse(r#"iface=~"tbv-(""#),
            Err(SelectorError::Regex { .. })
        ));
    }
}
