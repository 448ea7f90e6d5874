//! Call-ID hashing. FNV-1a 64 is byte-at-a-time, so the kernel can hash while
//! it scans without buffering the value; offline tools recompute it from a
//! capture's Call-ID to join samples with packets.

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline(always)]
#[must_use]
pub const fn fnv1a_step(hash: u64, byte: u8) -> u64 {
    (hash ^ byte as u64).wrapping_mul(FNV_PRIME)
}

/// FNV-1a of every byte of `bytes`, as the scanner hashes a token.
#[must_use]
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut i = 0;
    while i < bytes.len() {
        hash = fnv1a_step(hash, bytes[i]);
        i += 1;
    }
    hash
}

/// Hash of a Call-ID value as the scanner computes it: whitespace is not part
/// of a Call-ID (RFC 3261 `callid = word [ "@" word ]`), so it is skipped.
#[must_use]
pub fn call_id_hash(value: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b != b' ' && b != b'\t' && b != b'\r' && b != b'\n' {
            hash = fnv1a_step(hash, b);
        }
        i += 1;
    }
    hash
}
