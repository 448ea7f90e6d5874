//! A reference parser for what the shared scanner
//! ([`agent_common::sip::Scanner`], datagram mode) reads, written plainly
//! for clarity rather than speed: split the bytes into lines, group header
//! lines into fields (a line starting with SP or HTAB continues the field
//! before it), unfold, and parse the start line, `Call-ID` and `CSeq` by RFC
//! 3261's grammar (sections 7.1, 7.2, 7.3.1, 20.8, 20.16, 25.1). It gives
//! the scanner's [`Outcome`] for the same bytes, so the unit tests and the
//! `scanner_vs_reference` fuzz target can compare the two.
//!
//! It is strict where the scanner claims to follow the grammar and encodes
//! the scanner's deliberate choices where it does not; each such rule says
//! "Scanner rule" in a comment below. In short:
//!
//! - Only the start line, the first `Call-ID` and the first `CSeq` are read.
//!   Other header lines are not validated (any bytes, with or without a
//!   colon), the body is never read, and reading stops once both keys are
//!   in: garbage, a repeated key or a bad `Content-Length` after them is not
//!   seen (a full parser rejects RFC 4475 `multi01`, `mcl01`, `ncl`, `clerr`;
//!   the scanner pairs them, and the proxy's answer to them is real work).
//! - The Request-URI is not read: the request line is a method token, SP,
//!   anything, and the tail " SIP/2.0" (RFC 4475 `lwsruri`, `lwsstart`,
//!   `trws`, `ltgtruri`, `escruri` pass).
//! - A decision is taken where a token or a header ends: a status code is
//!   judged when the SP or line end after it arrives, a header field when
//!   the first byte of the next line shows it is not folded. Bytes that end
//!   before that give [`Outcome::Truncated`].
//!
//! Where the two disagree, RFC 3261 decides which is wrong; the cases found
//! so far (all the scanner's) stay in the tests as regressions.

pub mod framing;

use agent_common::sip::{Outcome, Scan, Scanner, hash::call_id_hash, method};

/// Scanner rule: a method token is at most 32 bytes (longer is not SIP).
pub const MAX_METHOD_LEN: usize = 32;
/// RFC 3261 8.1.1.5: the `CSeq` number is below 2**31.
pub const CSEQ_MAX: u64 = (1 << 31) - 1;

/// What the scanner gives for `msg` fed in one piece.
#[must_use]
pub fn scanner(msg: &[u8]) -> Outcome {
    let mut s = Scanner::new();
    s.feed_all(msg);
    s.outcome()
}

/// What the scanner gives for `msg` fed as two pieces cut at `at` (a
/// message resumed across IP fragments or TCP segments).
#[must_use]
pub fn scanner_split(msg: &[u8], at: usize) -> Outcome {
    let (a, b) = msg.split_at(at.min(msg.len()));
    let mut s = Scanner::new();
    if s.feed_all(a) == agent_common::sip::scan::CONTINUE {
        s.feed_all(b);
    }
    s.outcome()
}

/// What the scanner gives for `msg` fed as the kernel feeds it: a word of
/// eight bytes at a time through [`Scanner::feed_word`], with the message
/// starting `shift` bytes into the first word (it need not start at an
/// aligned place in the kernel's buffer) and bytes after its end in the
/// last word set to garbage (the kernel's buffer holds stale bytes there).
#[must_use]
pub fn scanner_skipping(msg: &[u8], shift: usize) -> Outcome {
    let shift = shift % 8;
    let mut buf = vec![0xa5; shift];
    buf.extend_from_slice(msg);
    let len = buf.len();
    buf.resize(len.next_multiple_of(8) + 8, 0x0a);
    let mut s = Scanner::new();
    let mut start = 0;
    while start < len {
        let mut word = [0u8; 8];
        word.copy_from_slice(&buf[start..start + 8]);
        let first = u32::try_from(shift.saturating_sub(start)).unwrap_or(8);
        let end = u32::try_from((len - start).min(8)).unwrap_or(8);
        let (step, _) = s.feed_word(u64::from_le_bytes(word), first, end);
        if step != agent_common::sip::scan::CONTINUE {
            break;
        }
        start += 8;
    }
    s.outcome()
}

/// A disagreement between the scanner and the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// The scanner in one piece against the reference.
    Reference {
        scanner: Outcome,
        reference: Outcome,
    },
    /// The scanner fed in two pieces against one piece.
    Split {
        at: usize,
        split: Outcome,
        whole: Outcome,
    },
    /// The scanner skipping words against feeding every byte.
    Skipping {
        shift: usize,
        skipping: Outcome,
        whole: Outcome,
    },
}

/// Where the fuzz target cuts `msg` besides the middle: a point derived
/// from the bytes, so every input gets its own.
#[must_use]
pub fn split_point(msg: &[u8]) -> usize {
    let h = agent_common::sip::hash::fnv1a(msg);
    usize::try_from(h % (msg.len() as u64 + 1)).unwrap_or(0)
}

/// The whole comparison, shared by the fuzz target and the unit tests: the
/// scanner against the reference, and the scanner cut in two (in the
/// middle and at [`split_point`]) and skipping words (the kernel's fast
/// path) against the scanner fed every byte.
pub fn compare(msg: &[u8]) -> Result<Outcome, Divergence> {
    compare_with(msg, reference)
}

/// [`compare`] against any reference: the tests hand it a wrong one to see
/// a divergence caught.
pub fn compare_with(msg: &[u8], reference: fn(&[u8]) -> Outcome) -> Result<Outcome, Divergence> {
    let whole = scanner(msg);
    let want = reference(msg);
    if whole != want {
        return Err(Divergence::Reference {
            scanner: whole,
            reference: want,
        });
    }
    for at in [msg.len() / 2, split_point(msg)] {
        let split = scanner_split(msg, at);
        if split != whole {
            return Err(Divergence::Split { at, split, whole });
        }
    }
    for shift in [0, split_point(msg) % 8] {
        let skipping = scanner_skipping(msg, shift);
        if skipping != whole {
            return Err(Divergence::Skipping {
                shift,
                skipping,
                whole,
            });
        }
    }
    Ok(whole)
}

/// One line of the message, without its line end.
struct Line<'a> {
    text: &'a [u8],
    /// Whether its LF was seen (the last line of truncated bytes has none).
    terminated: bool,
}

/// Split at LF; a CR right before the LF belongs to the line end (RFC 3261
/// uses CRLF; scanner rule: a bare LF ends a line too). A CR as the very
/// last byte is the start of a line end that was cut off.
fn split_lines(msg: &[u8]) -> Vec<Line<'_>> {
    let pieces: Vec<&[u8]> = msg.split(|&b| b == b'\n').collect();
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, text)| Line {
            text: text.strip_suffix(b"\r").unwrap_or(text),
            terminated: i < last,
        })
        .collect()
}

const fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 3261 25.1 `token` characters.
const fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// The start line, once read.
enum Start {
    Request { method: Vec<u8> },
    Response { status: u16 },
}

/// The reference's outcome for `msg`.
#[must_use]
pub fn reference(msg: &[u8]) -> Outcome {
    let lines = split_lines(msg);
    let start = match start_line(&lines[0]) {
        Ok(start) => start,
        Err(outcome) => return outcome,
    };
    match headers(&lines[1..], &start) {
        Ok(scan) => Outcome::Complete(scan),
        Err(outcome) => outcome,
    }
}

/// RFC 3261 7.1 Request-Line = Method SP Request-URI SP SIP-Version CRLF,
/// 7.2 Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF.
fn start_line(line: &Line<'_>) -> Result<Start, Outcome> {
    // RFC 3261 25.1: CR only in CRLF.
    if line.text.contains(&b'\r') {
        return Err(Outcome::NotSip);
    }
    let (token, rest) = match line.text.iter().position(|&b| b == b' ') {
        Some(sp) => (&line.text[..sp], Some(&line.text[sp + 1..])),
        None => (line.text, None),
    };
    // Scanner rule: at most 32 bytes, and '/' is allowed in the first token
    // (it is how "SIP/2.0" is read); a request method with it is an unknown
    // method (which no CSeq method can then match). Scanner rule: CRLFs
    // before the start line are not skipped (RFC 3261 7.5 says SHOULD for
    // streams; a datagram starts with its start line).
    if token.len() > MAX_METHOD_LEN || !token.iter().all(|&b| is_token(b) || b == b'/') {
        return Err(Outcome::NotSip);
    }
    let Some(rest) = rest else {
        return Err(if line.terminated {
            Outcome::NotSip
        } else {
            Outcome::Truncated
        });
    };
    if token.is_empty() {
        return Err(Outcome::NotSip);
    }
    // RFC 3261 7.1: SIP-Version is case-insensitive. Scanner rule: only 2.0.
    if token.eq_ignore_ascii_case(b"SIP/2.0") {
        return status_line(rest, line.terminated).map(|status| Start::Response { status });
    }
    if !line.terminated {
        // The Request-URI is not read, so nothing before the line end can
        // refuse the line.
        return Err(Outcome::Truncated);
    }
    // Scanner rule: the Request-URI between the two SPs is not read (it
    // may even be empty or hold SPs); only the version tail is.
    let version_ok = rest.len() >= 8 && rest[rest.len() - 8..].eq_ignore_ascii_case(b" SIP/2.0");
    if version_ok {
        Ok(Start::Request {
            method: token.to_vec(),
        })
    } else {
        Err(Outcome::NotSip)
    }
}

/// Status-Code = 3DIGIT (RFC 3261 7.2: classes 1xx to 6xx), after the
/// version's SP. Scanner rules: the Reason-Phrase is not read, and the SP
/// before an empty one may be missing (`SIP/2.0 200` CRLF).
fn status_line(rest: &[u8], terminated: bool) -> Result<u16, Outcome> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 3 {
        return Err(Outcome::NotSip);
    }
    let code_ends = digits < rest.len() || terminated;
    if !code_ends {
        // The code is judged when it ends.
        return Err(Outcome::Truncated);
    }
    let after = rest.get(digits).copied().unwrap_or(b'\n');
    let status: u16 = rest[..digits]
        .iter()
        .fold(0, |n, d| n * 10 + u16::from(d - b'0'));
    if digits != 3 || !(100..=699).contains(&status) || !(after == b' ' || after == b'\n') {
        return Err(Outcome::NotSip);
    }
    if terminated {
        Ok(status)
    } else {
        Err(Outcome::Truncated)
    }
}

/// One header field: its first line and its continuation lines.
struct Field {
    /// The unfolded text: each line's bytes, and one SP for each line end
    /// seen (RFC 3261 7.3.1: a fold is replaced by SP; the SP also marks
    /// where a line ended, which ends a token).
    text: Vec<u8>,
    /// Whether the next line was seen to start with something other than
    /// SP or HTAB, so the field can no longer go on.
    closed: bool,
}

/// The header section: fields in order, and whether the empty line that
/// ends it was seen.
fn fields(lines: &[Line<'_>]) -> Result<(Vec<Field>, bool), Outcome> {
    let mut fields: Vec<Field> = Vec::new();
    for line in lines {
        if line.text.is_empty() {
            if line.terminated {
                // The empty line: the header section ends here.
                if let Some(last) = fields.last_mut() {
                    last.closed = true;
                }
                return Ok((fields, true));
            }
            // The bytes ended right after a line end.
            break;
        }
        let continuation = is_ws(line.text[0]);
        if continuation {
            match fields.last_mut() {
                Some(field) => {
                    field.text.extend_from_slice(line.text);
                    if line.terminated {
                        field.text.push(b' ');
                    }
                    continue;
                }
                // A fold right after the start line: no header to continue.
                None => return Err(Outcome::Malformed),
            }
        }
        if let Some(last) = fields.last_mut() {
            last.closed = true;
        }
        let mut text = line.text.to_vec();
        if line.terminated {
            text.push(b' ');
        }
        fields.push(Field {
            text,
            closed: false,
        });
    }
    Ok((fields, false))
}

/// Which key a field is, if any.
enum Key<'a> {
    CallId(&'a [u8]),
    CSeq(&'a [u8]),
    Other,
}

/// RFC 3261 7.3.1: field-name HCOLON value, HCOLON = *( SP / HTAB ) ":"
/// SWS; after unfolding, whitespace (and so a fold, RFC 4475 `wsinv`) may
/// stand between the name and the colon. Names are case-insensitive; `i`
/// is the compact `Call-ID` (20.8). `None`: the colon (or what shows there
/// is none) has not arrived yet. Scanner rule: a line whose name is not
/// followed by a colon ("Call ID: x", or no colon at all) is some other
/// header, not read.
fn key(field: &Field) -> Option<Key<'_>> {
    let text = &field.text[..];
    let name_len = text
        .iter()
        .position(|&b| b == b':' || is_ws(b))
        .unwrap_or(text.len());
    let name = &text[..name_len];
    let after_ws = text[name_len..]
        .iter()
        .position(|&b| !is_ws(b))
        .map(|i| name_len + i);
    let Some(colon) = after_ws else {
        return (field.closed).then_some(Key::Other);
    };
    if text[colon] != b':' {
        return Some(Key::Other);
    }
    let value = &text[colon + 1..];
    Some(
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            Key::CallId(value)
        } else if name.eq_ignore_ascii_case(b"cseq") {
            Key::CSeq(value)
        } else {
            Key::Other
        },
    )
}

/// The header section up to the point where both keys are in. Scanner
/// rule: the first occurrence of each key wins; a repeated one is another
/// header, not read.
fn headers(lines: &[Line<'_>], start: &Start) -> Result<Scan, Outcome> {
    let (fields, section_ends) = fields(lines)?;
    let mut call_hash = None;
    let mut cseq = None;
    for field in &fields {
        let Some(key) = key(field) else {
            return Err(Outcome::Truncated);
        };
        match key {
            Key::CallId(value) if call_hash.is_none() => {
                call_hash = Some(call_id(value, field.closed)?);
            }
            Key::CSeq(value) if cseq.is_none() => {
                cseq = Some(cseq_value(value, field.closed, start)?);
            }
            _ if !field.closed => return Err(Outcome::Truncated),
            _ => {}
        }
        if let (Some(call_hash), Some((cseq, method))) = (call_hash, cseq) {
            // Scanner rule: reading stops here.
            let (status, is_response) = match start {
                Start::Request { .. } => (0, false),
                Start::Response { status } => (*status, true),
            };
            return Ok(Scan {
                call_hash,
                cseq,
                status,
                method,
                is_response,
            });
        }
    }
    Err(if section_ends {
        // The headers ended without both keys.
        Outcome::Malformed
    } else {
        Outcome::Truncated
    })
}

/// Call-ID = ( "Call-ID" / "i" ) HCOLON callid (RFC 3261 20.8). Scanner
/// rule: the value is not checked against `callid = word [ "@" word ]`;
/// every byte but whitespace is hashed (pairing needs the same bytes in a
/// request and its response, not valid ones), and only an empty value is
/// refused. It can be judged only once the field is closed.
fn call_id(value: &[u8], closed: bool) -> Result<u64, Outcome> {
    if value.contains(&b'\r') {
        // RFC 3261 25.1: CR only in CRLF.
        return Err(Outcome::Malformed);
    }
    if !closed {
        return Err(Outcome::Truncated);
    }
    if value.iter().all(|&b| is_ws(b)) {
        return Err(Outcome::Malformed);
    }
    Ok(call_id_hash(value))
}

/// `CSeq = "CSeq" HCOLON 1*DIGIT LWS Method` (RFC 3261 20.16): the number
/// below 2**31 (8.1.1.5), leading zeros allowed (RFC 4475 `wsinv`), and in
/// a request the method is the request's own (RFC 4475 `mismatch01`,
/// compared whole and case-sensitively). Scanner rule: whitespace may
/// follow the method. Read left to right so that bytes ending early give
/// `Truncated` unless what came already refuses the value.
fn cseq_value(value: &[u8], closed: bool, start: &Start) -> Result<(u32, u8), Outcome> {
    // Bytes ran out before the value could be judged.
    let more = if closed {
        Outcome::Malformed
    } else {
        Outcome::Truncated
    };
    if value.contains(&b'\r') {
        // RFC 3261 25.1: CR only in CRLF.
        return Err(Outcome::Malformed);
    }
    let mut i = value.iter().take_while(|&&b| is_ws(b)).count();
    let mut number: u64 = 0;
    let digits_from = i;
    while i < value.len() && value[i].is_ascii_digit() {
        number = number * 10 + u64::from(value[i] - b'0');
        if number > CSEQ_MAX {
            return Err(Outcome::Malformed);
        }
        i += 1;
    }
    if i == value.len() {
        return Err(more);
    }
    if i == digits_from || !is_ws(value[i]) {
        return Err(Outcome::Malformed);
    }
    i += value[i..].iter().take_while(|&&b| is_ws(b)).count();
    if i == value.len() {
        return Err(more);
    }
    let token_len = value[i..].iter().take_while(|&&b| is_token(b)).count();
    let token = &value[i..i + token_len];
    i += token_len;
    if token.is_empty() {
        return Err(Outcome::Malformed);
    }
    if i == value.len() {
        // The method has not ended yet: it is compared when it does.
        return Err(more);
    }
    if !is_ws(value[i]) {
        return Err(Outcome::Malformed);
    }
    if let Start::Request { method } = start
        && method.as_slice() != token
    {
        return Err(Outcome::Malformed);
    }
    if !value[i..].iter().all(|&b| is_ws(b)) {
        return Err(Outcome::Malformed);
    }
    if !closed {
        return Err(Outcome::Truncated);
    }
    let number = u32::try_from(number).map_err(|_| Outcome::Malformed)?;
    Ok((number, method::from_token(token)))
}
