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
    session_methods(&out);
}

/// Writes `session_methods.rs`: every gRPC method of the session services defined in
/// `proto/session`, as `(service, full method path)`, read from the definitions' `service` blocks.
fn session_methods(out: &std::path::Path) {
    let files = [
        "grpc/health/v1/health.proto",
        "moby/filesync/v1/filesync.proto",
        "moby/filesync/v1/auth.proto",
        "moby/buildkit/v1/secrets.proto",
        "moby/buildkit/v1/ssh.proto",
    ];
    let mut table = String::from("&[\n");
    for file in files {
        let path = format!("proto/session/{file}");
        println!("cargo:rerun-if-changed={path}");
        let text =
            std::fs::read_to_string(&path).expect("the vendored session protos are readable");
        // Comments out, so that `service` and `rpc` in them do not count.
        let text: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let package = text
            .split(';')
            .find_map(|stmt| stmt.trim().strip_prefix("package "))
            .map(|p| p.trim().to_owned())
            .expect("every session proto names its package");
        // A service is declared at the start of a line (a field may be named `service` too).
        let mut rest = text.as_str();
        while let Some(at) = rest.find("\nservice ") {
            rest = &rest[at + "\nservice ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let body_start = rest.find('{').expect("a service has a body");
            let body_end = rest.find('}').expect("a service body ends");
            for stmt in rest[body_start + 1..body_end].split(';') {
                if let Some(rpc) = stmt.trim().strip_prefix("rpc ") {
                    let method: String = rpc
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    table.push_str(&format!(
                        "    (\"{package}.{name}\", \"/{package}.{name}/{method}\"),\n"
                    ));
                }
            }
            rest = &rest[body_end..];
        }
    }
    table.push(']');
    std::fs::write(out.join("session_methods.rs"), table).expect("writing session_methods.rs");
}
