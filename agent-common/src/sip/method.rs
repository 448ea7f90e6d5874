//! SIP methods as small codes: they key the pending map and index counters,
//! and map back to bounded label values.

pub const OTHER: u8 = 0;
pub const INVITE: u8 = 1;
pub const ACK: u8 = 2;
pub const BYE: u8 = 3;
pub const CANCEL: u8 = 4;
pub const REGISTER: u8 = 5;
pub const OPTIONS: u8 = 6;
pub const PRACK: u8 = 7;
pub const SUBSCRIBE: u8 = 8;
pub const NOTIFY: u8 = 9;
pub const PUBLISH: u8 = 10;
pub const INFO: u8 = 11;
pub const REFER: u8 = 12;
pub const MESSAGE: u8 = 13;
pub const UPDATE: u8 = 14;

/// Slots reserved per method in counter arrays (codes are `< METHOD_SLOTS`).
pub const METHOD_SLOTS: u32 = 16;

/// Label values, indexed by code. Unknown methods are "OTHER" so a client
/// inventing methods cannot grow the label set.
pub const NAMES: [&str; 15] = [
    "OTHER",
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

#[must_use]
pub const fn name(code: u8) -> &'static str {
    if (code as usize) < NAMES.len() {
        NAMES[code as usize]
    } else {
        "OTHER"
    }
}

/// First eight bytes of a token, little-endian, as the scanner accumulates it.
#[must_use]
pub const fn pack(token: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut i = 0;
    while i < token.len() && i < 8 {
        packed |= (token[i] as u64) << (8 * i);
        i += 1;
    }
    packed
}

/// (packed first 8 bytes, length, code). SUBSCRIBE is the only name longer
/// than 8; its length keeps it apart.
const TABLE: [(u64, u8, u8); 14] = [
    (pack(b"INVITE"), 6, INVITE),
    (pack(b"ACK"), 3, ACK),
    (pack(b"BYE"), 3, BYE),
    (pack(b"CANCEL"), 6, CANCEL),
    (pack(b"REGISTER"), 8, REGISTER),
    (pack(b"OPTIONS"), 7, OPTIONS),
    (pack(b"PRACK"), 5, PRACK),
    (pack(b"SUBSCRIBE"), 9, SUBSCRIBE),
    (pack(b"NOTIFY"), 6, NOTIFY),
    (pack(b"PUBLISH"), 7, PUBLISH),
    (pack(b"INFO"), 4, INFO),
    (pack(b"REFER"), 5, REFER),
    (pack(b"MESSAGE"), 7, MESSAGE),
    (pack(b"UPDATE"), 6, UPDATE),
];

/// Method code of a token (case-sensitive, RFC 3261 7.1).
#[inline(always)]
#[must_use]
pub fn from_packed(packed: u64, len: u8) -> u8 {
    let mut code = OTHER;
    // Fixed-size, fully unrolled by the kernel build.
    for (p, l, c) in TABLE {
        if p == packed && l == len {
            code = c;
        }
    }
    code
}

#[must_use]
pub fn from_token(token: &[u8]) -> u8 {
    from_packed(pack(token), u8::try_from(token.len()).unwrap_or(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for (code, name) in NAMES.iter().enumerate().skip(1) {
            assert_eq!(usize::from(from_token(name.as_bytes())), code, "{name}");
        }
    }

    #[test]
    fn methods_are_case_sensitive_and_exact() {
        assert_eq!(from_token(b"invite"), OTHER);
        assert_eq!(from_token(b"INVITEX"), OTHER);
        assert_eq!(from_token(b"SUBSCRIBEX"), OTHER);
        assert_eq!(from_token(b"NEWMETHOD"), OTHER);
    }
}
