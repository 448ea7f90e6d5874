//! The namespace guard against the real kernel: created with loopback up,
//! a crashed run's leftover replaced, veths that carry traffic at once, a
//! thread that enters it, and nothing left after drop.

use std::{net::UdpSocket, process::Stdio, time::Duration};

use testkit::{Netns, eventually, privileged, veth};

/// `ip netns exec` enters the namespace after `spawn` returns; a check
/// before that sees no process and would race the kernel.
fn entered(child: &std::process::Child, ns: &str) -> bool {
    eventually(Duration::from_secs(5), || {
        netns::pids(ns).contains(&child.id())
    })
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn guard_creates_connects_enters_and_removes() {
    if !privileged("guard_creates_connects_enters_and_removes") {
        return;
    }
    let a = Netns::new("stk-guard-a");
    let b = Netns::new("stk-guard-b");
    assert!(netns::exists("stk-guard-a") && netns::exists("stk-guard-b"));
    assert!(
        a.exec(&["ip", "link", "show", "lo"]).contains("UP"),
        "lo up"
    );
    veth(&a, "stk0", "198.18.60.1/24", &b, "stk1", "198.18.60.2/24");
    a.ip(&["addr", "add", "2001:2:0:60::1/64", "dev", "stk0", "nodad"]);
    // IPv6 without duplicate address detection: bindable at once.
    b.ip(&["addr", "add", "2001:2:0:60::2/64", "dev", "stk1", "nodad"]);

    for (here, there) in [
        ("198.18.60.2:5060", "198.18.60.1:0"),
        ("[2001:2:0:60::2]:5060", "[2001:2:0:60::1]:0"),
    ] {
        let server = b.run(move || {
            let s = UdpSocket::bind(here).expect("bind in b");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 64];
            let (n, peer) = s.recv_from(&mut buf).expect("datagram");
            s.send_to(&buf[..n], peer).expect("echo");
        });
        std::thread::sleep(Duration::from_millis(100));
        let echoed = a
            .run(move || {
                let s = UdpSocket::bind(there).expect("bind in a");
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                s.send_to(b"stk", here).expect("send");
                let mut buf = [0u8; 64];
                let n = s.recv(&mut buf).expect("echo back");
                buf[..n].to_vec()
            })
            .join()
            .expect("client");
        server.join().expect("server");
        assert_eq!(echoed, b"stk");
    }
    // The address is not visible from the root namespace.
    assert!(UdpSocket::bind("198.18.60.1:0").is_err());

    // Something still running inside goes with the namespace.
    let mut sleeper = netns::command("stk-guard-b", "sleep")
        .arg("60")
        .stdout(Stdio::null())
        .spawn()
        .expect("sleep in b");
    assert!(
        entered(&sleeper, "stk-guard-b"),
        "the sleeper never entered b"
    );
    drop(b);
    assert!(!netns::exists("stk-guard-b"));
    let status = sleeper.wait().expect("wait sleeper");
    assert!(!status.success(), "killed, not finished: {status}");
    // Its veth went too, so the peer in a goes (the kernel tears a
    // namespace down in the background).
    assert!(
        eventually(Duration::from_secs(5), || !a
            .exec(&["ip", "link", "show"])
            .contains("stk0")),
        "the peer of a deleted namespace's veth stayed"
    );
    drop(a);
    assert!(!netns::exists("stk-guard-a"));
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn a_crashed_runs_namespace_is_replaced() {
    if !privileged("a_crashed_runs_namespace_is_replaced") {
        return;
    }
    // What a crashed run leaves: the namespace, an interface, a process.
    netns::create("stk-stale").expect("create");
    netns::ip(
        "stk-stale",
        &[
            "link", "add", "stk-old", "type", "veth", "peer", "name", "stk-old1",
        ],
    )
    .expect("veth");
    let mut left = netns::command("stk-stale", "sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    assert!(entered(&left, "stk-stale"), "the leftover never entered");
    let ns = Netns::new("stk-stale");
    assert!(
        !ns.exec(&["ip", "link", "show"]).contains("stk-old"),
        "the old namespace was kept"
    );
    assert!(
        !left.wait().expect("wait").success(),
        "its process was killed"
    );
    assert!(netns::pids("stk-stale").is_empty());
    drop(ns);
    assert!(!netns::exists("stk-stale"));
    // Deleting what is gone is fine (the crash sweep runs it blindly).
    netns::delete("stk-stale");
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn entering_a_namespace_moves_only_that_thread() {
    if !privileged("entering_a_namespace_moves_only_that_thread") {
        return;
    }
    let guard = netns::NetNs::new("stk-enter").expect("create");
    guard
        .ip(&["addr", "add", "198.18.61.1/32", "dev", "lo"])
        .expect("addr");
    let inside = netns::spawn(guard.name(), || UdpSocket::bind("198.18.61.1:0").is_ok())
        .join()
        .expect("thread")
        .expect("enter");
    assert!(inside, "the thread did not enter the namespace");
    assert!(
        UdpSocket::bind("198.18.61.1:0").is_err(),
        "the calling thread moved too"
    );
    let err = netns::ip(guard.name(), &["link", "set", "stk-none", "up"]).expect_err("no device");
    assert!(err.to_string().contains("stk-none"), "{err}");
}
