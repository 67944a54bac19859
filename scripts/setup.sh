#!/usr/bin/env bash
# Installs what tsbuild and its tests need on Debian, only when missing, then builds the project.
# Usage: bash scripts/setup.sh          (system packages + npm ci + build)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have runc            || need+=(runc)
[ -x /bin/busybox ]  || need+=(busybox-static)
have docker-registry || need+=(docker-registry)
have skopeo          || need+=(skopeo)
have umoci           || need+=(umoci)
have podman          || need+=(podman)
have htpasswd        || need+=(apache2-utils)
have openssl         || need+=(openssl)
have bzip2           || need+=(bzip2)
have xz              || need+=(xz-utils)
have tar             || need+=(tar)
have getfattr        || need+=(attr)
have zstd            || need+=(zstd)
have unshare         || need+=(util-linux)
have newuidmap       || need+=(uidmap)
have fuse-overlayfs  || need+=(fuse-overlayfs)
have git             || need+=(git)
have ssh-agent       || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/bin/tini-static ] || need+=(tini)
have python3         || need+=(python3)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
[ -d /usr/lib/binfmt.d ] && [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || need+=(binfmt-support)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing system packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Rootless builds fall back to fuse-overlayfs where the kernel refuses an unprivileged overlay mount (or when
# TSBUILD_OVERLAY=fuse-overlayfs): it opens /dev/fuse as the user, which Debian's udev rule makes 0666. Without
# udev (containers, CI machines) the node is 0600: give it udev's mode.
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
  echo "setup: chmod 0666 /dev/fuse (udev's mode, for rootless fuse-overlayfs)" >&2
  chmod 0666 /dev/fuse
fi

# Foreign-architecture RUN steps (multi-platform builds) run under QEMU user emulation through binfmt_misc.
if [ "$(id -u)" = 0 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  for arch in aarch64 arm; do
    if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-$arch ] && [ -f /usr/lib/binfmt.d/qemu-$arch.conf ]; then
      cat /usr/lib/binfmt.d/qemu-$arch.conf > /proc/sys/fs/binfmt_misc/register 2>/dev/null || true
    fi
  done
  # An arm64 busybox for the multi-platform fixtures (no machine here reaches Docker Hub).
  if [ ! -x .tmp/arm64/bin/busybox ]; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      dpkg --add-architecture arm64
      apt-get update -qq
    fi
    mkdir -p .tmp/arm64-deb
    (cd .tmp/arm64-deb && { apt-get download -qq busybox-static:arm64 >/dev/null 2>&1 || { apt-get update -qq && apt-get download -qq busybox-static:arm64 >/dev/null; }; })
    dpkg-deb -x .tmp/arm64-deb/busybox-static_*_arm64.deb .tmp/arm64
    rm -rf .tmp/arm64-deb
  fi
fi

# A Debian base image (debootstrap from the mirror) and a few .deb files to `apt-get install` offline in RUN
# steps: the rootless-equivalence and SBOM tests build on it (tests never reach the network).
if [ "$(id -u)" = 0 ] && [ ! -f .tmp/debian/rootfs.tar ]; then
  have debootstrap || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  rm -rf .tmp/debian && mkdir -p .tmp/debian/debs
  debootstrap --variant=minbase bookworm .tmp/debian/rootfs http://deb.debian.org/debian > .tmp/debian/debootstrap.log 2>&1 \
    || { echo "setup: debootstrap failed, see .tmp/debian/debootstrap.log" >&2; exit 1; }
  (cd .tmp/debian/debs && apt-get download -qq hello jq libjq1 libonig5 >/dev/null 2>&1)
  tar -C .tmp/debian/rootfs --numeric-owner --sort=name -cf .tmp/debian/rootfs.tar.part . && mv .tmp/debian/rootfs.tar.part .tmp/debian/rootfs.tar
  rm -rf .tmp/debian/rootfs
fi

# Debian's docker-registry package starts a service on :5000 with its own config; tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node scripts/build-if-changed.mjs
