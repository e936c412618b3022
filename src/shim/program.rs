//! dirk's exec shim: the first process of every exec dirk runs on BuildKit.
//!
//! It runs the user's command, copies its standard output and error both to its own (so the daemon's
//! progress stream shows them) and into files of the meta mount, records the exit code there, and exits
//! with that code so that a failing command fails the build step. A stock BuildKit needs nothing else
//! for dirk's `stdout`, `stderr` and exit codes. This file is compiled on its own, statically, with
//! nothing but the standard library, so that it runs in images that have no libc.

use std::env;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::thread;

include!("protocol.rs");

#[path = "../core/patterns.rs"]
#[allow(dead_code)]
mod patterns;

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == APPLY_ARG) {
        return match diff::apply(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dirk apply: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().is_some_and(|a| a == SELECT_ARG) {
        return match select::run(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dirk select: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().is_some_and(|a| a == DIFF_ARG) {
        return match diff::run(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dirk diff: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let no_fail = env::var_os(ENV_NO_FAIL).is_some();
    let code = run(&args);
    let _ = std::fs::write(Path::new(META_DIR).join(META_EXIT_CODE), code.to_string());
    if no_fail { ExitCode::SUCCESS } else { ExitCode::from(code.clamp(0, 255) as u8) }
}

/// Reads the secrets dirk mounted for this exec: the variables to set from secret files, and every
/// secret value to mask in output (longest first, so that overlapping values are covered).
fn read_secrets() -> Result<(Vec<(String, OsString)>, Vec<Vec<u8>>), String> {
    let mut vars = Vec::new();
    let mut values = Vec::new();
    for line in env::var(ENV_SECRET_ENV).unwrap_or_default().lines().filter(|l| !l.is_empty()) {
        let (name, path) = line.split_once('=').ok_or_else(|| format!("malformed secret variable spec {line:?}"))?;
        let value = std::fs::read(path).map_err(|e| format!("secret variable {name} is unreadable: {e}"))?;
        values.push(value.clone());
        vars.push((name.to_owned(), OsString::from_vec(value)));
    }
    for path in env::var(ENV_SECRET_FILES).unwrap_or_default().lines().filter(|l| !l.is_empty()) {
        if let Ok(value) = std::fs::read(path) {
            values.push(value);
        }
    }
    values.retain(|v| !v.is_empty());
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    Ok((vars, values))
}

fn run(args: &[OsString]) -> i32 {
    let meta = Path::new(META_DIR);
    let Some((program, rest)) = args.split_first() else {
        let _ = std::fs::write(meta.join(META_STDERR), "no command given\n");
        eprintln!("no command given");
        return 2;
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    for var in [ENV_NO_FAIL, ENV_REDIRECT_STDOUT, ENV_REDIRECT_STDERR, ENV_SECRET_ENV, ENV_SECRET_FILES, ENV_USER, ENV_SERVICE_PORTS, ENV_CACHE_VOLUMES] {
        cmd.env_remove(var);
    }
    let secrets = match read_secrets() {
        Ok((vars, values)) => {
            cmd.envs(vars);
            values
        }
        Err(msg) => {
            let msg = format!("{msg}\n");
            let _ = std::fs::write(meta.join(META_STDERR), &msg);
            let _ = io::stderr().write_all(msg.as_bytes());
            return 126;
        }
    };
    if let Some(spec) = env::var(ENV_USER).ok().filter(|u| !u.is_empty()) {
        match resolve_user(&spec) {
            Ok((uid, gid)) => {
                use std::os::unix::process::CommandExt;
                // Dropping from root also clears supplementary groups.
                cmd.uid(uid).gid(gid);
            }
            Err(msg) => {
                let msg = format!("unable to find user {spec}: {msg}\n");
                let _ = std::fs::write(meta.join(META_STDERR), &msg);
                let _ = io::stderr().write_all(msg.as_bytes());
                return 126;
            }
        }
    }
    cmd.stdin(match File::open(meta.join(META_STDIN)) {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());

    let open_sinks = |meta_name: &str, redirect_var: &str| -> Vec<File> {
        let mut sinks: Vec<File> = File::create(meta.join(meta_name)).into_iter().collect();
        if let Some(path) = env::var_os(redirect_var).filter(|p| !p.is_empty()) {
            match File::create(&path) {
                Ok(f) => sinks.push(f),
                Err(e) => eprintln!("cannot redirect to {}: {e}", Path::new(&path).display()),
            }
        }
        sinks
    };
    let mut out_sinks = open_sinks(META_STDOUT, ENV_REDIRECT_STDOUT);
    let mut err_sinks = open_sinks(META_STDERR, ENV_REDIRECT_STDERR);

    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let (msg, code) = match e.kind() {
                io::ErrorKind::NotFound => (format!("exec: {:?}: executable file not found in $PATH\n", program), 127),
                io::ErrorKind::PermissionDenied => (format!("exec: {:?}: permission denied\n", program), 126),
                _ => (format!("exec: {:?}: {e}\n", program), 126),
            };
            for s in &mut err_sinks {
                let _ = s.write_all(msg.as_bytes());
            }
            let _ = io::stderr().write_all(msg.as_bytes());
            return code;
        }
    };
    let service = env::var_os(ENV_SERVICE_PORTS).map(|ports| service::Readiness::start(&ports.to_string_lossy()));
    let out = child.stdout.take().map(|r| {
        let secrets = secrets.clone();
        thread::spawn(move || tee(r, io::stdout(), &mut out_sinks, &secrets))
    });
    let err = child.stderr.take().map(|r| thread::spawn(move || tee(r, io::stderr(), &mut err_sinks, &secrets)));
    for t in [out, err].into_iter().flatten() {
        let _ = t.join();
    }
    let code = match child.wait() {
        Ok(status) => status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        Err(_) => 1,
    };
    if let Some(service) = service {
        service.exited(code);
    }
    code
}

/// A service's readiness: the shim finds the address the service is reachable at, waits until each
/// exposed TCP port accepts connections there, and reports both to dirk through the socket at
/// [`SERVICE_READY_SOCKET`]. UDP ports cannot be probed: a started command counts as ready on them.
mod service {
    use super::{META_DIR, META_STDERR, META_STDOUT, SERVICE_READY_SOCKET};
    use std::io::Write;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::Duration;

    pub struct Readiness {
        channel: Arc<Mutex<Option<UnixStream>>>,
        done: Arc<AtomicBool>,
    }

    /// The address other containers reach this one at: the source address of its default route
    /// (no packet is sent), or loopback when it has none.
    fn own_address() -> IpAddr {
        ["192.0.2.1:9", "[2001:db8::1]:9"]
            .iter()
            .find_map(|target| {
                let bind = if target.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" };
                let sock = UdpSocket::bind(bind).ok()?;
                sock.connect(target).ok()?;
                sock.local_addr().ok().map(|a| a.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn send(channel: &Mutex<Option<UnixStream>>, line: &str) {
        if let Ok(mut guard) = channel.lock() {
            if let Some(stream) = guard.as_mut() {
                let _ = stream.write_all(line.as_bytes());
                let _ = stream.flush();
            }
        }
    }

    impl Readiness {
        /// Starts watching the ports in `ports` (`PORT/tcp PORT/udp ...`).
        pub fn start(ports: &str) -> Readiness {
            let stream = (0..20).find_map(|_| {
                UnixStream::connect(SERVICE_READY_SOCKET).ok().or_else(|| {
                    thread::sleep(Duration::from_millis(50));
                    None
                })
            });
            let channel = Arc::new(Mutex::new(stream));
            let done = Arc::new(AtomicBool::new(false));
            let tcp: Vec<u16> = ports
                .split_whitespace()
                .filter_map(|p| p.strip_suffix("/tcp"))
                .filter_map(|p| p.parse().ok())
                .collect();
            let (ch, dn) = (channel.clone(), done.clone());
            thread::spawn(move || {
                let ip = own_address();
                send(&ch, &format!("addr {ip}\n"));
                for port in tcp {
                    let target = SocketAddr::new(ip, port);
                    let mut pause = Duration::from_millis(10);
                    loop {
                        if dn.load(Ordering::SeqCst) {
                            return;
                        }
                        if TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok() {
                            break;
                        }
                        thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(250));
                    }
                }
                if !dn.swap(true, Ordering::SeqCst) {
                    send(&ch, "ready\n");
                }
            });
            Readiness { channel, done }
        }

        /// The command ended with `code`: when it was not ready yet, say so with its last output.
        pub fn exited(self, code: i32) {
            if self.done.swap(true, Ordering::SeqCst) {
                return;
            }
            let mut report = format!("exit {code}\n");
            for name in [META_STDOUT, META_STDERR] {
                let text = std::fs::read(Path::new(META_DIR).join(name)).unwrap_or_default();
                let start = text.len().saturating_sub(2048);
                report.push_str(&String::from_utf8_lossy(&text[start..]));
            }
            send(&self.channel, &report);
        }
    }
}

/// Looks `name` up in a colon-separated database (`/etc/passwd`, `/etc/group`): its fields.
fn lookup(db: &str, name: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(db).ok()?;
    text.lines().map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>()).find(|f| f.first().map(String::as_str) == Some(name))
}

/// Resolves `user[:group]` (names or ids) against the container's own user databases.
fn resolve_user(spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => {
            let gid = std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|t| t.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.get(2).and_then(|v| v.parse::<u32>().ok()) == Some(uid)).and_then(|f| f.get(3).and_then(|g| g.parse().ok())))
                .unwrap_or(0);
            (uid, gid)
        }
        Err(_) => {
            let fields = lookup("/etc/passwd", user).ok_or_else(|| "no matching entries in passwd file".to_owned())?;
            let uid = fields.get(2).and_then(|v| v.parse().ok()).ok_or_else(|| "malformed passwd entry".to_owned())?;
            let gid = fields.get(3).and_then(|v| v.parse().ok()).unwrap_or(0);
            (uid, gid)
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup("/etc/group", g).and_then(|f| f.get(2).and_then(|v| v.parse().ok())).ok_or_else(|| format!("no group {g} in group file"))?,
        },
    };
    Ok((uid, gid))
}

/// Copies `from` to the live stream and to every sink, with secret values replaced by `***`.
fn tee(mut from: impl Read, mut live: impl Write, sinks: &mut [File], secrets: &[Vec<u8>]) {
    let mut all = Vec::new();
    let mut buf = [0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if secrets.is_empty() {
                    let _ = live.write_all(&buf[..n]);
                    let _ = live.flush();
                    for s in sinks.iter_mut() {
                        let _ = s.write_all(&buf[..n]);
                    }
                } else {
                    // Secrets may straddle reads: hold everything and scrub once at the end.
                    all.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if !secrets.is_empty() {
        let clean = scrub(&all, secrets);
        let _ = live.write_all(&clean);
        for s in sinks.iter_mut() {
            let _ = s.write_all(&clean);
        }
    }
}

fn scrub(data: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    'outer: while i < data.len() {
        for s in secrets {
            if data[i..].starts_with(s) {
                out.extend_from_slice(SECRET_MASK.as_bytes());
                i += s.len();
                continue 'outer;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// `Directory.diff` on daemons without a diff op: what changed from one tree to another, as files.
mod diff {
    use std::ffi::OsString;
    use std::fs::{self, File, Metadata};
    use std::io::{self, Read};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    pub fn run(args: &[OsString]) -> Result<(), String> {
        let (lower, upper, out, layer) = match args {
            [lower, upper, out] => (lower, upper, out, false),
            [lower, upper, out, opt] if opt == super::LAYER_OPT => (lower, upper, out, true),
            _ => return Err(format!("usage: --dirk-diff LOWER UPPER OUT [{}]", super::LAYER_OPT)),
        };
        let (lower, upper, out) = (Path::new(lower), Path::new(upper), Path::new(out));
        let mode = Mode { layer };
        walk(lower, upper, out, Path::new(""), mode).map_err(|e| e.to_string())?;
        if layer {
            whiteouts(lower, upper, out, Path::new("")).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// How a diff is taken: as `Directory.diff` does (contents compared), or as an image layer
    /// (deletions become whiteouts; a file with the same size and modification time as below is
    /// taken as unchanged, as image builders do).
    #[derive(Clone, Copy)]
    struct Mode {
        layer: bool,
    }

    /// Marks in `out` what `lower` has and `upper` lacks: `.wh.NAME` beside where NAME was, or,
    /// for a directory none of whose entries are left (it was replaced or emptied), one opaque
    /// marker in it (everything it holds now is new, so `walk` put all of it in the layer).
    fn whiteouts(lower: &Path, upper: &Path, out: &Path, rel: &Path) -> io::Result<()> {
        for name in sorted_names(&lower.join(rel))? {
            let rel = rel.join(&name);
            let (l, u) = (lower.join(&rel), upper.join(&rel));
            match fs::symlink_metadata(&u) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    make_parents(upper, out, &rel)?;
                    let mut marker = OsString::from(WHITEOUT);
                    marker.push(&name);
                    let parent = rel.parent().unwrap_or(Path::new(""));
                    File::create(out.join(parent).join(marker))?;
                }
                Err(e) => return Err(e),
                Ok(um) => {
                    if um.is_dir() && fs::symlink_metadata(&l)?.is_dir() {
                        if replaced(&l, &u)? {
                            let marker = rel.join(OPAQUE);
                            make_parents(upper, out, &marker)?;
                            File::create(out.join(marker))?;
                        } else {
                            whiteouts(lower, upper, out, &rel)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether directory `upper` keeps none of the entries directory `lower` had (and `lower` had
    /// some): the directory was replaced or emptied.
    fn replaced(lower: &Path, upper: &Path) -> io::Result<bool> {
        let mut had_any = false;
        for entry in fs::read_dir(lower)? {
            had_any = true;
            if fs::symlink_metadata(upper.join(entry?.file_name())).is_ok() {
                return Ok(false);
            }
        }
        Ok(had_any)
    }

    /// The names in directory `dir`, sorted.
    pub(crate) fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
        let mut names: Vec<OsString> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        Ok(names)
    }

    /// Removes whatever is at `path` (a directory with everything in it), if anything.
    fn remove(path: &Path) -> io::Result<()> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn apply(args: &[OsString]) -> Result<(), String> {
        let [layer, target] = args else {
            return Err("usage: --dirk-apply LAYER TARGET".into());
        };
        apply_dir(Path::new(layer), Path::new(target), Path::new("")).map_err(|e| e.to_string())
    }

    const WHITEOUT: &str = ".wh.";
    const OPAQUE: &str = ".wh..wh..opq";

    fn apply_dir(layer: &Path, target: &Path, rel: &Path) -> io::Result<()> {
        let names = sorted_names(&layer.join(rel))?;
        // An opaque directory hides everything the lower layers had in it.
        if names.iter().any(|n| n == OPAQUE) {
            for entry in fs::read_dir(target.join(rel))? {
                remove(&entry?.path())?;
            }
        }
        for name in names {
            let text = name.to_string_lossy();
            if text == OPAQUE {
                continue;
            }
            if let Some(hidden) = text.strip_prefix(WHITEOUT) {
                remove(&target.join(rel).join(hidden))?;
                continue;
            }
            let rel = rel.join(&name);
            let (from, to) = (layer.join(&rel), target.join(&rel));
            let meta = fs::symlink_metadata(&from)?;
            if meta.is_dir() {
                if !fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                    remove(&to)?;
                    fs::create_dir(&to)?;
                }
                apply_dir(layer, target, &rel)?;
                copy_meta(&to, &meta)?;
                continue;
            }
            remove(&to)?;
            copy_entry(&from, &to, &meta)?;
        }
        Ok(())
    }

    /// Copies the file or symlink `from` (described by `meta`) to `to`, owner, mode and time kept.
    /// Devices, sockets and pipes cannot be recreated without privileges: they are left out.
    pub(crate) fn copy_entry(from: &Path, to: &Path, meta: &Metadata) -> io::Result<()> {
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        } else if meta.is_file() {
            fs::copy(from, to)?;
        } else {
            return Ok(());
        }
        copy_meta(to, meta)
    }

    fn same_meta(a: &Metadata, b: &Metadata) -> bool {
        a.file_type() == b.file_type() && a.mode() == b.mode() && a.uid() == b.uid() && a.gid() == b.gid()
    }

    fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
        let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
        let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
        loop {
            let n = fa.read(&mut ba)?;
            if n == 0 {
                return Ok(fb.read(&mut bb[..1])? == 0);
            }
            fb.read_exact(&mut bb[..n])?;
            if ba[..n] != bb[..n] {
                return Ok(false);
            }
        }
    }

    fn unchanged(lower: &Path, upper: &Path, um: &Metadata, mode: Mode) -> io::Result<bool> {
        let Ok(lm) = fs::symlink_metadata(lower) else { return Ok(false) };
        if !same_meta(&lm, um) {
            return Ok(false);
        }
        if mode.layer && um.is_file() && lm.len() == um.len() && lm.mtime() == um.mtime() && lm.mtime_nsec() == um.mtime_nsec() {
            return Ok(true);
        }
        if um.file_type().is_symlink() {
            return Ok(fs::read_link(lower)? == fs::read_link(upper)?);
        }
        if um.is_file() {
            return Ok(lm.len() == um.len() && same_content(lower, upper)?);
        }
        Ok(true)
    }

    /// Gives `to` the owner, mode and modification time of `meta` (symlinks: the owner only).
    pub(crate) fn copy_meta(to: &Path, meta: &Metadata) -> io::Result<()> {
        std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        let mtime = meta.modified()?;
        File::open(to)?.set_times(fs::FileTimes::new().set_modified(mtime).set_accessed(mtime))
    }

    /// Creates `rel`'s missing parent directories in `out`, shaped like those in `upper`.
    pub(crate) fn make_parents(upper: &Path, out: &Path, rel: &Path) -> io::Result<()> {
        let mut missing: Vec<PathBuf> = Vec::new();
        let mut dir = rel.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if out.join(d).exists() {
                break;
            }
            missing.push(d.to_path_buf());
            dir = d.parent();
        }
        for d in missing.iter().rev() {
            fs::create_dir(out.join(d))?;
            copy_meta(&out.join(d), &fs::symlink_metadata(upper.join(d))?)?;
        }
        Ok(())
    }

    fn walk(lower: &Path, upper: &Path, out: &Path, rel: &Path, mode: Mode) -> io::Result<()> {
        let names = sorted_names(&upper.join(rel))?;
        for name in names {
            let rel = rel.join(&name);
            let (u, l, o) = (upper.join(&rel), lower.join(&rel), out.join(&rel));
            let um = fs::symlink_metadata(&u)?;
            if um.is_dir() {
                let kept = fs::symlink_metadata(&l).is_ok_and(|lm| same_meta(&lm, &um));
                if !kept {
                    make_parents(upper, out, &rel)?;
                    fs::create_dir(&o)?;
                }
                walk(lower, upper, out, &rel, mode)?;
                if o.exists() {
                    copy_meta(&o, &um)?;
                }
                continue;
            }
            if unchanged(&l, &u, &um, mode)? {
                continue;
            }
            make_parents(upper, out, &rel)?;
            copy_entry(&u, &o, &um)?;
        }
        Ok(())
    }
}

/// Copies with include and exclude patterns, for daemons whose copies cannot filter
/// (`file.copy.includeexcludepatterns`): the same walk host directories are sent with.
mod select {
    use std::ffi::OsString;
    use std::fs;
    use std::io;
    use std::path::Path;

    use crate::diff::{copy_entry, copy_meta, make_parents, sorted_names};
    use crate::patterns::{split, DirVerdict, Selection};

    pub fn run(args: &[OsString]) -> Result<(), String> {
        let [source, out, patterns @ ..] = args else {
            return Err("usage: --dirk-select SOURCE OUT [i:PATTERN | x:PATTERN]...".into());
        };
        let (mut include, mut exclude) = (Vec::new(), Vec::new());
        for p in patterns {
            let p = p.to_string_lossy();
            match (p.strip_prefix("i:"), p.strip_prefix("x:")) {
                (Some(i), _) => include.push(i.to_owned()),
                (_, Some(x)) => exclude.push(x.to_owned()),
                _ => return Err(format!("pattern argument {p:?} is neither i:PATTERN nor x:PATTERN")),
            }
        }
        let selection = Selection::new(&include, &exclude).map_err(|e| e.to_string())?;
        walk(Path::new(source), Path::new(out), Path::new(""), &selection).map_err(|e| e.to_string())
    }

    fn walk(source: &Path, out: &Path, rel: &Path, selection: &Selection) -> io::Result<()> {
        for name in sorted_names(&source.join(rel))? {
            let rel = rel.join(&name);
            let (from, to) = (source.join(&rel), out.join(&rel));
            let meta = fs::symlink_metadata(&from)?;
            let segs = split(&rel.to_string_lossy());
            if meta.is_dir() {
                match selection.directory(&segs) {
                    DirVerdict::Skip => continue,
                    DirVerdict::Selected => {
                        make_parents(source, out, &rel)?;
                        fs::create_dir(&to)?;
                    }
                    // Made only when something below it is copied (by make_parents).
                    DirVerdict::Descend => {}
                }
                walk(source, out, &rel, selection)?;
                if fs::symlink_metadata(&to).is_ok() {
                    copy_meta(&to, &meta)?;
                }
                continue;
            }
            if selection.selects_file(&segs) {
                make_parents(source, out, &rel)?;
                copy_entry(&from, &to, &meta)?;
            }
        }
        Ok(())
    }
}
