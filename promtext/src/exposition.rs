//! Just enough of the Prometheus text exposition format to read the
//! agents' counters and histogram buckets, and the quantile estimate that
//! `PromQL`'s `histogram_quantile` makes from them.

use std::collections::BTreeMap;

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parse every sample line; comments and malformed lines are skipped
/// (a scrape must not fail on one odd line).
#[must_use]
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = if let Some(open) = line.find('{') {
        let close = find_close(line, open)?;
        (
            &line[..open],
            parse_labels(&line[open + 1..close])?,
            &line[close + 1..],
        )
    } else {
        let (n, r) = line.split_once(char::is_whitespace)?;
        (n, BTreeMap::new(), r)
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn find_close(line: &str, open: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(open + i),
            _ => {}
        }
    }
    None
}

fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => return None,
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(key.trim().trim_start_matches(',').trim().to_owned(), value);
        rest = after[end? + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some(labels)
}

/// Values as Prometheus writes them, including `+Inf`, `-Inf`, `NaN`.
#[must_use]
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

/// `histogram_quantile` over cumulative `(le, count)` buckets (sorted by
/// `le`, last one `+Inf`): linear interpolation inside the bucket, the
/// highest finite bound when the rank falls into `+Inf`; `None` when the
/// histogram is empty.
#[must_use]
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let rank = q * total;
    let mut prev_le = 0.0;
    let mut prev_count = 0.0;
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev_le);
            }
            let in_bucket = count - prev_count;
            if in_bucket <= 0.0 {
                return Some(le);
            }
            return Some(prev_le + (le - prev_le) * (rank - prev_count) / in_bucket);
        }
        prev_le = le;
        prev_count = count;
    }
    Some(prev_le)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agent_lines() {
        let text = r#"# HELP x y
# TYPE siplat_sip_latency_seconds histogram
siplat_sip_latency_seconds_bucket{kind="response",method="INVITE",status_class="4xx",iface="veth1",le="0.001"} 3
siplat_sip_latency_seconds_bucket{kind="response",method="INVITE",status_class="4xx",iface="veth1",le="+Inf"} 4
siplat_sip_messages_total{direction="in",type="request",method="INVITE"} 17
weird{a="q\"uote",b="x"} NaN
"#;
        let s = parse(text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].labels["le"], "0.001");
        assert_eq!(s[1].value, 4.0);
        assert_eq!(s[2].name, "siplat_sip_messages_total");
        assert_eq!(s[3].labels["a"], "q\"uote");
        assert!(s[3].value.is_nan());
    }

    #[test]
    fn quantile_like_promql() {
        // 100 observations: 90 under 0.1, 9 in (0.1, 0.5], 1 in (0.5, 1].
        let b = [
            (0.1, 90.0),
            (0.5, 99.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((histogram_quantile(0.99, &b).expect("q") - 0.5).abs() < 1e-9);
        assert!((histogram_quantile(0.5, &b).expect("q") - 0.1 * 50.0 / 90.0).abs() < 1e-9);
        assert_eq!(
            histogram_quantile(0.99, &[(0.1, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(
            histogram_quantile(0.99, &[(0.1, 0.0), (f64::INFINITY, 5.0)]),
            Some(0.1)
        );
    }
}
