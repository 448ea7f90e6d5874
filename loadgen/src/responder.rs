//! The "proxy": answers every request it receives with the response
//! template, the request's id copied in, in batches. Stops when asked or
//! at its deadline.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{BATCH, Kind, Result, mmsg};

/// A responder thread; stopped and joined on drop.
pub struct Responder {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Responder {
    /// Bind `addr` (on the calling thread, so in its network namespace)
    /// and answer `kind`'s requests on a new thread until stopped, at most
    /// for `limit`.
    pub fn start(addr: SocketAddr, kind: Kind, limit: Duration) -> Result<Self> {
        let sock = mmsg::socket(addr, Duration::from_millis(50))?;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (s, a) = (stop.clone(), answered.clone());
        let handle = std::thread::Builder::new()
            .name("loadgen-responder".into())
            .spawn(move || serve(&sock, kind, &s, &a, Instant::now() + limit))
            .map_err(|source| crate::Error::Socket {
                what: "spawn responder",
                source,
            })?;
        Ok(Self {
            stop,
            answered,
            handle: Some(handle),
        })
    }

    /// Responses sent so far.
    #[must_use]
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stop and return the responses sent.
    #[must_use]
    pub fn stop(mut self) -> u64 {
        self.join();
        self.answered()
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.join();
    }
}

fn serve(sock: &UdpSocket, kind: Kind, stop: &AtomicBool, answered: &AtomicU64, deadline: Instant) {
    let (req, resp) = (kind.request(), kind.response());
    let mut rx = mmsg::RecvBatch::new(BATCH, 9000);
    let mut out: Vec<Vec<u8>> = vec![resp.bytes.clone(); BATCH];
    let mut dest = Vec::with_capacity(BATCH);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let Ok(n) = rx.recv(sock) else { break };
        dest.clear();
        for (i, buf) in out.iter_mut().enumerate().take(n) {
            resp.answer(&req, rx.data(i), buf);
            let (addr, len) = rx.addr(i);
            dest.push((*addr, len));
        }
        if n > 0
            && let Ok(sent) = mmsg::send(sock, &mut out[..n], &dest)
        {
            answered.fetch_add(sent as u64, Ordering::Relaxed);
        }
    }
}
