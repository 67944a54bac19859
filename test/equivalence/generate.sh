#!/usr/bin/env bash
# Generates the expected data of the BuildKit equivalence test (fixtures/equivalence/<name>/expected.json)
# with real BuildKit, once; the results are committed as test data, so CI never needs Docker.
#
# To regenerate (as root, on Debian 12 with the Debian mirror reachable):
#   bash test/equivalence/generate.sh            # all fixtures
#   bash test/equivalence/generate.sh NAME...    # only these fixtures
# It installs Debian's docker.io if /usr/bin/dockerd is missing, starts a private dockerd (own data root and
# socket under a temp dir, no iptables, no bridge), imports the same busybox tar the test uses
# (fixtures/scripts/make-busybox-rootfs.sh, SOURCE_DATE_EPOCH=0) as busybox:latest, builds each fixture with
# `DOCKER_BUILDKIT=1 docker build --network host`, `docker save`s it and describes it with
# test/equivalence/describe.ts (the same code the test uses for tsbuild's image). The daemon is stopped and its
# data removed on exit. Review the diff of expected.json files before committing them.
#
# Heredocs: the BuildKit inside Debian's docker.io 20.10 predates Dockerfile heredocs (it fails with "unknown
# instruction"), and `# syntax=` images cannot be pulled here. A fixture that uses heredocs therefore carries a
# Dockerfile.buildkit: the same build written without heredocs (same file contents, modes and owners, as
# BuildKit's heredoc rules give them: COPY heredoc files are 0644 root:root before --chmod, RUN heredocs run
# through the shell). The generator builds that file with BuildKit; the test builds the heredoc Dockerfile
# with tsbuild, and both must give the same image. expected.json records which Dockerfile BuildKit built.
#
# Amended by hand (the daemon's BuildKit is older than the behaviour the reference now is): in copy-chown-chmod,
# `COPY --chmod=0750 tree /chmod-dir/` creates /chmod-dir 0750, not 0755: BuildKit gives the directories an octal
# --chmod COPY creates its mode (upstream testCopyChmod at 73ed6825c, test/conformance TestCopyChmod). Keep this
# entry when regenerating.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
FIXTURES=$REPO/fixtures/equivalence

if [ ! -x /usr/bin/dockerd ] || [ ! -x /usr/bin/docker ]; then
  apt-get install -y docker.io
fi

WORK=$(mktemp -d /tmp/eq-gen.XXXXXX)
DOCKERD_PID=""
cleanup() {
  set +e +o pipefail
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill "$DOCKERD_PID"
    for _ in $(seq 1 50); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  # dockerd may leave its overlay mounts behind if it was killed: unmount anything under our data root
  { grep -o " $WORK/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" -H "unix://$WORK/docker.sock" --pidfile "$WORK/pid" \
  --iptables=false --bridge=none >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=1
for _ in $(seq 1 150); do
  [ -S "$WORK/docker.sock" ] && /usr/bin/docker version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || { cat "$WORK/dockerd.log" >&2; echo "dockerd exited" >&2; exit 1; }
  sleep 0.2
done
server_version=$(/usr/bin/docker version --format '{{.Server.Version}}')
echo "docker $server_version"
TSX=$REPO/node_modules/.bin/tsx

SOURCE_DATE_EPOCH=0 sh fixtures/scripts/make-busybox-rootfs.sh "$WORK/rootfs" -o "$WORK/busybox.tar" >/dev/null
/usr/bin/docker import "$WORK/busybox.tar" busybox:latest >/dev/null

if [ $# -gt 0 ]; then names=("$@"); else
  names=(); for d in "$FIXTURES"/*/; do [ -f "$d/Dockerfile" ] && names+=("$(basename "$d")"); done
fi

for name in "${names[@]}"; do
  echo "== $name"
  ctx=$WORK/ctx/$name
  "$TSX" -e "import('$REPO/test/equivalence/describe.ts').then(m => m.prepareContext('$FIXTURES/$name', '$ctx'))"
  dockerfile=Dockerfile
  [ -f "$ctx/Dockerfile.buildkit" ] && dockerfile=Dockerfile.buildkit
  /usr/bin/docker build --network host --progress plain -f "$ctx/$dockerfile" -t "eq-$name:latest" "$ctx" \
    >"$WORK/build-$name.log" 2>&1 \
    || { cat "$WORK/build-$name.log" >&2; echo "BuildKit failed on $name" >&2; exit 1; }
  /usr/bin/docker save -o "$WORK/$name.tar" "eq-$name:latest"
  "$TSX" test/equivalence/describe.ts "$WORK/$name.tar" "$FIXTURES/$name/expected.json" \
    "BuildKit (docker $server_version), $dockerfile"
  echo "   wrote fixtures/equivalence/$name/expected.json ($dockerfile)"
done
