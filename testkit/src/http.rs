//! HTTP GET without a client crate: the agent's endpoints answer plain
//! HTTP/1.0, and a test must not depend on a client's connection pooling or
//! proxy settings to read them.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::Duration,
};

/// Body of `GET path` from `addr` (`host:port`, or an `http://` URL).
#[must_use]
pub fn get(addr: &str, path: &str) -> String {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    body(&buf).to_owned()
}

/// Body of `GET path` from 127.0.0.1:`port` of the calling thread's
/// namespace.
#[must_use]
pub fn get_local(port: u16, path: &str) -> String {
    get(&format!("127.0.0.1:{port}"), path)
}

/// `method path` with `body` (JSON when it starts with `{`): the status
/// and the body of the answer.
#[must_use]
pub fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let kind = if body.starts_with('{') {
        "application/json"
    } else {
        "text/csv"
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, self::body(&buf).to_owned())
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead as _, BufReader},
        net::TcpListener,
    };

    use super::*;

    #[test]
    fn reads_the_body_of_an_http_1_0_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut conn = conn;
            write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n"
            )
            .expect("write");
            line
        });
        assert_eq!(
            get(&format!("http://127.0.0.1:{port}/"), "/healthz"),
            "ok\n"
        );
        assert_eq!(server.join().expect("server"), "GET /healthz HTTP/1.0\r\n");
        assert_eq!(body("HTTP/1.0 500 x\r\n"), "");
    }
}
