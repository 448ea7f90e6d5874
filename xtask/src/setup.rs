//! Idempotent installation of everything the build and the tests need.

use std::process::Command;

use anyhow::Result;

use crate::process::{exec, succeeds};

/// Pinned: newer bpf-linker releases need a newer toolchain than this one.
const BPF_LINKER_VERSION: &str = "0.10.0";
/// Pinned with the fuzz crate's libfuzzer-sys (fuzz/Cargo.toml); it builds
/// with the default toolchain, the fuzz target itself needs nightly.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const NIGHTLY: &str = "nightly";

/// Debian packages the tests and the testbed use.
const DEB_PACKAGES: &[&str] = &[
    "kamailio",
    "kamailio-sqlite-modules",
    "sip-tester",
    "tshark",
    "iproute2",
    "bpftool",
    // perf samples the benchmark's profile (JITed BPF programs by name).
    "linux-perf",
    "prometheus",
    "sqlite3",
    "procps",
    // curl, setpriv and unshare for the manifests' root tests.
    "curl",
    "util-linux",
    // Headless Chromium drives the web panel's page in its browser test
    // (DevTools protocol, no WebDriver) and takes the README's screenshot.
    "chromium",
];

/// `PyPI` packages for offline manifest validation.
const PIP_PACKAGES: &[&str] = &["kubernetes-validate", "checkov"];

#[derive(clap::Args)]
pub struct Options {
    /// Skip the Debian packages (for machines where they are managed otherwise).
    #[arg(long)]
    pub no_apt: bool,
}

pub fn run(opts: &Options) -> Result<()> {
    rust_components()?;
    bpf_linker()?;
    cargo_fuzz()?;
    if !opts.no_apt {
        debian_packages()?;
    }
    pip_packages()?;
    manifests_check::install_crd_schemas()?;
    Ok(())
}

/// Toolchain components: `rust-src` (the eBPF target is built from source)
/// and `rustfmt` on nightly (the aya `rustfmt.toml` uses unstable options),
/// `clippy` on the default toolchain (the lint step of `cargo xtask test`).
fn rust_components() -> Result<()> {
    for (toolchain, component) in [
        (NIGHTLY, "rust-src"),
        (NIGHTLY, "rustfmt"),
        (NIGHTLY, "clippy"),
        ("stable", "clippy"),
    ] {
        let installed = Command::new("rustup")
            .args(["component", "list", "--installed", "--toolchain", toolchain])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.starts_with(component))
            });
        if !installed {
            exec(Command::new("rustup").args([
                "component",
                "add",
                component,
                "--toolchain",
                toolchain,
            ]))?;
        }
    }
    Ok(())
}

fn bpf_linker() -> Result<()> {
    let current = Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION));
    if current {
        return Ok(());
    }
    exec(crate::process::cargo().args([
        "install",
        &format!("bpf-linker@{BPF_LINKER_VERSION}"),
        "--locked",
    ]))
}

/// `cargo fuzz` for the scanner's fuzz target (`cargo xtask fuzz`, and the
/// short run in `cargo xtask test`).
pub fn cargo_fuzz() -> Result<()> {
    let current = crate::process::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if current {
        return Ok(());
    }
    exec(crate::process::cargo().args([
        "install",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
        "--locked",
    ]))
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEB_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // tshark asks whether non-root users may capture; answer before it asks.
    exec(Command::new("sh").args([
        "-c",
        "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections",
    ]))?;
    exec(Command::new("apt-get").arg("update"))?;
    exec(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
    )
}

fn pip_packages() -> Result<()> {
    let missing: Vec<&str> = PIP_PACKAGES
        .iter()
        .copied()
        .filter(|p| !succeeds(Command::new("python3").args(["-m", "pip", "show", p])))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    exec(
        Command::new("python3")
            .args(["-m", "pip", "install", "--quiet"])
            .args(&missing),
    )
}
