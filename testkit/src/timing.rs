//! Keeps the scheduler out of synthetic latency tests.
//!
//! The agent stamps a packet when it crosses the hook; a test thread learns
//! of it only when the scheduler wakes it, and its own clock reading after
//! `send` can be late if it is preempted. On a loaded 2-vCPU CI box either
//! can be milliseconds (CI once saw an XDP P99 2.4 ms above what the test
//! thought it produced). So the delays a synthetic proxy "produces" start at
//! the kernel's arrival time (`SO_TIMESTAMPNS`), the proxy thread runs
//! `SCHED_FIFO`, and a send is bracketed by clock reads ([`timed`]): on
//! veths the sending syscall also carries the peer's receive path, so even
//! a real-time thread can return milliseconds after its packet crossed the
//! hook (CI saw 4.8 ms).

use std::{
    mem::{size_of, zeroed},
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::{AsRawFd, RawFd},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Makes the calling thread real-time (`SCHED_FIFO`), so ordinary load
/// neither delays its wake-up nor preempts it between `send` and reading
/// the clock. Tests run as root, so this cannot be refused.
pub fn prompt_thread() {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: 0 is the calling thread; param is a valid sched_param.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const param) };
    assert_eq!(rc, 0, "SCHED_FIFO: {}", std::io::Error::last_os_error());
}

/// Asks the kernel to stamp every packet queued to `sock` from now on.
pub fn enable(sock: &impl AsRawFd) {
    let on: libc::c_int = 1;
    // SAFETY: valid fd, option value points at a live c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const on).cast(),
            socklen(size_of::<libc::c_int>()),
        )
    };
    assert_eq!(rc, 0, "SO_TIMESTAMPNS: {}", std::io::Error::last_os_error());
}

/// When, after the packet's arrival, its answer left (seconds): somewhere
/// between the clock read just before the send and the one just after. On a
/// busy machine the thread can be preempted around the syscall for
/// milliseconds, so one clock read would blame the agent for the scheduler.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub lo: f64,
    pub hi: f64,
}

/// Sends with `send` and brackets the moment with clock reads against `t0`.
pub fn timed(t0: Instant, send: impl FnOnce()) -> Span {
    let lo = t0.elapsed().as_secs_f64();
    send();
    Span {
        lo,
        hi: t0.elapsed().as_secs_f64(),
    }
}

/// `later`, measured from the arrival at `at_later`, as a delay since the
/// earlier arrival `t0`.
#[must_use]
pub fn since(t0: Instant, later: Span, at_later: Instant) -> Span {
    let offset = at_later.duration_since(t0).as_secs_f64();
    Span {
        lo: offset + later.lo,
        hi: offset + later.hi,
    }
}

/// One datagram or stream read: payload length, sender (datagram sockets)
/// and when the kernel received it, on the monotonic clock of `Instant`.
pub fn recv(sock: &impl AsRawFd, buf: &mut [u8]) -> (usize, Option<SocketAddr>, Instant) {
    let fd: RawFd = sock.as_raw_fd();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: plain C structs, all-zero is a valid value.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut control = [0u64; 16];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&raw mut name).cast();
    msg.msg_namelen = socklen(size_of::<libc::sockaddr_storage>());
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 16]>();
    // SAFETY: every pointer in msg refers to a live buffer of the stated size.
    let n = unsafe { libc::recvmsg(fd, &raw mut msg, 0) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // Read both clocks back to back so the conversion error stays in the
    // microseconds, far below the 1 ms the test allows.
    let (now_mono, now_real) = (Instant::now(), SystemTime::now());
    let stamp = kernel_stamp(&msg)
        .expect("no SCM_TIMESTAMPNS: call timing::enable before the packet arrives");
    let age = now_real.duration_since(stamp).unwrap_or(Duration::ZERO);
    let n = usize::try_from(n).expect("checked non-negative");
    (
        n,
        sockaddr(&name, msg.msg_namelen),
        now_mono.checked_sub(age).unwrap_or(now_mono),
    )
}

fn socklen(n: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(n).expect("small struct")
}

fn kernel_stamp(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: msg was filled by recvmsg; the CMSG macros walk its control buffer.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null cmsg inside the control buffer.
        let h = unsafe { &*cmsg };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: SCM_TIMESTAMPNS carries one struct timespec (maybe unaligned).
            let ts: libc::timespec =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            let (secs, nanos) = (
                u64::try_from(ts.tv_sec).ok()?,
                u32::try_from(ts.tv_nsec).ok()?,
            );
            return Some(UNIX_EPOCH + Duration::new(secs, nanos));
        }
        // SAFETY: as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}

fn sockaddr(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: family says sockaddr_in, and the kernel wrote that many bytes.
            let a: &libc::sockaddr_in = unsafe { &*(&raw const *s).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above for sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(&raw const *s).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
