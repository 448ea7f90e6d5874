//! What the generator sends: per kind a request template and a response
//! template, each with the places where a message's 16-digit hex id goes.
//! For SIP the id is the Call-ID's user part (and the Request-URI's, the
//! branch's and the tags'), so every pair is its own transaction; for
//! non-SIP kinds the id is in the datagram so the echo matches it.

use std::fmt::Write as _;

/// Digits of an id in a message.
pub const ID_LEN: usize = 16;
const MARK: &str = "################";
/// The client's and the proxy's addresses as the SIP headers name them.
const CLIENT: &str = "198.18.100.1";
const PROXY: &str = "198.18.100.2";

/// The payloads the benchmark compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// 200-byte non-SIP datagram to a non-SIP port (4000), echoed.
    Udp,
    /// 200-byte non-SIP datagram to the SIP port (5060), echoed.
    #[value(name = "udp-5060")]
    #[serde(rename = "udp-5060")]
    Udp5060,
    /// 534-byte INVITE (SDP body), answered by a 200 OK.
    Invite,
    /// 1,450-byte INVITE, 10 Vias, Call-ID and `CSeq` last; its 200 copies the Vias.
    InviteVias,
    /// 4,000-byte INVITE in three IP fragments, Call-ID in the third; its 200 (30 Vias) is fragmented too.
    InviteFrag,
}

impl Kind {
    pub const ALL: [Self; 5] = [
        Self::Udp,
        Self::Udp5060,
        Self::Invite,
        Self::InviteVias,
        Self::InviteFrag,
    ];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Udp5060 => "udp-5060",
            Self::Invite => "invite",
            Self::InviteVias => "invite-vias",
            Self::InviteFrag => "invite-frag",
        }
    }

    /// The port requests go to.
    #[must_use]
    pub const fn port(self) -> u16 {
        match self {
            Self::Udp => 4000,
            _ => 5060,
        }
    }

    /// Whether each pair is a SIP transaction (one `response` sample).
    #[must_use]
    pub const fn is_sip(self) -> bool {
        !matches!(self, Self::Udp | Self::Udp5060)
    }

    #[must_use]
    pub fn request(self) -> Template {
        match self {
            Self::Udp => Template::new(&binary(200, 0x42)),
            Self::Udp5060 => Template::new(&binary(200, 0x16)),
            Self::Invite => Template::new(&invite(0, 534)),
            Self::InviteVias => Template::new(&invite(10, 1450)),
            Self::InviteFrag => Template::new(&invite(30, 4000)),
        }
    }

    #[must_use]
    pub fn response(self) -> Template {
        match self {
            Self::Udp | Self::Udp5060 => self.request(),
            Self::Invite => Template::new(&ok(0)),
            Self::InviteVias => Template::new(&ok(10)),
            Self::InviteFrag => Template::new(&ok(30)),
        }
    }
}

/// An INVITE of `len` bytes with `extra_vias` (at least one) Vias before
/// its Call-ID and `CSeq`, the long INVITE's shape, and its 200. The
/// benchmark's profile varies the two apart: the length alone (a longer
/// header value to skip) and the Vias alone (more header lines in the same
/// bytes), which tells a skipped byte's cost from a header line's.
#[must_use]
pub fn long_invite(extra_vias: usize, len: usize) -> (Template, Template) {
    let vias = extra_vias.max(1);
    (Template::new(&invite(vias, len)), Template::new(&ok(vias)))
}

/// A message with the byte offsets its id is written at.
#[derive(Clone, Debug)]
pub struct Template {
    pub bytes: Vec<u8>,
    pub id_at: Vec<usize>,
}

impl Template {
    fn new(text: &str) -> Self {
        let id_at: Vec<usize> = text.match_indices(MARK).map(|(i, _)| i).collect();
        let mut bytes = text.as_bytes().to_vec();
        for &i in &id_at {
            bytes[i..i + ID_LEN].fill(b'0');
        }
        Self { bytes, id_at }
    }

    /// Write `id` (lower-case hex, 16 digits) into `buf`, a copy of this template.
    pub fn stamp(&self, buf: &mut [u8], id: u64) {
        let digits = hex(id);
        for &i in &self.id_at {
            buf[i..i + ID_LEN].copy_from_slice(&digits);
        }
    }

    /// Copy the id of `request` (made from `from`) into `buf`, a copy of this template.
    pub fn answer(&self, from: &Self, request: &[u8], buf: &mut [u8]) {
        let Some(&at) = from.id_at.first() else {
            return;
        };
        let Some(id) = request.get(at..at + ID_LEN) else {
            return;
        };
        for &i in &self.id_at {
            buf[i..i + ID_LEN].copy_from_slice(id);
        }
    }

    /// The id in a message made from this template.
    #[must_use]
    pub fn id_of(&self, msg: &[u8]) -> Option<u64> {
        let at = *self.id_at.first()?;
        let digits = std::str::from_utf8(msg.get(at..at + ID_LEN)?).ok()?;
        u64::from_str_radix(digits, 16).ok()
    }
}

fn hex(id: u64) -> [u8; ID_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; ID_LEN];
    for (i, d) in out.iter_mut().enumerate() {
        *d = DIGITS[usize::try_from((id >> (60 - 4 * i)) & 0xf).unwrap_or(0)];
    }
    out
}

/// Not SIP: a TLS-looking or plain binary datagram, id after four bytes.
fn binary(len: usize, first: u8) -> String {
    let mut s = String::new();
    s.push(char::from(first));
    s.push_str("\x03\x01 ");
    s.push_str(MARK);
    while s.len() < len {
        s.push('x');
    }
    s
}

fn vias(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "Via: SIP/2.0/UDP 198.18.100.{}:5060;branch=z9hG4bK-{MARK}-hop{i:02};rport=5060\r\n",
            10 + i
        );
    }
    s
}

/// An INVITE of exactly `len` bytes. Without extra Vias it is the usual
/// shape (Call-ID among the first headers, an SDP body padded to the size);
/// with them Call-ID and `CSeq` come last, after `extra_vias` Vias and a
/// padding header, so the scan reads nearly the whole message.
fn invite(extra_vias: usize, len: usize) -> String {
    let head = format!(
        "INVITE sip:{MARK}@{PROXY}:5060 SIP/2.0\r\n{}Via: SIP/2.0/UDP {CLIENT}:5070;branch=z9hG4bK-{MARK}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{CLIENT}>;tag={MARK}\r\nTo: <sip:bob@{PROXY}>\r\n",
        vias(extra_vias)
    );
    let ids = format!("Call-ID: {MARK}@{CLIENT}\r\nCSeq: 1 INVITE\r\n");
    let contact = format!("Contact: <sip:alice@{CLIENT}:5070>\r\n");
    if extra_vias == 0 {
        let sdp = format!(
            "v=0\r\no=alice 2890844526 2890844526 IN IP4 {CLIENT}\r\ns=-\r\nc=IN IP4 {CLIENT}\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        let fixed = format!("{head}{ids}{contact}Content-Type: application/sdp\r\n");
        pad_body(&fixed, &sdp, len)
    } else {
        let tail = format!("{ids}Content-Length: 0\r\n\r\n");
        let fixed = format!("{head}{contact}User-Agent: siplat-loadgen\r\n");
        let pad = len.saturating_sub(fixed.len() + tail.len() + "Subject: \r\n".len());
        format!("{fixed}Subject: {}\r\n{tail}", "s".repeat(pad))
    }
}

/// `fixed` headers, Content-Length, then `body` padded with an `a=` line so
/// the whole message is `len` bytes.
fn pad_body(fixed: &str, body: &str, len: usize) -> String {
    // Content-Length has 3 digits at these sizes.
    let overhead =
        fixed.len() + "Content-Length: 000\r\n\r\n".len() + body.len() + "a=x:\r\n".len();
    let pad = len.saturating_sub(overhead);
    let body = format!("{body}a=x:{}\r\n", "p".repeat(pad));
    format!("{fixed}Content-Length: {:03}\r\n\r\n{body}", body.len())
}

/// The 200 OK to an INVITE with `extra_vias` Vias: every Via copied, as a
/// proxy's answer carries them, Call-ID and `CSeq` after them.
fn ok(extra_vias: usize) -> String {
    format!(
        "SIP/2.0 200 OK\r\n{}Via: SIP/2.0/UDP {CLIENT}:5070;branch=z9hG4bK-{MARK}\r\nFrom: <sip:alice@{CLIENT}>;tag={MARK}\r\nTo: <sip:bob@{PROXY}>;tag=b{MARK}\r\nCall-ID: {MARK}@{CLIENT}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@{PROXY}:5060>\r\nContent-Length: 0\r\n\r\n",
        vias(extra_vias)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &Template) -> String {
        String::from_utf8(t.bytes.clone()).expect("ascii")
    }

    #[test]
    fn sizes_are_the_ones_the_benchmark_names() {
        assert_eq!(Kind::Invite.request().bytes.len(), 534);
        assert_eq!(Kind::InviteVias.request().bytes.len(), 1450);
        assert_eq!(Kind::InviteFrag.request().bytes.len(), 4000);
        assert_eq!(Kind::Udp.request().bytes.len(), 200);
        // 1,450 + 28 bytes of IPv4/UDP fit a 1,500 MTU; 4,000 do not.
        assert!(Kind::InviteVias.response().bytes.len() + 28 <= 1500);
        assert!(Kind::InviteFrag.response().bytes.len() + 28 > 1500);
    }

    #[test]
    fn long_invites_vary_length_and_vias_apart() {
        // 11 Vias is the most that fit 1,400 bytes (12 need 1,410).
        for (vias, len) in [(1, 500), (1, 1400), (11, 1400)] {
            let (req, resp) = long_invite(vias, len);
            let t = text(&req);
            assert_eq!(req.bytes.len(), len, "{t}");
            assert_eq!(t.matches("\r\nVia: ").count(), vias + 1, "{t}");
            assert!(t.rfind("Call-ID").expect("call-id") > len - 100, "{t}");
            assert_eq!(text(&resp).matches("\r\nVia: ").count(), vias + 1);
        }
    }

    #[test]
    fn sip_kinds_carry_the_id_in_call_id_and_keep_content_length_true() {
        for kind in [Kind::Invite, Kind::InviteVias, Kind::InviteFrag] {
            let (req, resp) = (kind.request(), kind.response());
            let mut buf = req.bytes.clone();
            req.stamp(&mut buf, 0x1234_5678_9abc_def0);
            let msg = String::from_utf8(buf.clone()).expect("ascii");
            assert!(msg.starts_with("INVITE sip:123456789abcdef0@"), "{msg}");
            assert!(msg.contains("Call-ID: 123456789abcdef0@198.18.100.1\r\n"));
            let (headers, body) = msg.split_once("\r\n\r\n").expect("headers end");
            let cl: usize = headers
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            assert_eq!(cl, body.len(), "{kind:?}");
            let mut out = resp.bytes.clone();
            resp.answer(&req, &buf, &mut out);
            let answer = String::from_utf8(out.clone()).expect("ascii");
            assert!(answer.starts_with("SIP/2.0 200 OK\r\n"));
            assert!(
                answer.contains("Call-ID: 123456789abcdef0@198.18.100.1\r\nCSeq: 1 INVITE\r\n")
            );
            assert_eq!(resp.id_of(&out), Some(0x1234_5678_9abc_def0));
        }
        let vias = text(&Kind::InviteVias.request());
        assert_eq!(vias.matches("\r\nVia: ").count(), 11);
        assert!(vias.find("Call-ID").expect("call-id") > 1300, "{vias}");
        let frag = text(&Kind::InviteFrag.request());
        assert!(
            frag.find("Call-ID").expect("call-id") > 2 * 1480,
            "third fragment"
        );
    }

    #[test]
    fn non_sip_kinds_echo_their_id_and_are_not_sip() {
        for kind in [Kind::Udp, Kind::Udp5060] {
            assert!(!kind.is_sip());
            let t = kind.request();
            let mut buf = t.bytes.clone();
            t.stamp(&mut buf, 77);
            assert_eq!(t.id_of(&buf), Some(77));
            assert!(!buf.starts_with(b"SIP/") && !buf.starts_with(b"INVITE"));
        }
        assert_eq!(Kind::Udp.port(), 4000);
        assert_eq!(Kind::Udp5060.port(), 5060);
        assert_eq!(hex(0xab), *b"00000000000000ab");
    }
}
