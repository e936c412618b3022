#!/usr/bin/env bash
# Brings up everything dirk's examples and tests run against, on a Debian machine:
#   - Debian's docker.io (its dockerd carries an embedded BuildKit), started if none answers;
#   - a busybox image made locally from busybox-static (no registry needed to build it);
#   - Debian's docker-registry on 127.0.0.1:5000, holding that image;
#   - git and curl, which the tests use to serve repositories and check services.
# Safe to run again: every step checks before it acts.
set -euo pipefail

STATE_DIR=${DIRK_ENGINE_STATE:-/var/lib/dirk-test}
DOCKER_SOCK=/var/run/docker.sock
REGISTRY=127.0.0.1:5000
log() { printf '[setup] %s\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
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
if ! curl -sf "http://$REGISTRY/v2/busybox/manifests/latest" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null; then
  log "pushing busybox to $REGISTRY"
  docker tag local/busybox:latest "$REGISTRY/busybox:latest"
  docker push -q "$REGISTRY/busybox:latest" >/dev/null
fi
log "registry $REGISTRY serves busybox:latest"

# An image with one static binary and nothing else (no shell, no libc): /bin/busybox only.
if ! curl -sf "http://$REGISTRY/v2/static/manifests/latest" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null; then
  log "making and pushing $REGISTRY/static:latest"
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  tar -C "$root" -c . | docker import - "$REGISTRY/static:latest" >/dev/null
  docker push -q "$REGISTRY/static:latest" >/dev/null
  rm -rf "$root"
fi
log "registry $REGISTRY serves static:latest"
