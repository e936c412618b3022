// The contract between dirk and the exec shim: where things live inside an exec, and the
// environment variables that steer the shim. Shared verbatim by both sides (`include!`d by the shim).

/// Where the directory holding the shim is mounted (read-only) inside every exec.
pub(crate) const SHIM_DIR: &str = "/.dirk-shim";
/// The shim's path inside every exec.
pub(crate) const SHIM_PATH: &str = "/.dirk-shim/shim";
/// Where the writable meta directory (stdin, stdout, stderr, exit code) is mounted.
pub(crate) const META_DIR: &str = "/.dirk-meta";
/// File in the meta directory fed to the command as its standard input, when present.
pub(crate) const META_STDIN: &str = "stdin";
/// File in the meta directory holding everything the command wrote to standard output.
pub(crate) const META_STDOUT: &str = "stdout";
/// File in the meta directory holding everything the command wrote to standard error.
pub(crate) const META_STDERR: &str = "stderr";
/// File in the meta directory holding the command's exit code, in decimal.
pub(crate) const META_EXIT_CODE: &str = "exitCode";
/// When set, the shim exits 0 whatever the command did (used to read back a failed exec's output).
pub(crate) const ENV_NO_FAIL: &str = "_DIRK_NO_FAIL";
/// A path (relative to the working directory) that also receives standard output.
pub(crate) const ENV_REDIRECT_STDOUT: &str = "_DIRK_REDIRECT_STDOUT";
/// A path (relative to the working directory) that also receives standard error.
pub(crate) const ENV_REDIRECT_STDERR: &str = "_DIRK_REDIRECT_STDERR";
/// Where secrets used as environment variables are mounted (as files, by the daemon) in an exec.
pub(crate) const SECRETS_DIR: &str = "/.dirk-secrets";
/// Lines `NAME=PATH`: set variable NAME to the contents of the secret file PATH for the command.
pub(crate) const ENV_SECRET_ENV: &str = "_DIRK_SECRET_ENV";
/// Lines `PATH`: secret files mounted for the command, whose contents are masked in its output.
pub(crate) const ENV_SECRET_FILES: &str = "_DIRK_SECRET_FILES";
/// What recorded output shows in place of a secret value.
pub(crate) const SECRET_MASK: &str = "***";
/// First argument that turns the shim into a directory differ: `--dirk-diff LOWER UPPER OUT` copies
/// into OUT every entry of UPPER that LOWER lacks or holds differently (content, type, mode, owner).
pub(crate) const DIFF_ARG: &str = "--dirk-diff";
/// Last argument of `--dirk-diff` that makes OUT an image layer: what LOWER has and UPPER lacks is
/// marked with a whiteout (`.wh.NAME`).
pub(crate) const LAYER_OPT: &str = "--layer";
/// First argument that turns the shim into a layer applier: `--dirk-apply LAYER TARGET` applies the
/// unpacked image layer LAYER onto TARGET: whiteouts (`.wh.NAME`) remove NAME, an opaque marker
/// (`.wh..wh..opq`) empties its directory first, everything else replaces what is there.
pub(crate) const APPLY_ARG: &str = "--dirk-apply";
/// First argument that turns the shim into a selective copier: `--dirk-select SOURCE OUT [i:PATTERN |
/// x:PATTERN]...` copies into OUT what SOURCE holds that the include (`i:`) and exclude (`x:`)
/// patterns select, with the `.dockerignore` semantics of host directories; owners, modes and times kept.
pub(crate) const SELECT_ARG: &str = "--dirk-select";
/// The user (`user[:group]`, names or ids) the command runs as; the shim itself runs as root.
pub(crate) const ENV_USER: &str = "_DIRK_USER";
/// Where a service's readiness socket is mounted: the shim of a service's exec tells dirk there the
/// service's address (`addr IP`), then `ready` once every exposed TCP port accepts connections, or
/// `exit CODE` followed by the command's last output when it ends before that.
pub(crate) const SERVICE_READY_SOCKET: &str = "/.dirk-service.sock";
/// Lines `PATH=ID`: the cache volumes mounted for the command. Only there so that the daemon's cache
/// key of the exec names them; the shim drops it.
pub(crate) const ENV_CACHE_VOLUMES: &str = "_DIRK_CACHE_VOLUMES";
/// Set on a service's exec: its exposed ports, `PORT/tcp` or `PORT/udp`, separated by spaces.
pub(crate) const ENV_SERVICE_PORTS: &str = "_DIRK_SERVICE_PORTS";
