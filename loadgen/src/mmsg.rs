//! `sendmmsg` / `recvmmsg` over a UDP socket: one system call per batch of
//! up to [`crate::BATCH`] datagrams, so the generator costs the machine
//! little next to what it measures.

use std::{io, mem, net::UdpSocket, os::fd::AsRawFd as _, ptr, time::Duration};

use crate::{Error, Result};

/// Receive buffers and source addresses for one `recvmmsg` call.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    addr_lens: Vec<libc::socklen_t>,
}

impl RecvBatch {
    #[must_use]
    pub fn new(batch: usize, size: usize) -> Self {
        Self {
            bufs: vec![vec![0; size]; batch],
            // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
            addrs: vec![unsafe { mem::zeroed() }; batch],
            lens: vec![0; batch],
            addr_lens: vec![0; batch],
        }
    }

    /// Wait for at least one datagram (up to the socket's receive timeout)
    /// and take what else is queued, up to the batch. `Ok(0)` on timeout.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let n = self.bufs.len();
        let mut iovs = iovecs(&mut self.bufs);
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.addrs.iter_mut())
            .map(|(iov, addr)| {
                // SAFETY: msghdr is plain data; all zeroes is valid.
                let mut h: libc::mmsghdr = unsafe { mem::zeroed() };
                h.msg_hdr.msg_iov = ptr::from_mut(iov);
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_name = ptr::from_mut(addr).cast();
                h.msg_hdr.msg_namelen = socklen::<libc::sockaddr_storage>();
                h
            })
            .collect();
        // SAFETY: hdrs points at iovs, buffers and addresses that outlive the call.
        let got = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                u32::try_from(n).unwrap_or(u32::MAX),
                libc::MSG_WAITFORONE,
                ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let got = usize::try_from(got).unwrap_or(0);
        for (i, h) in hdrs.iter().take(got).enumerate() {
            self.lens[i] = h.msg_len as usize;
            self.addr_lens[i] = h.msg_hdr.msg_namelen;
        }
        Ok(got)
    }

    /// Datagram `i` of the last call.
    #[must_use]
    pub fn data(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// Source address of datagram `i`, and its length, to answer it.
    #[must_use]
    pub fn addr(&self, i: usize) -> (&libc::sockaddr_storage, libc::socklen_t) {
        (&self.addrs[i], self.addr_lens[i])
    }
}

/// Send `bufs` in one `sendmmsg` (to `dest[i]` each, or to the connected
/// peer when `dest` is empty); returns how many went (all of them unless
/// the call was cut short).
pub fn send(
    sock: &UdpSocket,
    bufs: &mut [Vec<u8>],
    dest: &[(libc::sockaddr_storage, libc::socklen_t)],
) -> io::Result<usize> {
    let mut iovs = iovecs(bufs);
    let mut hdrs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .enumerate()
        .map(|(i, iov)| {
            // SAFETY: msghdr is plain data; all zeroes is valid.
            let mut h: libc::mmsghdr = unsafe { mem::zeroed() };
            h.msg_hdr.msg_iov = ptr::from_mut(iov);
            h.msg_hdr.msg_iovlen = 1;
            if let Some((addr, len)) = dest.get(i) {
                h.msg_hdr.msg_name = ptr::from_ref(addr).cast_mut().cast();
                h.msg_hdr.msg_namelen = *len;
            }
            h
        })
        .collect();
    let mut done = 0;
    while done < hdrs.len() {
        // SAFETY: hdrs points at iovs, buffers and addresses that outlive the call.
        let sent = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs[done..].as_mut_ptr(),
                u32::try_from(hdrs.len() - done).unwrap_or(u32::MAX),
                0,
            )
        };
        if sent < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // A full device queue: the datagram is lost, as on a wire.
                Some(libc::ENOBUFS | libc::ECONNREFUSED) => {
                    done += 1;
                    continue;
                }
                _ => return Err(e),
            }
        }
        done += usize::try_from(sent).unwrap_or(0);
    }
    Ok(done)
}

/// A UDP socket for the generator: bound to `addr`, large buffers (the
/// forced variants as root, so a burst is not lost to the default 200 kB),
/// and a receive timeout so loops can check their deadline.
pub fn socket(addr: std::net::SocketAddr, timeout: Duration) -> Result<UdpSocket> {
    let sock = UdpSocket::bind(addr).map_err(|source| Error::Socket {
        what: "bind",
        source,
    })?;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let size: libc::c_int = 16 << 20;
        // SAFETY: setsockopt with an int option on our socket.
        let ok = unsafe { setsockopt(&sock, force, size) } == 0;
        if !ok {
            // SAFETY: as above.
            let _ = unsafe { setsockopt(&sock, plain, size) };
        }
    }
    sock.set_read_timeout(Some(timeout))
        .map_err(|source| Error::Socket {
            what: "set receive timeout",
            source,
        })?;
    Ok(sock)
}

unsafe fn setsockopt(sock: &UdpSocket, opt: libc::c_int, value: libc::c_int) -> libc::c_int {
    // SAFETY: the caller passes an int-valued SOL_SOCKET option.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            ptr::from_ref(&value).cast(),
            socklen::<libc::c_int>(),
        )
    }
}

/// One iovec over each buffer, for `recvmmsg` and `sendmmsg`.
fn iovecs(bufs: &mut [Vec<u8>]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect()
}

fn socklen<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(mem::size_of::<T>()).unwrap_or(0)
}
