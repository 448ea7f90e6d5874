//! Which interfaces exist and which of them the agent was asked to watch.
//! Pods come and go, so this is re-read on every rescan.

use std::ffi::CStr;

/// (ifindex, name) of every interface in this network namespace.
#[must_use]
pub fn list() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns an array terminated by a zero entry, freed below.
    unsafe {
        let head = libc::if_nameindex();
        if head.is_null() {
            return out;
        }
        let mut cur = head;
        while (*cur).if_index != 0 && !(*cur).if_name.is_null() {
            let name = CStr::from_ptr((*cur).if_name)
                .to_string_lossy()
                .into_owned();
            out.push(((*cur).if_index, name));
            cur = cur.add(1);
        }
        libc::if_freenameindex(head);
    }
    out
}

/// Shell-style glob: `*` any run, `?` one character; anything else literal.
#[must_use]
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matcher with one backtrack point: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[must_use]
pub fn selected(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob_match(p, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("eth*", "eth0"));
        assert!(glob_match("eth*", "eth"));
        assert!(glob_match("veth?", "veth1"));
        assert!(!glob_match("veth?", "veth12"));
        assert!(glob_match("*cali*", "xcali1234"));
        assert!(glob_match("lxc*", "lxc9a8b"));
        assert!(!glob_match("eth*", "veth0"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn loopback_is_listed() {
        assert!(list().iter().any(|(_, n)| n == "lo"));
    }
}
