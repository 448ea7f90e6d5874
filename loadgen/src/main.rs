//! siplat-loadgen: answer (`serve`) or send (`send`, `closed`) SIP request /
//! response pairs, bounded in count and time. Run each side in its own
//! network namespace (`ip netns exec`); the benchmark uses the library.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use loadgen::{ClosedLoop, Kind, OpenLoop, Responder, pace::Rate};

#[derive(Parser)]
#[command(
    name = "siplat-loadgen",
    about = "SIP request/response load over UDP (sendmmsg/recvmmsg)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer every request of KIND with its response, for at most --seconds.
    Serve {
        /// Payload kind.
        #[arg(long, value_enum, default_value = "invite")]
        kind: Kind,
        /// Address to answer on (default: the kind's port on every address).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Stop after this long.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Send --count requests at --rate (open loop) and count the responses.
    Send {
        /// Payload kind.
        #[arg(long, value_enum, default_value = "invite")]
        kind: Kind,
        /// Where the responder listens.
        #[arg(long)]
        to: SocketAddr,
        /// Messages per second (`2k`, `100k`, `max`).
        #[arg(long, default_value = "2k")]
        rate: Rate,
        /// Requests to send.
        #[arg(long, default_value_t = 2000)]
        count: u64,
        /// Stop sending after this many seconds whatever is left.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Keep --outstanding round trips in flight for --seconds.
    Closed {
        /// Payload kind.
        #[arg(long, value_enum, default_value = "invite")]
        kind: Kind,
        /// Where the responder listens.
        #[arg(long)]
        to: SocketAddr,
        /// Round trips in flight.
        #[arg(long, default_value_t = 64)]
        outstanding: usize,
        /// How long.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

fn first_id() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs() << 32
}

fn any(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

#[expect(
    clippy::print_stdout,
    reason = "the result line is the program's output"
)]
fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            kind,
            listen,
            seconds,
        } => {
            let limit = Duration::from_secs(seconds);
            let r = Responder::start(listen.unwrap_or_else(|| any(kind.port())), kind, limit)
                .context("start responder")?;
            std::thread::sleep(limit);
            println!("answered {}", r.stop());
        }
        Command::Send {
            kind,
            to,
            rate,
            count,
            seconds,
        } => {
            let report = OpenLoop {
                kind,
                rate,
                count,
                limit: Duration::from_secs(seconds),
                first_id: first_id(),
                to,
                from: any(0),
            }
            .run()
            .context("send")?;
            println!(
                "sent {} received {} in {:.3} s ({:.0}/s)",
                report.sent,
                report.received,
                report.send_seconds,
                report.rate()
            );
        }
        Command::Closed {
            kind,
            to,
            outstanding,
            seconds,
        } => {
            let report = ClosedLoop {
                kind,
                outstanding,
                duration: Duration::from_secs(seconds),
                first_id: first_id(),
                to,
                from: any(0),
            }
            .run()
            .context("closed loop")?;
            println!(
                "round trips {} in {:.3} s ({:.0}/s), lost {}",
                report.round_trips,
                report.seconds,
                report.rate(),
                report.lost
            );
        }
    }
    Ok(())
}
