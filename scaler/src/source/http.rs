//! Plain HTTP GET for Prometheus and the agents (in-cluster or loopback
//! endpoints; TLS is the Kubernetes client's business only).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::SourceError;

#[derive(Clone, Debug)]
pub struct HttpGet {
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl HttpGet {
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// GET `url`, return the body of a 2xx answer.
    pub async fn get(&self, url: &str) -> Result<Bytes, SourceError> {
        let uri: http::Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| SourceError::Parse {
                    url: url.to_owned(),
                    message: e.to_string(),
                })?;
        let fut = async {
            let resp = self
                .client
                .get(uri)
                .await
                .map_err(|e| SourceError::Connect {
                    url: url.to_owned(),
                    message: error_chain(&e),
                })?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| SourceError::Connect {
                    url: url.to_owned(),
                    message: e.to_string(),
                })?
                .to_bytes();
            if !status.is_success() {
                return Err(SourceError::Status {
                    url: url.to_owned(),
                    status: status.as_u16(),
                });
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| SourceError::Timeout {
                url: url.to_owned(),
            })?
    }
}

/// An error and all its sources on one line: log lines and metrics reasons
/// must carry the root cause (refused, timed out), not only the outer layer.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cur = inner.source();
    }
    text
}
