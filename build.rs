//! Builds the exec shim (`src/shim/program.rs`) as a small, statically linked executable that dirk
//! embeds and serves to BuildKit, so execs need no help from the daemon's runtime.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rerun-if-changed=src/shim/program.rs");
    println!("cargo:rerun-if-changed=src/shim/protocol.rs");
    println!("cargo:rerun-if-changed=src/core/patterns.rs");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-name",
            "dirk_shim",
            "--target",
            &target,
        ])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "target-feature=+crt-static", "-C", "debuginfo=0"])
        .arg("-o")
        .arg(out.join("dirk-shim"))
        .arg("src/shim/program.rs")
        .status()
        .expect("running rustc for the exec shim");
    assert!(status.success(), "building the exec shim failed");
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "amd64",
        Ok("aarch64") => "arm64",
        Ok("x86") => "386",
        Ok(other) => other,
        Err(_) => "amd64",
    }
    .to_owned();
    println!("cargo:rustc-env=DIRK_SHIM_PLATFORM=linux/{arch}");
}
