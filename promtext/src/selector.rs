//! PromQL-style label matchers for the agents source, which has no
//! Prometheus to evaluate them: `k="v"`, `k!="v"`, `k=~"re"`, `k!~"re"`.
//! Regexes support what selectors of this project need: alternation `|`,
//! `.*`, `.+`, `.` and literal text, anchored at both ends as in `PromQL`.

/// One matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: Op,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

/// Parse `a="x",b!~"y|z"`; `None` on a malformed selector.
#[must_use]
pub fn parse(text: &str) -> Option<Vec<Matcher>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let op_at = rest.find(['=', '!'])?;
        let label = rest[..op_at].trim().to_owned();
        let after = &rest[op_at..];
        let (op, after) = if let Some(a) = after.strip_prefix("=~") {
            (Op::Re, a)
        } else if let Some(a) = after.strip_prefix("!~") {
            (Op::NotRe, a)
        } else if let Some(a) = after.strip_prefix("!=") {
            (Op::Ne, a)
        } else {
            (Op::Eq, after.strip_prefix('=')?)
        };
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut end = None;
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => {
                    end = Some(i);
                    break;
                }
                other => value.push(other),
            }
        }
        if label.is_empty() {
            return None;
        }
        out.push(Matcher { label, op, value });
        rest = after[end? + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some(out)
}

/// True when every matcher holds (a missing label is the empty string, as in `PromQL`).
#[must_use]
pub fn matches(labels: &std::collections::BTreeMap<String, String>, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| {
        let v = labels.get(&m.label).map_or("", String::as_str);
        match m.op {
            Op::Eq => v == m.value,
            Op::Ne => v != m.value,
            Op::Re => regex_match(&m.value, v),
            Op::NotRe => !regex_match(&m.value, v),
        }
    })
}

fn regex_match(pattern: &str, text: &str) -> bool {
    pattern
        .split('|')
        .any(|alt| piece_match(alt.as_bytes(), text.as_bytes()))
}

/// Anchored match of `.`, `.*`, `.+` and literals.
fn piece_match(p: &[u8], t: &[u8]) -> bool {
    match p {
        [] => t.is_empty(),
        [b'.', b'*', rest @ ..] => (0..=t.len()).any(|i| piece_match(rest, &t[i..])),
        [b'.', b'+', rest @ ..] => (1..=t.len()).any(|i| piece_match(rest, &t[i..])),
        [b'.', rest @ ..] => !t.is_empty() && piece_match(rest, &t[1..]),
        [c, rest @ ..] => t.first() == Some(c) && piece_match(rest, &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
        assert!(parse(r#"method="INVITE"#).is_none(), "unterminated");
        assert!(
            regex_match("a.+c", "abbc") && !regex_match("a.+c", "ac") && regex_match("a.c", "abc")
        );
    }
}
