//! The scenario controller's protocol (report 3.3.2): a SIPp caller client
//! opens a WebSocket to the controller, says hello, and from then on is
//! told each second the rate it is to place; it reports back what its
//! SIPp created. The controller needs to know neither how many callers
//! there are nor where: each second's rate is split over those connected.
//! Both ends compile against these types (JSON text frames).

use serde::{Deserialize, Serialize};

/// Where the controller listens on the panel's address.
pub const PATH: &str = "/controller";
/// Bumped on an incompatible change; a client of another version is refused.
pub const VERSION: u32 = 1;
/// The pool a caller joins unless it names one.
pub const DEFAULT_POOL: &str = "default";

/// A pool name: 1-64 letters, digits, `-` or `_`.
#[must_use]
pub fn valid_pool(pool: &str) -> bool {
    (1..=64).contains(&pool.len())
        && pool
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

fn default_pool() -> String {
    DEFAULT_POOL.to_owned()
}

/// Client to controller.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// The first message; anything else first closes the connection. A
    /// play is split over the callers of one pool (a deployment's callers
    /// and the local testbed's never share a rate).
    Hello {
        name: String,
        version: u32,
        #[serde(default = "default_pool")]
        pool: String,
    },
    /// SIPp's cumulative counters at `at_unix` (about once a second).
    Report {
        created: u64,
        failed: u64,
        at_unix: f64,
    },
}

/// Controller to client.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControllerMsg {
    Welcome {
        id: u64,
    },
    /// Place `rate` calls/s from now on (0 pauses): this client's share of
    /// second `second` of the scenario, split over `clients` callers.
    Assign {
        second: u64,
        rate: f64,
        clients: u32,
    },
    /// The controller refuses or drops this client; the client stops its
    /// load and exits.
    Bye {
        reason: String,
    },
}

/// Each client's share of `rate` among `n` (equal: SIPp takes fractional
/// rates, so the shares add up to the rate exactly).
#[must_use]
pub fn shares(rate: f64, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    vec![rate / n as f64; n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json_and_shares_add_up() {
        let m = ClientMsg::Hello {
            name: "c1".into(),
            version: VERSION,
            pool: DEFAULT_POOL.into(),
        };
        let text = serde_json::to_string(&m).expect("json");
        assert_eq!(
            text,
            r#"{"type":"hello","name":"c1","version":1,"pool":"default"}"#
        );
        let old: ClientMsg =
            serde_json::from_str(r#"{"type":"hello","name":"c1","version":1}"#).expect("no pool");
        assert_eq!(old, m, "the pool defaults");
        assert!(valid_pool("testbed-17_x") && !valid_pool("") && !valid_pool("a b"));
        assert_eq!(serde_json::from_str::<ClientMsg>(&text).expect("back"), m);
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"hello","name":"x"}"#).is_err());
        let s = shares(10.0, 3);
        assert!((s.iter().sum::<f64>() - 10.0).abs() < 1e-9);
        assert!(shares(10.0, 0).is_empty());
    }
}
