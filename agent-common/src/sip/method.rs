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

/// (packed first 8 bytes, length, code). A name longer than 8 bytes
/// (SUBSCRIBE) is also checked against the hash of the whole token, or
/// every 9-byte token starting "SUBSCRIB" would count as SUBSCRIBE.
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

/// FNV-1a of "SUBSCRIBE", the one name whose first 8 bytes do not decide.
const SUBSCRIBE_HASH: u64 = super::hash::fnv1a(b"SUBSCRIBE");

/// Method code of a token (case-sensitive, RFC 3261 7.1): `packed` its first
/// 8 bytes, `len` its length, `hash` the FNV-1a of all of it. FNV-1a's last
/// step is a bijection of the last byte, so two tokens that share all but
/// their last byte never share a hash: the match is exact.
#[inline(always)]
#[must_use]
pub fn from_packed(packed: u64, len: u8, hash: u64) -> u8 {
    let mut code = OTHER;
    // Fixed-size, fully unrolled by the kernel build.
    for (p, l, c) in TABLE {
        if p == packed && l == len {
            code = c;
        }
    }
    if len > 8 && hash != SUBSCRIBE_HASH {
        code = OTHER;
    }
    code
}

#[must_use]
pub fn from_token(token: &[u8]) -> u8 {
    from_packed(
        pack(token),
        u8::try_from(token.len()).unwrap_or(u8::MAX),
        super::hash::fnv1a(token),
    )
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
        // Same first 8 bytes and length as SUBSCRIBE.
        assert_eq!(from_token(b"SUBSCRIBX"), OTHER);
        assert_eq!(from_token(b"SUBSCRIBe"), OTHER);
        assert_eq!(from_token(b"NEWMETHOD"), OTHER);
    }
}
