//! The framed (stream) scan against a plain reading of the same bytes: on
//! TCP the kernel cuts a segment into messages at the end of each header
//! section and skips the body by its `Content-Length`, and resumes a
//! message across segments, so where the headers end, the body's length
//! and the result must not depend on how the bytes were cut.

use agent_common::sip::{
    Outcome, Scanner,
    scan::{CONTINUE, HEADERS_END},
};

/// What a framed scan of one message gave: where it stopped (just after
/// the byte that stopped it, `None` if the bytes ran out), the step, the
/// outcome, and the body length it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framed {
    pub stop: Option<usize>,
    pub step: u8,
    pub outcome: Outcome,
    pub body_len: u32,
}

/// A framed scan of `msg` fed in pieces cut at `cuts` (ascending).
#[must_use]
pub fn framed(msg: &[u8], cuts: &[usize]) -> Framed {
    let mut s = Scanner::framed();
    let mut from = 0;
    for &to in cuts.iter().chain(&[msg.len()]) {
        let to = to.clamp(from, msg.len());
        for (i, &b) in msg[from..to].iter().enumerate() {
            let step = s.feed(b);
            if step != CONTINUE {
                return Framed {
                    stop: Some(from + i + 1),
                    step,
                    outcome: s.outcome(),
                    body_len: s.body_len(),
                };
            }
        }
        from = to;
    }
    Framed {
        stop: None,
        step: CONTINUE,
        outcome: s.outcome(),
        body_len: s.body_len(),
    }
}

/// Where the header section of the first message in `msg` ends (just after
/// the LF of its empty line): line ends before the start line are skipped
/// (RFC 3261 7.5), a line is ended by LF with an optional CR before it.
#[must_use]
pub fn header_end(msg: &[u8]) -> Option<usize> {
    let mut pos = 0;
    let mut started = false;
    while pos < msg.len() {
        let eol = msg[pos..].iter().position(|&b| b == b'\n')? + pos;
        let line = &msg[pos..eol];
        let empty = line.is_empty() || line == b"\r";
        pos = eol + 1;
        if empty && started {
            return Some(pos);
        }
        started |= !empty;
    }
    None
}

/// The first `Content-Length` (or compact `l`) of the header section
/// ending at `end`, unfolded: `Some(Ok(n))`, `Some(Err(()))` when its value
/// is not 1*DIGIT (with whitespace around) of at most
/// `CONTENT_LENGTH_MAX`, `None` when there is none.
#[must_use]
pub fn content_length(msg: &[u8], end: usize) -> Option<Result<u32, ()>> {
    let text = String::from_utf8_lossy(&msg[..end]).replace("\r\n", "\n");
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n').skip_while(|l| l.is_empty()).skip(1) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
        } else {
            fields.push(line.to_owned());
        }
    }
    fields.iter().find_map(|f| {
        let name_end = f.find([':', ' ', '\t'])?;
        let (name, rest) = f.split_at(name_end);
        let value = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
        if !(name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l")) {
            return None;
        }
        let value = value.trim_matches([' ', '\t']);
        let n = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .filter(|&n| n <= u64::from(agent_common::sip::scan::CONTENT_LENGTH_MAX));
        Some(n.map_or(Err(()), |n| u32::try_from(n).map_err(|_| ())))
    })
}

/// The framed checks: the same answer however the bytes are cut; a
/// message framed as complete is what the datagram scan reads too; the
/// headers end where the plain reading says; the body length is the
/// header's. `cut` is where the fuzz input wants a second cut.
pub fn compare_framed(msg: &[u8], cut: usize) -> Result<Framed, String> {
    let whole = framed(msg, &[]);
    for cuts in [vec![msg.len() / 2], vec![cut], vec![cut / 2, cut]] {
        let split = framed(msg, &cuts);
        if split != whole {
            return Err(format!("cut at {cuts:?}: {split:?}, whole {whole:?}"));
        }
    }
    if whole.step != HEADERS_END {
        return Ok(whole);
    }
    let stop = whole.stop.unwrap_or(msg.len());
    let bytes = msg.get(..stop).unwrap_or(msg);
    if let Outcome::Complete(scan) = whole.outcome {
        let datagram = crate::scanner(trim_leading_line_ends(bytes));
        if datagram != Outcome::Complete(scan) {
            return Err(format!("framed {scan:?}, datagram scan {datagram:?}"));
        }
    }
    if header_end(msg) != Some(stop) {
        return Err(format!(
            "headers end at {stop}, plainly at {:?}",
            header_end(msg)
        ));
    }
    let want = match content_length(msg, stop) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(())) => return Err(format!("bad Content-Length framed as {}", whole.body_len)),
    };
    if whole.body_len != want {
        return Err(format!(
            "body {} bytes, Content-Length says {want}",
            whole.body_len
        ));
    }
    Ok(whole)
}

/// The framed scan skips line ends before the start line; a datagram scan
/// does not.
fn trim_leading_line_ends(msg: &[u8]) -> &[u8] {
    let n = msg
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(msg.len());
    &msg[n..]
}
