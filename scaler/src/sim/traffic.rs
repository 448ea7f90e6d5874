//! How requests reach the replicas: the LB's Call-ID hash over the active
//! set, each replica's FIFO queue, and (with realism) what the clients
//! send later: retransmissions while a proxy is slow, and the rest of a
//! call's messages.

use super::{
    Tier,
    call_flow::Step,
    histogram::WindowHistogram,
    realism::{self, Later},
};

/// What one event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// A new call's first INVITE.
    Invite,
    Register,
    /// Something the clients send later, to the replica of `Replica::id`.
    Later(u64, Option<Step>),
}

/// What handling one event gave.
#[derive(Debug, Clone, Copy, Default)]
struct Handled {
    /// The INVITE latency, for the P99.
    latency: Option<f64>,
    /// A call lost (no replica, or a queue past Timer B).
    lost: bool,
}

impl Tier<'_> {
    /// `cost` at replica `i`'s recent load, counting this request in it
    /// (weighted by its cost relative to a call). Without a curve the cost
    /// is returned untouched, so the report profile stays bit-for-bit.
    fn discounted(&mut self, i: usize, t: f64, cost: f64) -> f64 {
        let Some(curve) = &self.cfg.cpu_curve else {
            return cost;
        };
        let weight = cost / self.cfg.invite_cpu_s;
        let rate = self.replicas[i].load.arrive(t, weight, curve.tau_s);
        cost * curve.discount(rate)
    }

    /// A random active replica, as the LB hashes a new Call-ID.
    fn pick(&mut self, active: &[usize]) -> Option<usize> {
        (!active.is_empty()).then(|| active[(self.rng.next_u64() % active.len() as u64) as usize])
    }

    /// Queue `cost` on replica `i` at `t`, scaled by its speed; the
    /// completion time, `None` when its queue is past Timer B.
    fn serve(&mut self, i: usize, t: f64, cost: f64) -> Option<f64> {
        if self.replicas[i].backlog(t) > self.cfg.max_backlog_s {
            return None;
        }
        let cost = self.discounted(i, t, cost) * self.replicas[i].speed;
        Some(self.replicas[i].serve(t, cost))
    }

    /// Until the proxy answers (its 100 Trying or final response, sent when
    /// it gets to the request) the client resends.
    fn schedule_resends(&mut self, i: usize, t: f64, done: f64, invite: bool) {
        if !self.cfg.realism.retransmissions {
            return;
        }
        let replica = self.replicas[i].id;
        for after in realism::resends(invite, done - t) {
            self.later.push(Later {
                at: t + after,
                replica,
                step: None,
            });
        }
    }

    fn handle(&mut self, t: f64, kind: Kind, active: &[usize]) -> Handled {
        match kind {
            Kind::Later(id, step) => self.later_one(t, id, step, active),
            Kind::Invite if self.cfg.realism.per_message => {
                let Some(i) = self.pick(active) else {
                    return Handled {
                        latency: Some(self.cfg.max_backlog_s),
                        lost: true,
                    };
                };
                self.step(i, t, Step::Challenge)
            }
            Kind::Invite | Kind::Register => {
                let invite = kind == Kind::Invite;
                let lost = Handled {
                    latency: invite.then_some(self.cfg.max_backlog_s),
                    lost: true,
                };
                let Some(i) = self.pick(active) else {
                    return lost;
                };
                let cost = if invite {
                    self.cfg.invite_cpu_s
                } else {
                    self.cfg.register_cpu_s
                };
                let Some(done) = self.serve(i, t, cost) else {
                    return lost;
                };
                self.schedule_resends(i, t, done, invite);
                if !invite {
                    // DMQ replicates the binding to every other proxy.
                    for &other in active.iter().filter(|&&o| o != i) {
                        let _ = self.serve(other, t, self.cfg.dmq_cpu_s);
                    }
                }
                Handled {
                    latency: invite.then_some(done - t),
                    lost: false,
                }
            }
        }
    }

    /// One message of a call on replica `i`; what follows from it is
    /// scheduled to the same replica.
    fn step(&mut self, i: usize, t: f64, step: Step) -> Handled {
        let Some(done) = self.serve(i, t, self.cfg.invite_cpu_s * step.share()) else {
            // Only a lost INVITE is a failed call the caller sees; a lost
            // BYE leaves the call to time out on its own.
            return Handled {
                latency: step.is_invite().then_some(self.cfg.max_backlog_s),
                lost: step.is_invite(),
            };
        };
        if step.resent() {
            self.schedule_resends(i, t, done, step != Step::Bye);
        }
        let replica = self.replicas[i].id;
        for (next, after) in step.next(self.cfg.hold_s) {
            self.later.push(Later {
                at: done + after,
                replica,
                step: Some(next),
            });
        }
        Handled {
            latency: step.is_invite().then_some(done - t),
            lost: false,
        }
    }

    /// A retransmission or a call's next message reaches the replica the
    /// call went to while it is still there (draining ones finish their
    /// calls), else one the LB picks now. A retransmission costs CPU and
    /// nothing else is measured of it.
    fn later_one(&mut self, t: f64, id: u64, step: Option<Step>, active: &[usize]) -> Handled {
        let target = self
            .replicas
            .iter()
            .position(|r| r.id == id)
            .or_else(|| self.pick(active));
        let Some(i) = target else {
            return Handled::default();
        };
        if let Some(step) = step {
            return self.step(i, t, step);
        }
        let _ = self.serve(i, t, self.cfg.realism.retransmission_cpu_s);
        Handled::default()
    }

    /// Play one second: its new requests (in time order, from `events`)
    /// merged with what the clients send later, also what becomes due
    /// within the second while it plays. Returns the active set used and
    /// the calls lost.
    pub(super) fn play_second(
        &mut self,
        t0: f64,
        invites: u32,
        registers: u32,
        events: &mut Vec<(f64, Kind)>,
        hist: &mut WindowHistogram,
    ) -> (Vec<usize>, u64) {
        events.clear();
        events.extend((0..invites).map(|_| (t0 + self.rng.unit(), Kind::Invite)));
        events.extend((0..registers).map(|_| (t0 + self.rng.unit(), Kind::Register)));
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let active = self.active();
        let end = t0 + 1.0;
        let mut dropped = 0_u64;
        let mut next = 0;
        loop {
            let arrival = events.get(next).map(|e| e.0);
            let later_first = match (arrival, self.later.next_at()) {
                (_, Some(l)) if l >= end => false,
                (Some(a), Some(l)) => l < a,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let (t, kind) = if later_first {
                let Some(l) = self.later.pop_before(end) else {
                    break;
                };
                (l.at, Kind::Later(l.replica, l.step))
            } else if let Some(&e) = events.get(next) {
                next += 1;
                e
            } else {
                break;
            };
            let handled = self.handle(t, kind, &active);
            if let Some(l) = handled.latency {
                hist.record(l);
            }
            dropped += u64::from(handled.lost);
        }
        (active, dropped)
    }
}
