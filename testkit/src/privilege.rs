//! The root check of every privileged test. A plain `cargo test` runs the
//! `#[ignore]`d tests only when asked to, and then an unprivileged run must
//! not pass silently as if it had checked something: it says, loudly, that
//! it skipped and how to run it for real.

use std::io::Write;

/// True when `test` can run here (root); otherwise prints the skip banner
/// to stderr and returns false, so the test returns early.
#[must_use]
pub fn privileged(test: &str) -> bool {
    check(::netns::is_root(), test, &mut std::io::stderr())
}

/// [`privileged`] with the root check and the output passed in (to test the
/// banner without root).
pub fn check(root: bool, test: &str, out: &mut impl Write) -> bool {
    if !root {
        let _ = writeln!(out, "\n{}\n", banner(test));
    }
    root
}

#[must_use]
pub fn banner(test: &str) -> String {
    format!(
        "!!!!!!!! SKIPPED {test}: needs root (CAP_BPF, CAP_NET_ADMIN, network namespaces, cgroups); run `sudo -E cargo xtask test` !!!!!!!!"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_root_the_skip_is_loud() {
        let mut out = Vec::new();
        assert!(!check(false, "some_test", &mut out));
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("SKIPPED some_test"), "{text}");
        assert!(text.contains("cargo xtask test"), "{text}");
        assert!(text.trim().starts_with("!!!!!!!!"), "{text}");
    }

    #[test]
    fn with_root_nothing_is_printed() {
        let mut out = Vec::new();
        assert!(check(true, "some_test", &mut out));
        assert!(out.is_empty());
    }
}
