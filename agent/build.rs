//! Build the kernel program with aya-build and leave it in `OUT_DIR` for
//! `include_bytes_aligned!`.

use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    let root_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../agent-ebpf");
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    if env::var_os("AYA_BUILD_SKIP").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        // Unprivileged builds without bpf-linker: an empty object the loader
        // rejects with a clear error.
        let out = PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| anyhow!("OUT_DIR not set"))?);
        fs::write(out.join("agent"), []).context("write stub eBPF object")?;
        return Ok(());
    }
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context("build agent-ebpf (run `cargo xtask setup` for the nightly rust-src and bpf-linker)")
}
