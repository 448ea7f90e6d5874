//! The client side: an open loop (requests paced to a rate, responses
//! counted as they come) and a closed loop (a fixed number of round trips
//! outstanding, each response sending the next request).

use std::{
    net::{SocketAddr, UdpSocket},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::{
    BATCH, Error, Kind, Result, mmsg,
    pace::{self, Rate},
};

/// A paced run: `count` requests at `rate`, for at most `limit`.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    pub kind: Kind,
    pub rate: Rate,
    pub count: u64,
    pub limit: Duration,
    /// Ids start here (distinct Call-IDs across runs).
    pub first_id: u64,
    pub to: SocketAddr,
    pub from: SocketAddr,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct OpenReport {
    pub sent: u64,
    pub received: u64,
    /// From the first request to the last one sent.
    pub send_seconds: f64,
}

impl OpenReport {
    /// Requests per second achieved.
    #[must_use]
    pub fn rate(&self) -> f64 {
        if self.send_seconds > 0.0 {
            self.sent as f64 / self.send_seconds
        } else {
            0.0
        }
    }
}

impl OpenLoop {
    /// Run on the calling thread (in its network namespace); responses are
    /// counted by a second thread until all came or 1 s after the last send.
    pub fn run(&self) -> Result<OpenReport> {
        let sock = mmsg::socket(self.from, Duration::from_millis(50))?;
        sock.connect(self.to).map_err(|source| Error::Socket {
            what: "connect",
            source,
        })?;
        let rx_sock = sock.try_clone().map_err(|source| Error::Socket {
            what: "clone",
            source,
        })?;
        let done = AtomicBool::new(false);
        let sent_total = AtomicU64::new(u64::MAX);
        let received = AtomicU64::new(0);
        let deadline = Instant::now() + self.limit + Duration::from_secs(1);
        std::thread::scope(|s| {
            let rx = s.spawn(|| {
                count_responses(&rx_sock, &done, &sent_total, &received, deadline);
            });
            let result = self.send(&sock);
            let (sent, secs) = *result.as_ref().unwrap_or(&(0, 0.0));
            sent_total.store(sent, Ordering::Relaxed);
            done.store(true, Ordering::Relaxed);
            let _ = rx.join();
            result.map(|_| OpenReport {
                sent,
                received: received.load(Ordering::Relaxed),
                send_seconds: secs,
            })
        })
    }

    fn send(&self, sock: &UdpSocket) -> Result<(u64, f64)> {
        let t = self.kind.request();
        let mut bufs: Vec<Vec<u8>> = vec![t.bytes.clone(); BATCH];
        let start = Instant::now();
        let mut sent = 0_u64;
        while sent < self.count {
            let elapsed = start.elapsed();
            if elapsed >= self.limit {
                break;
            }
            let n = pace::next_batch(pace::due(self.rate, elapsed, self.count), sent, BATCH);
            if n == 0 {
                let next = pace::time_of(self.rate, sent + 1);
                if let Some(wait) = next.checked_sub(start.elapsed())
                    && wait > Duration::from_micros(100)
                {
                    std::thread::sleep(wait.min(Duration::from_millis(5)));
                }
                continue;
            }
            for (i, b) in bufs.iter_mut().take(n).enumerate() {
                t.stamp(b, self.first_id + sent + i as u64);
            }
            let went = mmsg::send(sock, &mut bufs[..n], &[]).map_err(|source| Error::Socket {
                what: "sendmmsg",
                source,
            })?;
            sent += went as u64;
        }
        Ok((sent, start.elapsed().as_secs_f64()))
    }
}

fn count_responses(
    sock: &UdpSocket,
    done: &AtomicBool,
    sent: &AtomicU64,
    received: &AtomicU64,
    deadline: Instant,
) {
    let mut rx = mmsg::RecvBatch::new(BATCH, 9000);
    let mut idle_since = None;
    while Instant::now() < deadline {
        let n = rx.recv(sock).unwrap_or(0) as u64;
        let got = received.fetch_add(n, Ordering::Relaxed) + n;
        if done.load(Ordering::Relaxed) {
            if got >= sent.load(Ordering::Relaxed) {
                return;
            }
            // The rest was lost: give up after 300 ms without any.
            if n == 0 {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(300) {
                    return;
                }
            } else {
                idle_since = None;
            }
        }
    }
}

/// `outstanding` round trips kept in flight for `duration`.
#[derive(Clone, Debug)]
pub struct ClosedLoop {
    pub kind: Kind,
    pub outstanding: usize,
    pub duration: Duration,
    pub first_id: u64,
    pub to: SocketAddr,
    pub from: SocketAddr,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ClosedReport {
    pub round_trips: u64,
    pub seconds: f64,
    /// Requests presumed lost (no answer within 20 ms of silence) and replaced.
    pub lost: u64,
}

impl ClosedReport {
    #[must_use]
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.round_trips as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl ClosedLoop {
    pub fn run(&self) -> Result<ClosedReport> {
        let sock = mmsg::socket(self.from, Duration::from_millis(20))?;
        sock.connect(self.to).map_err(|source| Error::Socket {
            what: "connect",
            source,
        })?;
        let t = self.kind.request();
        let window = self.outstanding.max(1);
        let mut bufs: Vec<Vec<u8>> = vec![t.bytes.clone(); window];
        let mut rx = mmsg::RecvBatch::new(window, 9000);
        let mut next_id = self.first_id;
        let mut in_flight = 0_usize;
        let (mut round_trips, mut lost) = (0_u64, 0_u64);
        let start = Instant::now();
        while start.elapsed() < self.duration {
            let n = window - in_flight;
            if n > 0 {
                for b in bufs.iter_mut().take(n) {
                    t.stamp(b, next_id);
                    next_id += 1;
                }
                in_flight +=
                    mmsg::send(&sock, &mut bufs[..n], &[]).map_err(|source| Error::Socket {
                        what: "sendmmsg",
                        source,
                    })?;
            }
            let got = rx.recv(&sock).map_err(|source| Error::Socket {
                what: "recvmmsg",
                source,
            })?;
            if got == 0 {
                lost += in_flight as u64;
                in_flight = 0;
            } else {
                round_trips += got as u64;
                in_flight = in_flight.saturating_sub(got);
            }
        }
        Ok(ClosedReport {
            round_trips,
            seconds: start.elapsed().as_secs_f64(),
            lost,
        })
    }
}
