#!/usr/bin/env bash
# Brings up everything dirk's examples and tests run against, on a Debian machine:
#   - Debian's docker.io (its dockerd carries an embedded BuildKit), started if none answers;
#   - a busybox image made locally from busybox-static (no registry needed to build it);
#   - Debian's docker-registry on 127.0.0.1:5000, holding that image;
#   - git and curl, which the tests use to serve repositories and check services, and openssh-server,
#     whose sshd (started by the tests themselves) carries DOCKER_HOST=ssh:// to the daemon;
#   - a second dockerd from Debian trixie's docker.io 26.1.5 (BuildKit v0.13), unpacked into the state
#     directory and listening on $DIRK_DOCKER26_SOCK, and a third from sid's docker.io 28.5 with the
#     containerd image store (BuildKit v0.25: diff and merge ops, cache export, pushing exporters) on
#     $DIRK_DOCKER28_SOCK, so that the suite runs on the BuildKit generations users have (bookworm's
#     docker.io 20.10 carries BuildKit v0.8).
# Safe to run again: every step checks before it acts.
#
#   scripts/setup-engine.sh           everything the test suite runs against
#   scripts/setup-engine.sh example   only what the quick start needs: dockerd, the busybox image
#                                     and the registry serving it
set -euo pipefail
MODE=${1:-suite}
case "$MODE" in suite|example) ;; *) echo "usage: $0 [suite|example]" >&2; exit 2 ;; esac

STATE_DIR=${DIRK_ENGINE_STATE:-/var/lib/dirk-test}
DOCKER_SOCK=/var/run/docker.sock
REGISTRY=127.0.0.1:5000
log() { printf '[setup] %s\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
if [ "$MODE" = suite ]; then
  command -v git >/dev/null 2>&1 || need_pkgs+=(git)
  [ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" ca-certificates >/dev/null
fi

mkdir -p "$STATE_DIR"

docker_up() { curl -sf --max-time 2 --unix-socket "$DOCKER_SOCK" http://d/_ping >/dev/null 2>&1; }
if ! docker_up; then
  log "starting dockerd"
  setsid dockerd >"$STATE_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do docker_up && break; sleep 0.2; done
  docker_up || { log "dockerd did not answer; see $STATE_DIR/dockerd.log"; tail -20 "$STATE_DIR/dockerd.log" >&2; exit 1; }
fi
log "dockerd $(docker version --format '{{.Server.Version}}') is up"

# A busybox image with relative symlinks, passwd/group and a PATH.
if ! docker image inspect local/busybox:latest >/dev/null 2>&1; then
  log "making local/busybox:latest"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/usr/bin" "$root/sbin" "$root/usr/sbin"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/sh"]' - local/busybox:latest >/dev/null
  rm -rf "$root"
fi

# A registry on loopback.
registry_up() { curl -sf --max-time 2 "http://$REGISTRY/v2/" >/dev/null 2>&1; }
if ! registry_up; then
  log "starting docker-registry on $REGISTRY"
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
CFG
  setsid docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do registry_up && break; sleep 0.1; done
  registry_up || { log "registry did not answer; see $STATE_DIR/registry.log"; exit 1; }
fi
# The registry's images must be the ones made here: whatever answers on the port (a registry of
# the user's, or one left by an earlier run) is checked by config digest, and given ours if it differs.
served_config() {
  curl -sf "http://$REGISTRY/v2/$1/manifests/latest" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])' 2>/dev/null || true
}
serve_image() { # local image, repository on the registry
  local want
  want=$(docker image inspect --format '{{.Id}}' "$1")
  if [ "$(served_config "$2")" != "$want" ]; then
    log "pushing $1 to $REGISTRY/$2:latest"
    docker tag "$1" "$REGISTRY/$2:latest"
    docker push -q "$REGISTRY/$2:latest" >/dev/null
    [ "$(served_config "$2")" = "$want" ] ||
      { log "$REGISTRY does not serve the pushed $2 image back; is it a registry that accepts pushes?"; exit 1; }
  fi
  log "registry $REGISTRY serves $2:latest"
}
serve_image local/busybox:latest busybox

# An image with one static binary and nothing else (no shell, no libc): /bin/busybox only.
if [ "$MODE" = suite ]; then
  if ! docker image inspect local/static:latest >/dev/null 2>&1; then
    log "making local/static:latest"
    root=$(mktemp -d)
    mkdir -p "$root/bin"
    cp /bin/busybox "$root/bin/busybox"
    tar -C "$root" -c . | docker import - local/static:latest >/dev/null
    rm -rf "$root"
  fi
  serve_image local/static:latest static
fi
[ "$MODE" = example ] && exit 0

# The other daemons run from unpacked .debs beside the system one, each with its own data root, exec
# root, socket and bridge (sharing docker0 with another dockerd is unsafe).

# unpack_debs SUITE ROOT PACKAGE...: downloads PACKAGEs from Debian SUITE through an apt state of
# their own (the system's sources are left alone) and unpacks them into ROOT.
unpack_debs() {
  local suite=$1 root=$2
  shift 2
  local apt_dir="$root.apt"
  rm -rf "$apt_dir" "$root"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/deb" "$root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
    >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$apt_dir/deb" && apt-get "${apt_opts[@]}" download -qq "$@")
  local deb
  for deb in "$apt_dir"/deb/*.deb; do dpkg -x "$deb" "$root"; done
}

# link_tools ROOT BIN TOOL...: links each TOOL found in ROOT's bin directories into BIN.
link_tools() {
  local root=$1 bin=$2 tool found
  shift 2
  mkdir -p "$bin"
  for tool in "$@"; do
    found=$(find "$root/usr/bin" "$root/usr/sbin" -name "$tool" \( -type f -o -type l \) 2>/dev/null | head -1 || true)
    [ -n "$found" ] || { log "the unpacked packages hold no $tool"; exit 1; }
    ln -sf "$found" "$bin/$tool"
  done
}

# start_dockerd NAME DIR SOCK BRIDGE CIDR [DOCKERD ARGS...]: starts DIR/bin/dockerd (with DIR/bin first
# on PATH) on SOCK with its state under DIR, on bridge BRIDGE (made if missing), and waits for it.
start_dockerd() {
  local name=$1 dir=$2 sock=$3 bridge=$4 cidr=$5
  shift 5
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge 2>/dev/null || ip link show "$bridge" >/dev/null
    ip addr add "$cidr" dev "$bridge" 2>/dev/null || true
    ip link set "$bridge" up
  fi
  local run="/run/dirk-test/$name"
  mkdir -p "$(dirname "$sock")" "$dir/data"
  log "starting $name on $sock"
  PATH="$dir/bin:$PATH" setsid "$dir/bin/dockerd" "$@" \
    --data-root "$dir/data" --exec-root "$run-exec" --pidfile "$run.pid" -H "unix://$sock" \
    --bridge="$bridge" --iptables=false --ip-masq=false \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 150); do daemon_up "$sock" && break; sleep 0.2; done
  daemon_up "$sock" || { log "$name did not answer; see $dir/dockerd.log"; tail -20 "$dir/dockerd.log" >&2; exit 1; }
}
# bridge_icc BRIDGE: lets containers on BRIDGE reach each other (services and their clients). The
# system dockerd sets the FORWARD policy to DROP and accepts only its own bridge's traffic; the
# daemons above make no iptables rules of their own, so this adds the one they need, once.
bridge_icc() {
  command -v iptables >/dev/null 2>&1 || return 0
  iptables -C FORWARD -i "$1" -o "$1" -j ACCEPT 2>/dev/null \
    || iptables -I FORWARD -i "$1" -o "$1" -j ACCEPT
}
daemon_up() { curl -sf --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }
daemon_version() { DOCKER_HOST="unix://$1" docker version --format '{{.Server.Version}}'; }

# BuildKit v0.13: trixie's dockerd 26.1.
DOCKER26_SOCK=${DIRK_DOCKER26_SOCK:-/run/dirk-test/docker26.sock}
DOCKER26_DIR="$STATE_DIR/docker26"
if ! daemon_up "$DOCKER26_SOCK"; then
  if [ ! -x "$DOCKER26_DIR/bin/dockerd" ]; then
    log "fetching trixie's docker.io (BuildKit v0.13)"
    unpack_debs trixie "$DOCKER26_DIR/root" docker.io
    link_tools "$DOCKER26_DIR/root" "$DOCKER26_DIR/bin" dockerd docker-proxy docker-init
  fi
  start_dockerd docker26 "$DOCKER26_DIR" "$DOCKER26_SOCK" dirk26 172.31.226.1/24
fi
bridge_icc dirk26
log "dockerd $(daemon_version "$DOCKER26_SOCK") is up on $DOCKER26_SOCK"

# BuildKit v0.25: sid's dockerd 28.5 with the containerd image store (diff and merge ops, cache
# export, pushing image exporters). It runs its own containerd 2.1 under its exec root, with
# bookworm's runc (sid's needs a newer glibc).
DOCKER28_SOCK=${DIRK_DOCKER28_SOCK:-/run/dirk-test/docker28.sock}
DOCKER28_DIR="$STATE_DIR/docker28"
if ! daemon_up "$DOCKER28_SOCK"; then
  [ -x /usr/sbin/runc ] || { log "bookworm's runc is missing (it comes with docker.io)"; exit 1; }
  if [ ! -x "$DOCKER28_DIR/bin/dockerd" ]; then
    log "fetching sid's docker.io and containerd (BuildKit v0.25)"
    unpack_debs sid "$DOCKER28_DIR/root" docker.io containerd tini-static
    link_tools "$DOCKER28_DIR/root" "$DOCKER28_DIR/bin" \
      dockerd containerd containerd-shim-runc-v2 docker-proxy docker-init
    ln -sf /usr/sbin/runc "$DOCKER28_DIR/bin/runc"
  fi
  # Its BuildKit collects garbage by default, and prunes every unused record while less than a fifth
  # of the disk is free: on a fuller CI disk, cache volumes and cached steps would vanish between
  # one step and the next. The suite's cache is small and bounded, so this daemon keeps it.
  printf '{"insecure-registries": ["%s"], "features": {"containerd-snapshotter": true}, "builder": {"gc": {"enabled": false}}}\n' "$REGISTRY" \
    >"$DOCKER28_DIR/daemon.json"
  start_dockerd docker28 "$DOCKER28_DIR" "$DOCKER28_SOCK" d28br 172.31.228.1/24 \
    --config-file "$DOCKER28_DIR/daemon.json"
fi
bridge_icc d28br
log "dockerd $(daemon_version "$DOCKER28_SOCK") is up on $DOCKER28_SOCK"
