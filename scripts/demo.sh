#!/usr/bin/env bash
# The README's main job: make a busybox base image locally (no Docker Hub here), build fixtures/hello
# with tsbuild, and run the result. Uses --root .tmp/demo-root so it never touches /var/lib/tsbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${TSBUILD_ROOT:-$PWD/.tmp/demo-root}
TSB="bin/tsbuild --root $ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh fixtures/scripts/make-busybox-rootfs.sh "$work/rootfs" -o "$work/busybox.tar" >/dev/null
$TSB import "$work/busybox.tar" busybox:latest
$TSB build --progress plain -t hello:latest fixtures/hello
$TSB run --rm hello:latest
