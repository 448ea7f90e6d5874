//! Polling for a condition: the agent exports what the kernel saw a few
//! hundred milliseconds later, and daemons are ready when they say so.

use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

/// Poll `f` until it returns true or `timeout` passes; one last try after
/// the deadline, so a slow last poll still counts.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    f()
}

/// As [`eventually`], but a timeout fails the test, naming `what`.
pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_until_true_or_timeout() {
        let mut n = 0;
        assert!(eventually(Duration::from_secs(5), || {
            n += 1;
            n >= 2
        }));
        assert!(!eventually(Duration::ZERO, || false));
        wait_for("nothing", Duration::ZERO, || true);
    }

    #[test]
    #[should_panic(expected = "timed out waiting for the impossible")]
    fn wait_for_names_what_timed_out() {
        wait_for("the impossible", Duration::ZERO, || false);
    }
}
