//! What a real SIP tier does that the report's model leaves out, each part
//! switchable so its effect can be seen alone: clients that retransmit
//! when the proxy is slow, replicas that are not equally fast, boots that
//! do not all take the same time, re-registration waves that do not
//! start at a round time, CPU figures that arrive late and noisy, and
//! calls that are messages spread over the call's life.
//!
//! Retransmissions matter most: RFC 3261 clients over UDP resend an INVITE
//! after 500 ms without a provisional response (Timer A, doubling) and a
//! REGISTER likewise (Timer E, doubling up to T2 = 4 s), until Timer B/F
//! (32 s). A proxy whose queue passes half a second is sent more work at
//! exactly that moment, which the report's "one lump of work per call"
//! model cannot show and a CPU threshold does not see coming.

use std::{cmp::Ordering, collections::BinaryHeap};

use super::calibration as cal;

/// The parts of realism in force.
#[derive(Debug, Clone, Copy, PartialEq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches, each named where it is read"
)]
pub struct Realism {
    /// Clients resend INVITE and REGISTER while the proxy has not answered.
    pub retransmissions: bool,
    /// CPU seconds a proxy spends on one retransmission.
    pub retransmission_cpu_s: f64,
    /// Replicas' cost per request varies by up to this share either way.
    pub speed_spread: f64,
    /// Boot delays vary by up to this share of the mean either way.
    pub boot_spread: f64,
    /// Re-registration waves start at a random second of their interval.
    pub registration_phase: bool,
    /// Per-pod CPU as the metrics pipeline delivers it: scraped every
    /// 15 s at a random phase (so 0-15 s old when read), with noise.
    pub metrics_pipeline: bool,
    /// A call is its messages, each when it reaches the proxy
    /// ([`super::call_flow`]), not one lump at the first INVITE.
    pub per_message: bool,
}

impl Realism {
    /// The report's model: none of it.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            retransmissions: false,
            retransmission_cpu_s: cal::RETRANSMISSION_CPU_S,
            speed_spread: 0.0,
            boot_spread: 0.0,
            registration_phase: false,
            metrics_pipeline: false,
            per_message: false,
        }
    }

    /// Every part, at the calibrated figures.
    #[must_use]
    pub const fn all() -> Self {
        Self {
            retransmissions: true,
            retransmission_cpu_s: cal::RETRANSMISSION_CPU_S,
            speed_spread: cal::REPLICA_SPEED_SPREAD,
            boot_spread: cal::BOOT_DELAY_SPREAD,
            registration_phase: true,
            metrics_pipeline: true,
            per_message: true,
        }
    }

    /// `all`, `none`, or a comma list of `retransmissions`, `speed`,
    /// `boot`, `registration`, `metrics`, `messages` on top of none.
    ///
    /// # Errors
    /// An unknown part, named.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => return Ok(Self::all()),
            "none" | "" => return Ok(Self::none()),
            _ => {}
        }
        let all = Self::all();
        let mut r = Self::none();
        for part in s.split(',').map(str::trim) {
            match part {
                "retransmissions" => r.retransmissions = true,
                "speed" => r.speed_spread = all.speed_spread,
                "boot" => r.boot_spread = all.boot_spread,
                "registration" => r.registration_phase = true,
                "metrics" => r.metrics_pipeline = true,
                "messages" => r.per_message = true,
                other => {
                    return Err(format!(
                        "unknown realism part `{other}` (all, none, or a list of retransmissions, speed, boot, registration, metrics, messages)"
                    ));
                }
            }
        }
        Ok(r)
    }
}

impl Default for Realism {
    fn default() -> Self {
        Self::none()
    }
}

/// When a client resends a request the proxy has not answered after
/// `waited_s`: seconds after the first send, Timer A for an INVITE
/// (0.5, 1.5, 3.5, ... doubling) or Timer E for a REGISTER (doubling up
/// to T2 = 4 s between sends), before Timer B/F (64 T1 = 32 s).
pub fn resends(invite: bool, waited_s: f64) -> impl Iterator<Item = f64> {
    const T1: f64 = 0.5;
    const T2: f64 = 4.0;
    const TIMEOUT: f64 = 64.0 * T1;
    let mut at = 0.0;
    let mut gap = T1;
    std::iter::from_fn(move || {
        at += gap;
        gap = if invite {
            gap * 2.0
        } else {
            (gap * 2.0).min(T2)
        };
        (at < waited_s.min(TIMEOUT)).then_some(at)
    })
}

/// Work that arrives later than its cause: a resend, or the next message
/// of a call, to the replica the call went to (the LB hashes its Call-ID
/// the same way).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Later {
    pub at: f64,
    /// `Replica::id` of the replica the call went to.
    pub replica: u64,
    /// `None`: a retransmission.
    pub step: Option<super::call_flow::Step>,
}

impl Eq for Later {}

impl Ord for Later {
    /// Earliest first in a max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at)
    }
}

impl PartialOrd for Later {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Work due later, earliest first.
#[derive(Debug, Default)]
pub struct LaterQueue(BinaryHeap<Later>);

impl LaterQueue {
    pub fn push(&mut self, later: Later) {
        self.0.push(later);
    }

    /// The earliest, if it is due before `until`.
    pub fn pop_before(&mut self, until: f64) -> Option<Later> {
        if self.0.peek().is_some_and(|l| l.at < until) {
            self.0.pop()
        } else {
            None
        }
    }

    /// When the earliest is due.
    #[must_use]
    pub fn next_at(&self) -> Option<f64> {
        self.0.peek().map(|l| l.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_a_doubles_and_timer_e_stops_doubling_at_t2() {
        let a: Vec<f64> = resends(true, 40.0).collect();
        assert_eq!(a, [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
        let e: Vec<f64> = resends(false, 20.0).collect();
        assert_eq!(e, [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]);
        // Answered within 500 ms: nothing resent.
        assert_eq!(resends(true, 0.49).count(), 0);
        assert_eq!(resends(true, 0.6).count(), 1);
    }

    #[test]
    fn later_work_comes_out_in_time_order() {
        let mut q = LaterQueue::default();
        for at in [3.2, 1.1, 2.5, 1.0] {
            q.push(Later {
                at,
                replica: 0,
                step: None,
            });
        }
        let ats: Vec<f64> = std::iter::from_fn(|| q.pop_before(3.0))
            .map(|l| l.at)
            .collect();
        assert_eq!(ats, [1.0, 1.1, 2.5]);
        assert_eq!(q.next_at(), Some(3.2));
    }

    #[test]
    fn parts_parse_and_unknown_ones_are_named() {
        assert_eq!(Realism::parse("all"), Ok(Realism::all()));
        let r = Realism::parse("retransmissions,boot").expect("parse");
        assert!(r.retransmissions && r.boot_spread > 0.0 && r.speed_spread == 0.0);
        let e = Realism::parse("retransmissions,jitter").expect_err("unknown");
        assert!(e.contains("`jitter`"), "{e}");
    }
}
