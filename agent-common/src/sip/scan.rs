//! A byte-at-a-time SIP header scanner.
//!
//! The kernel cannot hold a parser with lookahead, backtracking or allocation,
//! and its verifier wants every loop bounded; a state machine fed one byte at
//! a time fits all of that and costs the same work per byte whatever the
//! message looks like. It reads only what pairing needs: the start line
//! (method or status), `Call-ID` (or compact `i`, any case, spaces before the
//! colon allowed) hashed on the fly, and `CSeq` (number and method). It stops
//! as soon as it has them, so a long Via chain after them costs nothing.
//!
//! Lines may end in CRLF or bare LF; folded (continued) header lines are
//! followed. The body is never read.
//!
//! On a stream (TCP) a segment may hold several messages, or a part of one,
//! so [`Scanner::framed`] reads on to the end of the headers and takes
//! `Content-Length` (or compact `l`): the caller skips the body by
//! arithmetic and starts the next message after it, and can keep the
//! scanner across segments because its whole state is this value.

use super::{hash, method};

mod steps;

/// Result of feeding one byte.
pub type Step = u8;
/// Need more bytes.
pub const CONTINUE: Step = 0;
/// Start line, Call-ID and `CSeq` found: stop feeding.
pub const COMPLETE: Step = 1;
/// The message cannot be paired: stop feeding, see [`Scanner::outcome`].
pub const FAIL: Step = 2;
/// Framed scanners only: the empty line after the headers was fed; the
/// body ([`Scanner::body_len`] bytes) follows. [`Scanner::outcome`] tells
/// whether the message was pairable.
pub const HEADERS_END: Step = 3;

/// Why a message cannot be paired (or that it can).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Complete(Scan),
    /// The start line is not a SIP request or status line.
    NotSip,
    /// SIP, but Call-ID or `CSeq` is missing, empty or malformed, or the `CSeq`
    /// method differs from the request method.
    Malformed,
    /// The bytes ended before Call-ID and `CSeq` were both seen.
    Truncated,
}

/// What pairing needs from one message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub call_hash: u64,
    pub cseq: u32,
    /// 0 for requests.
    pub status: u16,
    /// The `CSeq` method: for requests the same as the request method, for
    /// responses the method of the request they answer.
    pub method: u8,
    pub is_response: bool,
}

// States.
const ST_TOKEN: u8 = 0;
const ST_STATUS: u8 = 1;
const ST_REQUEST_LINE: u8 = 2;
const ST_REASON: u8 = 3;
const ST_LINE_START: u8 = 4;
const ST_NAME: u8 = 5;
const ST_NAME_WS: u8 = 6;
const ST_SKIP_VALUE: u8 = 7;
const ST_CALL_ID: u8 = 8;
const ST_CSEQ_NUM: u8 = 9;
const ST_CSEQ_WS: u8 = 10;
const ST_CSEQ_METHOD: u8 = 11;
const ST_CSEQ_TAIL: u8 = 12;
const ST_DONE: u8 = 13;
const ST_FAILED: u8 = 14;
const ST_CLEN_NUM: u8 = 15;
const ST_CLEN_TAIL: u8 = 16;
/// Framed: the headers ended; nothing more is fed.
const ST_BODY: u8 = 17;
/// `resume` after the start line: it cannot be folded (RFC 3261 7.3.1
/// folds header fields only).
const ST_NO_FOLD: u8 = 18;

// Headers of interest.
const HDR_NONE: u8 = 0;
const HDR_CALL_ID: u8 = 1;
const HDR_CSEQ: u8 = 2;
const HDR_CONTENT_LENGTH: u8 = 3;

// Header-name candidates, as bits of `name_mask`.
const CAND_CALL_ID: u8 = 1;
const CAND_I: u8 = 2;
const CAND_CSEQ: u8 = 4;
const CAND_CONTENT_LENGTH: u8 = 8;
const CAND_L: u8 = 16;
const CAND_ALL: u8 = CAND_CALL_ID | CAND_I | CAND_CSEQ;
/// A datagram's length is the packet's, so only framed scans look for
/// `Content-Length` (and only they can fail on a bad one).
const CAND_ALL_FRAMED: u8 = CAND_ALL | CAND_CONTENT_LENGTH | CAND_L;
const NAME_CALL_ID: &[u8; 7] = b"call-id";
const NAME_CSEQ: &[u8; 4] = b"cseq";
const NAME_CONTENT_LENGTH: &[u8; 14] = b"content-length";

// `flags`.
const F_RESPONSE: u16 = 1;
const F_HAVE_CALL_ID: u16 = 2;
const F_HAVE_CSEQ: u16 = 4;
const F_CALL_ID_NONEMPTY: u16 = 8;
const F_NOT_SIP: u16 = 16;
const F_MALFORMED: u16 = 32;
/// Read to the end of the headers (stream transports).
const F_FRAMED: u16 = 64;
const F_HAVE_CONTENT_LENGTH: u16 = 128;
/// The last byte was a CR: fine before LF, an error anywhere else.
const F_CR: u16 = 256;

/// Longest method token accepted on the start line; longer is not SIP.
const MAX_TOKEN: u8 = 32;
/// RFC 3261 8.1.1.5: the `CSeq` number is below 2**31.
const CSEQ_MAX: u64 = (1 << 31) - 1;
/// Largest body a framed scan accepts; beyond it the length is taken as
/// garbage rather than a reason to skip megabytes of a stream.
pub const CONTENT_LENGTH_MAX: u32 = 1 << 24;
/// Letters `ORed` with 0x20 are lower case; '/', '.' and digits already
/// have that bit, so this folds the token "SIP/2.0" (whose bytes are
/// token characters, none of which folds onto a version character).
const LOWER: u64 = 0x2020_2020_2020_2020;
/// The request line's tail may hold any byte, so only the letters of
/// " SIP/2.0" are folded: OR-ing a NUL or control byte would make it a
/// space, '/', '.' or digit.
const TAIL_FOLD: u64 = u64::from_be_bytes([0, 0x20, 0x20, 0x20, 0, 0, 0, 0]);

/// " sip/2.0" as the last eight bytes of a request line, in shift order.
const REQUEST_LINE_TAIL: u64 = u64::from_be_bytes(*b" sip/2.0");
/// "sip/2.0" as the first token of a status line.
const VERSION_TOKEN: u64 = method::pack(b"sip/2.0");

/// Scanner state. `repr(C)` and `Copy` so the kernel can keep it on its stack
/// and hand it to a `bpf_loop` callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    hash: u64,
    /// Packed first 8 bytes of the current token.
    token: u64,
    /// FNV-1a of the whole current token: methods are compared whole.
    token_hash: u64,
    /// Packed request method token, to compare with the `CSeq` method.
    request_token: u64,
    request_token_hash: u64,
    /// Last 8 bytes of the request line, newest in the low byte.
    roll: u64,
    cseq: u32,
    content_length: u32,
    status: u16,
    flags: u16,
    state: u8,
    /// State to resume when the next line is a continuation (folded) line.
    resume: u8,
    token_len: u8,
    request_token_len: u8,
    name_mask: u8,
    header: u8,
    method: u8,
    digits: u8,
    _pad: u32,
}

/// The high bit of every byte of `word` that is a CR or LF (and possibly
/// of a byte 0x0b or 0x0c right after one: the SWAR zero-byte test lets a
/// borrow through; such a byte is then fed, never skipped, which is only
/// slower).
#[inline(always)]
const fn stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const fn zeros(w: u64) -> u64 {
        w.wrapping_sub(ONES) & !w & HIGHS
    }
    zeros(word ^ (ONES * b'\n' as u64)) | zeros(word ^ (ONES * b'\r' as u64))
}

/// Bytes [`Scanner::feed_part`] feeds one by one at most.
pub const PART_BYTES: u32 = 4;

// Kept in map values: no implicit padding.
const _: () = assert!(size_of::<Scanner>() == 72);

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
const fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 3261 `token` characters.
#[inline(always)]
const fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

impl Scanner {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            hash: hash::FNV_OFFSET,
            token: 0,
            token_hash: hash::FNV_OFFSET,
            request_token: 0,
            request_token_hash: hash::FNV_OFFSET,
            roll: 0,
            cseq: 0,
            content_length: 0,
            status: 0,
            state: ST_TOKEN,
            resume: ST_SKIP_VALUE,
            token_len: 0,
            request_token_len: 0,
            name_mask: 0,
            header: HDR_NONE,
            method: method::OTHER,
            digits: 0,
            flags: 0,
            _pad: 0,
        }
    }

    /// A scanner for a stream transport: it reads to the end of the headers
    /// (step [`HEADERS_END`]) and skips CRLFs before the start line (RFC
    /// 3261 7.5; RFC 5626 keep-alives between messages).
    #[must_use]
    pub const fn framed() -> Self {
        let mut s = Self::new();
        s.flags = F_FRAMED;
        s
    }

    /// Framed scans after [`HEADERS_END`]: the body's length from
    /// `Content-Length`, 0 when it is missing (a stream message without it
    /// is one RFC 3261 18.3 forbids and proxies reject).
    #[inline(always)]
    #[must_use]
    pub const fn body_len(&self) -> u32 {
        self.content_length
    }

    /// Whether a framed scan saw `Content-Length`.
    #[inline(always)]
    #[must_use]
    pub const fn has_content_length(&self) -> bool {
        self.flags & F_HAVE_CONTENT_LENGTH != 0
    }

    #[inline(always)]
    const fn have_both(&self) -> bool {
        self.flags & (F_HAVE_CALL_ID | F_HAVE_CSEQ) == F_HAVE_CALL_ID | F_HAVE_CSEQ
    }

    /// Feed every byte of `data` until the scanner stops; for userspace and
    /// tests (the kernel feeds bytes from its own bounded loop).
    pub fn feed_all(&mut self, data: &[u8]) -> Step {
        for &b in data {
            let step = self.feed(b);
            if step != CONTINUE {
                return step;
            }
        }
        CONTINUE
    }

    #[must_use]
    pub fn outcome(&self) -> Outcome {
        if self.state == ST_DONE || (self.state == ST_BODY && self.have_both()) {
            Outcome::Complete(self.scan())
        } else if self.flags & F_NOT_SIP != 0 {
            Outcome::NotSip
        } else if self.flags & F_MALFORMED != 0 {
            Outcome::Malformed
        } else {
            Outcome::Truncated
        }
    }

    /// The fields found so far; complete only after [`COMPLETE`].
    #[inline(always)]
    #[must_use]
    pub const fn scan(&self) -> Scan {
        Scan {
            call_hash: self.hash,
            cseq: self.cseq,
            status: self.status,
            method: self.method,
            is_response: self.flags & F_RESPONSE != 0,
        }
    }

    /// True once the start line was read and it was SIP: lets the kernel
    /// tell "truncated SIP" from "not SIP" when the bytes run out early.
    #[inline(always)]
    #[must_use]
    pub const fn saw_start_line(&self) -> bool {
        self.state >= ST_LINE_START && self.flags & F_NOT_SIP == 0
    }

    #[inline(always)]
    #[must_use]
    pub const fn failed_not_sip(&self) -> bool {
        self.flags & F_NOT_SIP != 0
    }

    #[inline(always)]
    fn fail(&mut self, flag: u16) -> Step {
        self.flags |= flag;
        self.state = ST_FAILED;
        FAIL
    }

    #[inline(always)]
    fn push_token(&mut self, b: u8) {
        if self.token_len < 8 {
            self.token |= u64::from(b) << (8 * self.token_len);
        }
        self.token_hash = hash::fnv1a_step(self.token_hash, b);
        self.token_len = self.token_len.saturating_add(1);
    }

    #[inline(always)]
    fn line_end(&mut self, resume: u8) -> Step {
        self.resume = resume;
        self.state = ST_LINE_START;
        CONTINUE
    }

    /// Whether bytes up to the next CR or LF can go by without being fed:
    /// the scan is inside a value it does not read (most of a message: Via,
    /// From, To, every header that is not a key) or a reason phrase, and no
    /// CR waits for its LF. Feeding them one by one gives the same state.
    #[inline(always)]
    #[must_use]
    pub const fn skipping(&self) -> bool {
        self.flags & F_CR == 0 && (self.state == ST_SKIP_VALUE || self.state == ST_REASON)
    }

    /// Feed bytes `first..end` of `word` (eight bytes as loaded
    /// little-endian, first byte lowest; `end <= 8`): [`Scanner::feed_part`]
    /// until the word is done or a step stops the scan. Returns that step
    /// ([`CONTINUE`] if none did) and the index just after the byte it
    /// stopped on (`end` if none). `feed_all` feeds the same bytes one by one
    /// to the same result.
    #[inline(always)]
    pub fn feed_word(&mut self, word: u64, first: u32, end: u32) -> (Step, u32) {
        let mut k = first;
        // Each part moves on by at least one byte: at most eight parts.
        let mut parts = 0;
        while parts < 8 {
            let (step, next) = self.feed_part(word, k, end);
            if step != CONTINUE || next >= end {
                return (step, next);
            }
            k = next;
            parts += 1;
        }
        (CONTINUE, k)
    }

    /// Feed bytes of `word` from `first`, at most [`PART_BYTES`] of them one
    /// by one: the kernel's step. A whole word (`end == 8`) goes by up to its
    /// first CR or LF while [`Scanner::skipping`], and a whole word of the
    /// request line at once (it keeps only its last eight bytes). The CR/LF
    /// search may stop early (never late) on a byte 0x0b or 0x0c right
    /// after a CR or LF: those are fed, which is only slower. Returns the
    /// step that stopped the scan ([`CONTINUE`] if none did) and the index
    /// just after the last byte it took: `end` when it reached the end,
    /// less when it stopped or fed its `PART_BYTES`.
    ///
    /// Why a part and not the word: the verifier walks every path through
    /// the bytes a kernel step feeds, and the paths of eight bytes multiply
    /// past its million-instruction budget (on 6.18.44; four take a quarter
    /// of it).
    #[inline(always)]
    pub fn feed_part(&mut self, word: u64, first: u32, end: u32) -> (Step, u32) {
        let whole = end == 8;
        let stops = stops(word);
        let mut j = 0;
        while j < PART_BYTES {
            let k = first + j;
            if k >= end {
                return (CONTINUE, end);
            }
            if whole && self.skipping() {
                let rest = stops >> (8 * k);
                if rest == 0 {
                    // No line end in the rest of the word.
                    return (CONTINUE, end);
                }
                if rest & 0x80 == 0 {
                    // Not a CR or LF: feeding it would change nothing.
                    j += 1;
                    continue;
                }
            } else if whole
                && k == 0
                && self.flags & F_CR == 0
                && self.state == ST_REQUEST_LINE
                && stops == 0
            {
                // The newest byte lowest: the word's bytes reversed.
                self.roll = word.swap_bytes();
                return (CONTINUE, end);
            }
            #[expect(clippy::cast_possible_truncation, reason = "one byte of the word")]
            let step = self.feed((word >> (8 * k)) as u8);
            if step != CONTINUE {
                return (step, k + 1);
            }
            j += 1;
        }
        (CONTINUE, first + PART_BYTES)
    }

    /// Feed one byte.
    #[inline(always)]
    #[expect(
        clippy::too_many_lines,
        reason = "one flat match over the states reads best"
    )]
    pub fn feed(&mut self, b: u8) -> Step {
        // CRLF and bare LF end lines alike; a CR anywhere else is judged
        // where it stands (RFC 3261 25.1 allows CR only in CRLF).
        if self.flags & F_CR != 0 {
            self.flags &= !F_CR;
            if b != b'\n' {
                let step = self.stray_cr();
                if step != CONTINUE {
                    return step;
                }
            }
        }
        if b == b'\r' {
            self.flags |= F_CR;
            return CONTINUE;
        }
        match self.state {
            ST_TOKEN => {
                if b == b'\n' && self.token_len == 0 && self.flags & F_FRAMED != 0 {
                    CONTINUE
                } else {
                    self.start_token(b)
                }
            }
            ST_STATUS => self.status_code(b),
            ST_REQUEST_LINE => {
                if b == b'\n' {
                    if self.roll | TAIL_FOLD == REQUEST_LINE_TAIL {
                        self.header = HDR_NONE;
                        self.line_end(ST_NO_FOLD)
                    } else {
                        self.fail(F_NOT_SIP)
                    }
                } else {
                    self.roll = (self.roll << 8) | u64::from(b);
                    CONTINUE
                }
            }
            ST_REASON => {
                if b == b'\n' {
                    self.header = HDR_NONE;
                    self.line_end(ST_NO_FOLD)
                } else {
                    CONTINUE
                }
            }
            ST_LINE_START => self.line_start(b),
            ST_NAME => self.name(b),
            ST_NAME_WS => {
                if b == b':' {
                    self.select_header()
                } else if is_ws(b) {
                    CONTINUE
                } else if b == b'\n' {
                    self.line_end(ST_NAME_WS)
                } else {
                    // "Call ID: x" is not Call-ID; skip the line.
                    self.header = HDR_NONE;
                    self.state = ST_SKIP_VALUE;
                    CONTINUE
                }
            }
            ST_SKIP_VALUE => {
                if b == b'\n' {
                    self.line_end(ST_SKIP_VALUE)
                } else {
                    CONTINUE
                }
            }
            ST_CALL_ID => {
                if b == b'\n' {
                    self.line_end(ST_CALL_ID)
                } else {
                    if !is_ws(b) {
                        self.hash = hash::fnv1a_step(self.hash, b);
                        self.flags |= F_CALL_ID_NONEMPTY;
                    }
                    CONTINUE
                }
            }
            ST_CSEQ_NUM => self.cseq_number(b),
            ST_CLEN_NUM => self.content_length_number(b),
            ST_CLEN_TAIL => {
                if is_ws(b) {
                    CONTINUE
                } else if b == b'\n' {
                    self.line_end(ST_CLEN_TAIL)
                } else {
                    self.fail(F_MALFORMED)
                }
            }
            ST_BODY => HEADERS_END,
            ST_CSEQ_WS => {
                if is_ws(b) {
                    CONTINUE
                } else if b == b'\n' {
                    self.line_end(ST_CSEQ_WS)
                } else if is_token(b) {
                    self.token = 0;
                    self.token_hash = hash::FNV_OFFSET;
                    self.token_len = 0;
                    self.push_token(b);
                    self.state = ST_CSEQ_METHOD;
                    CONTINUE
                } else {
                    self.fail(F_MALFORMED)
                }
            }
            ST_CSEQ_METHOD => {
                if is_token(b) {
                    self.push_token(b);
                    CONTINUE
                } else if is_ws(b) {
                    self.state = ST_CSEQ_TAIL;
                    self.finish_cseq_method()
                } else if b == b'\n' {
                    let step = self.finish_cseq_method();
                    if step != CONTINUE {
                        return step;
                    }
                    self.line_end(ST_CSEQ_TAIL)
                } else {
                    self.fail(F_MALFORMED)
                }
            }
            ST_CSEQ_TAIL => {
                if is_ws(b) {
                    CONTINUE
                } else if b == b'\n' {
                    self.line_end(ST_CSEQ_TAIL)
                } else {
                    self.fail(F_MALFORMED)
                }
            }
            ST_DONE => COMPLETE,
            _ => FAIL,
        }
    }
}
