//! The metric names a `PromQL` expression reads, found with a small scanner
//! (no `PromQL` parser offline): strings, label matchers `{..}`, ranges `[..]`,
//! Grafana variables and numbers are skipped; an identifier followed by `(`
//! is a function; grouping clauses `by (..)` and friends are skipped whole;
//! keywords and aggregation operators are not names. What is left are the
//! metric (or recording-rule) names.

use std::collections::BTreeSet;

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end",
];

pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_group(&chars, i, '{', '}'),
            '[' => i = skip_group(&chars, i, '[', ']'),
            '#' => {
                i = chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(chars.len(), |p| i + p);
            }
            '$' => {
                // Grafana: ${var}, ${var:fmt} or $var / $__rate_interval.
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = skip_group(&chars, i, '{', '}');
                } else {
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = next_non_space(&chars, i);
                let lower = word.to_ascii_lowercase();
                if GROUPING.contains(&lower.as_str()) {
                    if let Some(open) = next.filter(|&n| chars[n] == '(') {
                        i = skip_group(&chars, open, '(', ')');
                    }
                } else if next.is_some_and(|n| chars[n] == '(')
                    || AGGREGATIONS.contains(&lower.as_str())
                    || KEYWORDS.contains(&lower.as_str())
                {
                    // A function call, an aggregation or a keyword.
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

fn next_non_space(chars: &[char], mut i: usize) -> Option<usize> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    (i < chars.len()).then_some(i)
}

/// Index after the string starting at `i` (its quote char), escapes honoured.
fn skip_string(chars: &[char], i: usize) -> usize {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

/// Index after the bracketed group opened at `i`, strings inside honoured.
fn skip_group(chars: &[char], i: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '"' | '\'' | '`' => {
                j = skip_string(chars, j);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::metric_names;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn histogram_quantile_by_clause() {
        let e = "histogram_quantile(0.99,\n  sum by (node, iface, le) (rate(siplat_sip_latency_seconds_bucket{method=\"INVITE\"}[1m])))";
        assert_eq!(names(e), ["siplat_sip_latency_seconds_bucket"]);
    }

    #[test]
    fn trailing_by_and_binary_ops() {
        let e = "sum(rate(a_total{x=~\"a{2}|}\"}[5m])) by (reason) / on(node) group_left(pod) b_info > bool 1e3 or vector(1)";
        assert_eq!(names(e), ["a_total", "b_info"]);
    }

    #[test]
    fn recording_rule_names_and_grafana_variables() {
        let e = "siplat:sip_calls:rate1m{namespace=\"$namespace\"} + rate(c_total[$__rate_interval]) * ${factor} offset 5m";
        assert_eq!(names(e), ["c_total", "siplat:sip_calls:rate1m"]);
    }

    #[test]
    fn aggregation_without_parentheses_next() {
        let e = "max without (instance) (up) + count_values(\"version\", build_info) - topk(3, d)";
        assert_eq!(names(e), ["build_info", "d", "up"]);
    }
}
