//! Fail early with a clear message when the BPF linker is missing, instead of
//! an obscure link error deep in the aya-build output.
fn main() {
    let linker = which::which("bpf-linker");
    println!("cargo:rerun-if-env-changed=PATH");
    if linker.is_err() {
        println!("cargo:warning=bpf-linker not found: run `cargo xtask setup`");
    }
}
