//! A call as the proxy handles it, message by message (with `--realism
//! messages`), instead of one lump of work when the INVITE arrives: the
//! INVITE it challenges (407) and the ACK of that, the INVITE with
//! credentials it relays, the callee's 180 and 200 it relays back, the ACK,
//! and after the hold time the BYE and its 200. The work of a call is the
//! calibrated total either way; what changes is when it lands: the second
//! INVITE waits for the proxy's 407, the BYE comes a hold time later, when
//! the load may have moved on.

use super::calibration as cal;

/// One message of a call through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The first INVITE, answered by the proxy with 407.
    Challenge,
    /// The caller's ACK of the 407, absorbed by the proxy's tm.
    ChallengeAck,
    /// The INVITE with credentials: digest check, location lookup, relay.
    AuthInvite,
    /// The callee's 180, relayed.
    Ringing,
    /// The callee's 200, relayed.
    Answer,
    /// The caller's ACK of the 200, relayed.
    Ack,
    /// The caller's BYE after the hold time, relayed.
    Bye,
    /// The callee's 200 to the BYE, relayed.
    ByeOk,
}

impl Step {
    /// Share of a call's CPU. Not measured per message: the two INVITEs
    /// carry most of it (parsing, the digest and the lookup), each relayed
    /// message a tenth, the absorbed ACK and the BYE's 200 less.
    #[must_use]
    pub const fn share(self) -> f64 {
        match self {
            Self::Challenge => 0.2,
            Self::AuthInvite => 0.3,
            Self::Ringing | Self::Answer | Self::Ack | Self::Bye => 0.1,
            Self::ChallengeAck | Self::ByeOk => 0.05,
        }
    }

    /// An INVITE: the P99 is the INVITEs' latency (to the 407, and to the
    /// relayed copy), as the agent measures it.
    #[must_use]
    pub const fn is_invite(self) -> bool {
        matches!(self, Self::Challenge | Self::AuthInvite)
    }

    /// Requests the client resends while unanswered (Timer A for the
    /// INVITEs, E for the BYE); ACKs and responses are not resent by
    /// timers.
    #[must_use]
    pub const fn resent(self) -> bool {
        matches!(self, Self::Challenge | Self::AuthInvite | Self::Bye)
    }

    /// What reaches the proxy because it handled this one, and how long
    /// after it did.
    #[must_use]
    pub fn next(self, hold_s: f64) -> Vec<(Self, f64)> {
        let rtt = cal::CLIENT_RTT_S;
        match self {
            Self::Challenge => vec![(Self::ChallengeAck, rtt), (Self::AuthInvite, rtt)],
            Self::AuthInvite => vec![
                (Self::Ringing, rtt),
                (Self::Answer, rtt + cal::ANSWER_DELAY_S),
            ],
            Self::Answer => vec![(Self::Ack, rtt)],
            Self::Ack => vec![(Self::Bye, hold_s)],
            Self::Bye => vec![(Self::ByeOk, rtt)],
            Self::ChallengeAck | Self::Ringing | Self::ByeOk => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    /// Every message of one call, in the order they reach the proxy.
    fn whole_call() -> Vec<Step> {
        let mut out = Vec::new();
        let mut todo = vec![(Step::Challenge, 0.0)];
        while let Some((step, at)) = todo.pop() {
            out.push((at, step));
            todo.extend(step.next(2.0).into_iter().map(|(s, d)| (s, at + d)));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn a_call_is_eight_messages_costing_one_call() {
        let call = whole_call();
        assert_eq!(call.len(), 8);
        assert_eq!(call.first(), Some(&Step::Challenge));
        assert_eq!(call.last(), Some(&Step::ByeOk));
        let total: f64 = call.iter().map(|s| s.share()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert_eq!(call.iter().filter(|s| s.is_invite()).count(), 2);
    }
}
