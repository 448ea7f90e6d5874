//! The controller side of the caller protocol ([`super::protocol`]): the
//! connected callers, and a play that splits each second's rate over them.
//! A caller joining or leaving mid-play changes the split from the next
//! second on, so N caller pods carry what one SIPp could not.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use tokio::sync::mpsc;

use super::protocol::{self, ClientMsg, ControllerMsg};

/// Reports kept per client (two hours at one a second).
const MAX_REPORTS: usize = 7200;
/// A client that has not said hello by then is dropped.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// One report as the controller received it.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Report {
    pub at_unix: f64,
    pub created: u64,
    pub failed: u64,
}

struct Client {
    name: String,
    pool: String,
    tx: mpsc::UnboundedSender<ControllerMsg>,
    rate: f64,
    reports: Vec<Report>,
}

struct Play {
    id: u64,
    pool: String,
    duration_s: u64,
    second: u64,
    rate: f64,
    stop: bool,
}

#[derive(Default)]
struct State {
    next_id: u64,
    clients: BTreeMap<u64, Client>,
    /// The play of each pool that has one.
    plays: BTreeMap<String, Play>,
    played: u64,
}

/// What the page and the tests read.
#[derive(Serialize, Debug, Clone)]
pub struct View {
    pub clients: Vec<ClientView>,
    /// The plays in progress, one per pool at most.
    pub plays: Vec<PlayView>,
}

#[derive(Serialize, Debug, Clone)]
pub struct ClientView {
    pub id: u64,
    pub name: String,
    pub pool: String,
    pub rate: f64,
    pub reports: Vec<Report>,
}

#[derive(Serialize, Debug, Clone)]
pub struct PlayView {
    pub id: u64,
    pub pool: String,
    pub second: u64,
    pub duration_s: u64,
    pub rate: f64,
}

#[derive(Default, Clone)]
pub struct Controller {
    state: Arc<Mutex<State>>,
}

impl Controller {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn view(&self) -> View {
        let st = self.lock();
        View {
            clients: st
                .clients
                .iter()
                .map(|(id, c)| ClientView {
                    id: *id,
                    name: c.name.clone(),
                    pool: c.pool.clone(),
                    rate: c.rate,
                    reports: c.reports.clone(),
                })
                .collect(),
            plays: st
                .plays
                .values()
                .map(|p| PlayView {
                    id: p.id,
                    pool: p.pool.clone(),
                    second: p.second,
                    duration_s: p.duration_s,
                    rate: p.rate,
                })
                .collect(),
        }
    }

    /// Callers connected in `pool`.
    pub fn callers(&self, pool: &str) -> usize {
        self.lock()
            .clients
            .values()
            .filter(|c| c.pool == pool)
            .count()
    }

    /// Play `rates` over the callers of `pool`, one second at a time, on
    /// `rt`. Refused while another play of that pool runs or when none of
    /// its callers is connected.
    pub fn play(
        &self,
        rt: &tokio::runtime::Handle,
        pool: &str,
        rates: Vec<f64>,
    ) -> Result<u64, super::PanelError> {
        let id = {
            let mut st = self.lock();
            if let Some(p) = st.plays.get(pool) {
                return Err(super::PanelError::Busy(format!(
                    "controller play {} on pool {pool}",
                    p.id
                )));
            }
            if !st.clients.values().any(|c| c.pool == pool) {
                return Err(super::PanelError::Unavailable(format!(
                    "no caller of pool {pool} is connected to the controller (siplat-testbed caller --controller ...)"
                )));
            }
            st.played += 1;
            let id = st.played;
            st.plays.insert(
                pool.to_owned(),
                Play {
                    id,
                    pool: pool.to_owned(),
                    duration_s: rates.len() as u64,
                    second: 0,
                    rate: 0.0,
                    stop: false,
                },
            );
            id
        };
        let me = self.clone();
        let pool = pool.to_owned();
        rt.spawn(async move { me.tick(pool, rates).await });
        Ok(id)
    }

    pub fn stop(&self, pool: &str) -> Result<(), super::PanelError> {
        let mut st = self.lock();
        let p = st.plays.get_mut(pool).ok_or_else(|| {
            super::PanelError::NotFound(format!("no controller play on pool {pool}"))
        })?;
        p.stop = true;
        Ok(())
    }

    async fn tick(self, pool: String, rates: Vec<f64>) {
        let start = tokio::time::Instant::now();
        for (second, &rate) in rates.iter().enumerate() {
            if !self.assign(&pool, second as u64, rate) {
                break;
            }
            tokio::time::sleep_until(start + Duration::from_secs(second as u64 + 1)).await;
        }
        self.assign(&pool, rates.len() as u64, 0.0);
        self.lock().plays.remove(&pool);
    }

    /// Send each caller of `pool` its share of `rate`; false once the play
    /// is stopped.
    fn assign(&self, pool: &str, second: u64, rate: f64) -> bool {
        let mut st = self.lock();
        let stopped = st.plays.get(pool).is_none_or(|p| p.stop);
        let rate = if stopped { 0.0 } else { rate };
        if let Some(p) = st.plays.get_mut(pool) {
            p.second = second;
            p.rate = rate;
        }
        let n = st.clients.values().filter(|c| c.pool == pool).count();
        let clients = u32::try_from(n).unwrap_or(u32::MAX);
        let members = st.clients.values_mut().filter(|c| c.pool == pool);
        for (c, share) in members.zip(protocol::shares(rate, n)) {
            c.rate = share;
            let _ = c.tx.send(ControllerMsg::Assign {
                second,
                rate: share,
                clients,
            });
        }
        !stopped
    }

    /// One caller's connection, from its hello to its close.
    pub async fn serve(self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let hello = tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await;
        let (name, pool) = match hello {
            Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientMsg>(&t) {
                Ok(ClientMsg::Hello {
                    name,
                    version,
                    pool,
                }) if version == protocol::VERSION && protocol::valid_pool(&pool) => (name, pool),
                Ok(ClientMsg::Hello { version, .. }) => {
                    bye(
                        &mut sink,
                        format!("protocol version {version}, want {}", protocol::VERSION),
                    )
                    .await;
                    return;
                }
                _ => {
                    bye(&mut sink, "the first message must be a hello".into()).await;
                    return;
                }
            },
            _ => return,
        };
        let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let id = {
            let mut st = self.lock();
            st.next_id += 1;
            let id = st.next_id;
            st.clients.insert(
                id,
                Client {
                    name: name.clone(),
                    pool: pool.clone(),
                    tx: tx.clone(),
                    rate: 0.0,
                    reports: Vec::new(),
                },
            );
            id
        };
        tracing::info!(id, %name, %pool, "caller connected");
        let _ = tx.send(ControllerMsg::Welcome { id });
        loop {
            tokio::select! {
                out = rx.recv() => {
                    let Some(msg) = out else { break };
                    let text = serde_json::to_string(&msg).unwrap_or_default();
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Text(t))) => self.on_message(id, &t),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        self.lock().clients.remove(&id);
        tracing::info!(id, %name, "caller left");
    }

    fn on_message(&self, id: u64, text: &str) {
        let Ok(ClientMsg::Report {
            created,
            failed,
            at_unix,
        }) = serde_json::from_str::<ClientMsg>(text)
        else {
            tracing::debug!(id, "ignored a message that is not a report");
            return;
        };
        let mut st = self.lock();
        if let Some(c) = st.clients.get_mut(&id) {
            if c.reports.len() >= MAX_REPORTS {
                c.reports.remove(0);
            }
            c.reports.push(Report {
                at_unix,
                created,
                failed,
            });
        }
    }
}

async fn bye<S>(sink: &mut S, reason: String)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let text = serde_json::to_string(&ControllerMsg::Bye { reason }).unwrap_or_default();
    let _ = sink.send(Message::Text(text.into())).await;
    let _ = sink.close().await;
}
