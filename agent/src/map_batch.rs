//! Batched reads and deletes of a BPF hash map: `BPF_MAP_LOOKUP_BATCH` and
//! `BPF_MAP_DELETE_BATCH` through `bpf(2)` on the map's fd (aya 0.14 has no
//! batch API).
//!
//! A per-key walk costs two syscalls per entry (`get_next_key`, then
//! `lookup`), each of which hashes the key again in the kernel; a batched
//! lookup copies whole buckets, thousands of entries per syscall, into
//! buffers this module keeps across calls (Linux 5.6+ for the LRU hash).
//!
//! Kernel semantics handled here (include/uapi/linux/bpf.h,
//! kernel/bpf/hashtab.c `__htab_map_lookup_and_delete_batch`,
//! kernel/bpf/syscall.c `generic_map_delete_batch`):
//! - the lookup's batch token is opaque: `in_batch` NULL starts the walk,
//!   `out_batch` is passed back as the next `in_batch` (for hash maps a u32
//!   bucket index);
//! - the end of the map is `ENOENT`, with `count` set to the entries that
//!   call still copied;
//! - a hash bucket is copied whole or not at all: `ENOSPC` with `count` 0
//!   means the next bucket holds more entries than the buffer, so the
//!   buffer grows and the same call is repeated;
//! - a batched delete stops at the first key it cannot delete, with `count`
//!   set to the keys deleted before it; for a key that is already gone
//!   (`ENOENT`: the kernel retired it meanwhile) the rest is deleted after
//!   it.

use std::{
    io,
    os::fd::{AsRawFd as _, BorrowedFd},
};

use aya::Pod;
use thiserror::Error;

/// `enum bpf_cmd` values (include/uapi/linux/bpf.h).
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// No hash bucket holds more entries than this; a map whose does is
/// reported, not read with ever larger buffers.
const MAX_CHUNK: usize = 1 << 20;

/// `union bpf_attr`'s `batch` struct, field for field.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

const _: () = assert!(size_of::<BatchAttr>() == 56);

#[derive(Debug, Error)]
pub enum BatchError {
    #[error("{call} failed")]
    Syscall {
        call: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("a hash bucket holds more than {MAX_CHUNK} entries")]
    BucketTooLarge,
}

/// `bpf(cmd, attr)`.
fn bpf(cmd: libc::c_long, attr: &mut BatchAttr) -> io::Result<()> {
    #[expect(clippy::cast_possible_truncation, reason = "56 bytes")]
    let size = size_of::<BatchAttr>() as libc::c_uint;
    // SAFETY: `attr` is an initialised `BatchAttr`, the layout of the
    // kernel's batch attributes, borrowed mutably for the whole call (the
    // kernel writes `count` back into it). Its pointers are set by the
    // callers to buffers that live across the call and have room for
    // `count` keys (and values, and one batch token) of the map's sizes;
    // the kernel writes nothing else. Bytes of `union bpf_attr` beyond
    // `size` are zero to the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_mut(attr), size) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn ptr<T>(p: *const T) -> u64 {
    p as usize as u64
}

fn fd_of(map: BorrowedFd<'_>) -> u32 {
    // An open fd is never negative.
    u32::try_from(map.as_raw_fd()).unwrap_or(u32::MAX)
}

/// A walk of a hash map with keys `K` and values `V` in batched lookups,
/// resumable between calls (the kernel's batch token is kept here), into
/// key and value buffers reused across walks: a walk allocates nothing
/// unless a bucket outgrows them.
pub struct Batches<K, V> {
    keys: Vec<K>,
    values: Vec<V>,
    /// Where the next lookup starts; `None`: at the map's start.
    token: Option<u64>,
}

impl<K: Pod + Default, V: Pod + Default> Batches<K, V> {
    /// Buffers for `chunk` entries per syscall. `K` and `V` must be the
    /// map's key and value types (aya's typed map checked their sizes).
    #[must_use]
    pub fn new(chunk: usize) -> Self {
        let chunk = chunk.clamp(1, MAX_CHUNK);
        Self {
            keys: vec![K::default(); chunk],
            values: vec![V::default(); chunk],
            token: None,
        }
    }

    /// The next [`Batches::step`] starts a new walk.
    pub fn restart(&mut self) {
        self.token = None;
    }

    /// One batched lookup of at most `limit` entries (at most the buffer's
    /// size; more only when one bucket holds more) from where the last one
    /// stopped; `f` is called with each entry. Returns the entries read and
    /// whether the walk reached the map's end (the next step starts over).
    /// Entries the kernel adds or removes during a walk may or may not be
    /// seen; none is seen twice (a bucket is copied whole, once).
    pub fn step(
        &mut self,
        map: BorrowedFd<'_>,
        limit: usize,
        mut f: impl FnMut(&K, &V),
    ) -> Result<(usize, bool), BatchError> {
        let mut want = limit.clamp(1, self.keys.len());
        loop {
            // The kernel's token for hash maps is a u32; room for a u64.
            let token = self.token.unwrap_or(0);
            let mut next: u64 = 0;
            let mut attr = BatchAttr {
                in_batch: if self.token.is_some() {
                    ptr(&raw const token)
                } else {
                    0
                },
                out_batch: ptr(&raw mut next),
                keys: ptr(self.keys.as_mut_ptr()),
                values: ptr(self.values.as_mut_ptr()),
                count: u32::try_from(want).unwrap_or(u32::MAX),
                map_fd: fd_of(map),
                ..BatchAttr::default()
            };
            let res = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
            let n = (attr.count as usize).min(want);
            if !matches!(&res, Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && n == 0) {
                for (k, v) in self.keys[..n].iter().zip(&self.values[..n]) {
                    f(k, v);
                }
            }
            match res {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    self.token = None;
                    return Ok((n, true));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && n == 0 => {
                    // The next bucket does not fit: more room, same token.
                    if want >= MAX_CHUNK {
                        self.token = None;
                        return Err(BatchError::BucketTooLarge);
                    }
                    want = (want * 2).min(MAX_CHUNK);
                    if want > self.keys.len() {
                        self.keys.resize(want, K::default());
                        self.values.resize(want, V::default());
                    }
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {}
                Err(source) => {
                    self.token = None;
                    return Err(BatchError::Syscall {
                        call: "BPF_MAP_LOOKUP_BATCH",
                        source,
                    });
                }
            }
            self.token = Some(next);
            return Ok((n, false));
        }
    }
}

/// Delete `keys` from `map`, as many per syscall as the kernel takes;
/// `deleted` is called with each key this call removed. Keys already gone
/// are skipped (a syscall each), so `deleted` counts only our deletes.
pub fn delete<K: Pod>(
    map: BorrowedFd<'_>,
    keys: &[K],
    mut deleted: impl FnMut(&K),
) -> Result<(), BatchError> {
    let mut rest = keys;
    while !rest.is_empty() {
        let want = rest.len().min(u32::MAX as usize);
        let mut attr = BatchAttr {
            keys: ptr(rest.as_ptr()),
            count: u32::try_from(want).unwrap_or(u32::MAX),
            map_fd: fd_of(map),
            ..BatchAttr::default()
        };
        let res = bpf(BPF_MAP_DELETE_BATCH, &mut attr);
        match res {
            Ok(()) => {
                rest[..want].iter().for_each(&mut deleted);
                rest = &rest[want..];
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // `rest[n]` was gone; the ones before it are deleted.
                let n = (attr.count as usize).min(want - 1);
                rest[..n].iter().for_each(&mut deleted);
                rest = &rest[n + 1..];
            }
            Err(source) => {
                return Err(BatchError::Syscall {
                    call: "BPF_MAP_DELETE_BATCH",
                    source,
                });
            }
        }
    }
    Ok(())
}
