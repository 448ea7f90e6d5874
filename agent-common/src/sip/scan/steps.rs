//! The scanner's per-state steps, each a byte's worth of work, kept apart
//! from the dispatch in the parent so the state machine's table reads on one
//! screen.

use super::{
    CAND_ALL, CAND_ALL_FRAMED, CAND_CALL_ID, CAND_CONTENT_LENGTH, CAND_CSEQ, CAND_I, CAND_L,
    COMPLETE, CONTENT_LENGTH_MAX, CONTINUE, CSEQ_MAX, F_CALL_ID_NONEMPTY, F_FRAMED, F_HAVE_CALL_ID,
    F_HAVE_CONTENT_LENGTH, F_HAVE_CSEQ, F_MALFORMED, F_NOT_SIP, F_RESPONSE, HDR_CALL_ID,
    HDR_CONTENT_LENGTH, HDR_CSEQ, HDR_NONE, HEADERS_END, LOWER, MAX_TOKEN, NAME_CALL_ID,
    NAME_CONTENT_LENGTH, NAME_CSEQ, ST_BODY, ST_CALL_ID, ST_CLEN_NUM, ST_CLEN_TAIL, ST_CSEQ_METHOD,
    ST_CSEQ_NUM, ST_CSEQ_TAIL, ST_CSEQ_WS, ST_DONE, ST_LINE_START, ST_NAME, ST_NAME_WS, ST_NO_FOLD,
    ST_REASON, ST_REQUEST_LINE, ST_SKIP_VALUE, ST_STATUS, ST_TOKEN, Scanner, Step, VERSION_TOKEN,
    hash, is_token, is_ws, method,
};

impl Scanner {
    /// First token of the start line: a method, or "SIP/2.0" of a status line.
    #[inline(always)]
    pub(super) fn start_token(&mut self, b: u8) -> Step {
        if b == b' ' {
            if self.token_len == 7 && (self.token | (LOWER >> 8)) == VERSION_TOKEN {
                self.flags |= F_RESPONSE;
                self.state = ST_STATUS;
            } else if self.token_len == 0 {
                return self.fail(F_NOT_SIP);
            } else {
                self.request_token = self.token;
                self.request_token_hash = self.token_hash;
                self.request_token_len = self.token_len;
                self.method = method::from_packed(self.token, self.token_len, self.token_hash);
                self.state = ST_REQUEST_LINE;
            }
            CONTINUE
        } else if (is_token(b) || b == b'/') && self.token_len < MAX_TOKEN {
            // '/' only to read "SIP/2.0"; a method with it is left unknown.
            self.push_token(b);
            CONTINUE
        } else {
            self.fail(F_NOT_SIP)
        }
    }

    #[inline(always)]
    pub(super) fn status_code(&mut self, b: u8) -> Step {
        if b.is_ascii_digit() && self.digits < 3 {
            self.status = self.status * 10 + u16::from(b - b'0');
            self.digits += 1;
            CONTINUE
        } else if (b == b' ' || b == b'\n')
            && self.digits == 3
            && self.status >= 100
            && self.status <= 699
        {
            self.digits = 0;
            if b == b'\n' {
                self.header = HDR_NONE;
                self.line_end(ST_NO_FOLD)
            } else {
                self.state = ST_REASON;
                CONTINUE
            }
        } else {
            self.fail(F_NOT_SIP)
        }
    }

    #[inline(always)]
    pub(super) fn line_start(&mut self, b: u8) -> Step {
        if is_ws(b) {
            if self.resume == ST_NO_FOLD {
                return self.fail(F_MALFORMED);
            }
            // Folded line: the previous header's value goes on.
            self.state = self.resume;
            return CONTINUE;
        }
        let step = self.end_header();
        if step != CONTINUE {
            return step;
        }
        if b == b'\n' {
            if self.flags & F_FRAMED == 0 {
                // End of headers without both Call-ID and CSeq.
                return self.fail(F_MALFORMED);
            }
            if !self.have_both() {
                // Not pairable, but its length is known: the stream goes on.
                self.flags |= F_MALFORMED;
            }
            self.state = ST_BODY;
            return HEADERS_END;
        }
        self.name_mask = if self.flags & F_FRAMED != 0 {
            CAND_ALL_FRAMED
        } else {
            CAND_ALL
        };
        self.token_len = 0;
        self.state = ST_NAME;
        self.name(b)
    }

    /// A header line ended (the next line is not a continuation).
    #[inline(always)]
    pub(super) fn end_header(&mut self) -> Step {
        match self.header {
            HDR_CALL_ID => {
                if self.flags & F_CALL_ID_NONEMPTY == 0 {
                    return self.fail(F_MALFORMED);
                }
                self.flags |= F_HAVE_CALL_ID;
            }
            HDR_CSEQ => {
                if self.resume != ST_CSEQ_TAIL {
                    return self.fail(F_MALFORMED);
                }
                self.flags |= F_HAVE_CSEQ;
            }
            HDR_CONTENT_LENGTH => {
                if self.digits == 0 {
                    return self.fail(F_MALFORMED);
                }
                self.flags |= F_HAVE_CONTENT_LENGTH;
            }
            _ => {}
        }
        self.header = HDR_NONE;
        if self.flags & F_FRAMED == 0 && self.have_both() {
            self.state = ST_DONE;
            return COMPLETE;
        }
        CONTINUE
    }

    #[inline(always)]
    pub(super) fn name(&mut self, b: u8) -> Step {
        if b == b':' {
            return self.select_header();
        }
        if is_ws(b) {
            self.state = ST_NAME_WS;
            return CONTINUE;
        }
        if b == b'\n' {
            // The colon may follow on a folded line (RFC 4475 3.1.1.1);
            // if the next line is not a continuation the name is dropped.
            return self.line_end(ST_NAME_WS);
        }
        let lower = b.to_ascii_lowercase();
        let pos = self.token_len as usize;
        if pos >= NAME_CALL_ID.len() || NAME_CALL_ID[pos] != lower {
            self.name_mask &= !CAND_CALL_ID;
        }
        if pos >= 1 || lower != b'i' {
            self.name_mask &= !CAND_I;
        }
        if pos >= NAME_CSEQ.len() || NAME_CSEQ[pos] != lower {
            self.name_mask &= !CAND_CSEQ;
        }
        if pos >= NAME_CONTENT_LENGTH.len() || NAME_CONTENT_LENGTH[pos] != lower {
            self.name_mask &= !CAND_CONTENT_LENGTH;
        }
        if pos >= 1 || lower != b'l' {
            self.name_mask &= !CAND_L;
        }
        self.token_len = self.token_len.saturating_add(1);
        if self.name_mask == 0 {
            // No key header starts like this: the rest of the field is not
            // read (and can be skipped a word at a time).
            self.header = HDR_NONE;
            self.state = ST_SKIP_VALUE;
        }
        CONTINUE
    }

    #[inline(always)]
    pub(super) fn select_header(&mut self) -> Step {
        let len = self.token_len as usize;
        let is_call_id = (self.name_mask & CAND_CALL_ID != 0 && len == NAME_CALL_ID.len())
            || (self.name_mask & CAND_I != 0 && len == 1);
        let is_cseq = self.name_mask & CAND_CSEQ != 0 && len == NAME_CSEQ.len();
        let is_content_length = (self.name_mask & CAND_CONTENT_LENGTH != 0
            && len == NAME_CONTENT_LENGTH.len())
            || (self.name_mask & CAND_L != 0 && len == 1);
        // The first occurrence wins; a repeated header is skipped.
        if is_call_id && self.flags & F_HAVE_CALL_ID == 0 {
            self.header = HDR_CALL_ID;
            self.hash = hash::FNV_OFFSET;
            self.state = ST_CALL_ID;
        } else if is_cseq && self.flags & F_HAVE_CSEQ == 0 {
            self.header = HDR_CSEQ;
            self.cseq = 0;
            self.digits = 0;
            self.state = ST_CSEQ_NUM;
        } else if is_content_length && self.flags & F_HAVE_CONTENT_LENGTH == 0 {
            self.header = HDR_CONTENT_LENGTH;
            self.content_length = 0;
            self.digits = 0;
            self.state = ST_CLEN_NUM;
        } else {
            self.header = HDR_NONE;
            self.state = ST_SKIP_VALUE;
        }
        CONTINUE
    }

    #[inline(always)]
    pub(super) fn cseq_number(&mut self, b: u8) -> Step {
        if b.is_ascii_digit() {
            let next = u64::from(self.cseq) * 10 + u64::from(b - b'0');
            if next > CSEQ_MAX {
                return self.fail(F_MALFORMED);
            }
            #[expect(clippy::cast_possible_truncation, reason = "bounded by CSEQ_MAX")]
            {
                self.cseq = next as u32;
            }
            self.digits = self.digits.saturating_add(1);
            CONTINUE
        } else if is_ws(b) {
            if self.digits > 0 {
                self.state = ST_CSEQ_WS;
            }
            CONTINUE
        } else if b == b'\n' {
            let resume = if self.digits > 0 {
                ST_CSEQ_WS
            } else {
                ST_CSEQ_NUM
            };
            self.line_end(resume)
        } else {
            self.fail(F_MALFORMED)
        }
    }

    /// A CR that was not followed by LF: on the start line the bytes are
    /// not SIP, in a value we read the value is malformed, elsewhere the
    /// line is some other header's, not read.
    #[inline(always)]
    pub(super) fn stray_cr(&mut self) -> Step {
        match self.state {
            ST_TOKEN | ST_STATUS | ST_REQUEST_LINE | ST_REASON => self.fail(F_NOT_SIP),
            ST_CALL_ID | ST_CSEQ_NUM | ST_CSEQ_WS | ST_CSEQ_METHOD | ST_CSEQ_TAIL | ST_CLEN_NUM
            | ST_CLEN_TAIL => self.fail(F_MALFORMED),
            ST_LINE_START | ST_NAME | ST_NAME_WS => {
                if self.state == ST_LINE_START {
                    // A new line that is not a fold ends the field before.
                    let step = self.end_header();
                    if step != CONTINUE {
                        return step;
                    }
                }
                self.header = HDR_NONE;
                self.state = ST_SKIP_VALUE;
                CONTINUE
            }
            _ => CONTINUE,
        }
    }

    #[inline(always)]
    pub(super) fn content_length_number(&mut self, b: u8) -> Step {
        if b.is_ascii_digit() {
            let next = u64::from(self.content_length) * 10 + u64::from(b - b'0');
            if next > u64::from(CONTENT_LENGTH_MAX) {
                return self.fail(F_MALFORMED);
            }
            #[expect(
                clippy::cast_possible_truncation,
                reason = "bounded by CONTENT_LENGTH_MAX"
            )]
            {
                self.content_length = next as u32;
            }
            self.digits = self.digits.saturating_add(1);
            CONTINUE
        } else if is_ws(b) {
            if self.digits > 0 {
                self.state = ST_CLEN_TAIL;
            }
            CONTINUE
        } else if b == b'\n' {
            let resume = if self.digits > 0 {
                ST_CLEN_TAIL
            } else {
                ST_CLEN_NUM
            };
            self.line_end(resume)
        } else {
            self.fail(F_MALFORMED)
        }
    }

    /// Called when the `CSeq` method token ends: resolve it and check it
    /// against the request method.
    #[inline(always)]
    pub(super) fn finish_cseq_method(&mut self) -> Step {
        let cseq_method = method::from_packed(self.token, self.token_len, self.token_hash);
        if self.flags & F_RESPONSE == 0
            && (self.token != self.request_token
                || self.token_hash != self.request_token_hash
                || self.token_len != self.request_token_len)
        {
            return self.fail(F_MALFORMED);
        }
        self.method = cseq_method;
        CONTINUE
    }
}
