import { readFile } from 'node:fs/promises';
import { formatPlatform, hostPlatform, type Platform } from '../layer-store/core/index.js';
import { BinfmtMissingError } from './errors.js';

/** qemu's name for each OCI architecture. */
const QEMU_ARCH: Readonly<Record<string, string>> = {
  amd64: 'x86_64', arm64: 'aarch64', arm: 'arm', '386': 'i386', ppc64le: 'ppc64le', s390x: 's390x',
  riscv64: 'riscv64', mips64le: 'mips64el', mips64: 'mips64', loong64: 'loongarch64',
};

/** Architectures a host runs natively besides its own. */
const NATIVE_EXTRA: Readonly<Record<string, readonly string[]>> = { amd64: ['386'], arm64: ['arm'] };

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** True when binaries of `platform` run on this host without emulation. */
export function isNativePlatform(platform: Platform): boolean {
  const host = hostPlatform().architecture;
  return platform.architecture === host || (NATIVE_EXTRA[host] ?? []).includes(platform.architecture);
}

/**
 * Resolves when binaries of `platform` can run here: natively, or through an enabled binfmt_misc handler
 * (`/proc/sys/fs/binfmt_misc/qemu-<arch>`). Otherwise rejects with BinfmtMissingError saying what to install
 * and register. `dir` is for tests.
 */
export async function checkBinfmt(platform: Platform, dir = BINFMT_DIR): Promise<void> {
  if (platform.os !== 'linux') {
    throw new BinfmtMissingError(formatPlatform(platform), `cannot run ${formatPlatform(platform)} steps on linux`, 'only linux/* platforms can run RUN steps');
  }
  if (isNativePlatform(platform)) return;
  const qemu = QEMU_ARCH[platform.architecture] ?? platform.architecture;
  const name = formatPlatform(platform);
  let mounted = true;
  try {
    await readFile(`${dir}/status`, 'utf8');
  } catch {
    mounted = false;
  }
  const install =
    'install qemu-user-static and binfmt-support (Debian/Ubuntu: apt-get install -y qemu-user-static binfmt-support)';
  if (!mounted) {
    throw new BinfmtMissingError(name, `cannot run ${name} binaries: binfmt_misc is not mounted`,
      `${install}, then mount -t binfmt_misc binfmt_misc ${dir} and register the handler: cat /usr/lib/binfmt.d/qemu-${qemu}.conf > ${dir}/register`);
  }
  let state = '';
  try {
    state = await readFile(`${dir}/qemu-${qemu}`, 'utf8');
  } catch {
    throw new BinfmtMissingError(name, `cannot run ${name} binaries: no binfmt_misc handler qemu-${qemu} is registered`,
      `${install}, then register it: cat /usr/lib/binfmt.d/qemu-${qemu}.conf > ${dir}/register (or update-binfmts --enable qemu-${qemu})`);
  }
  if (!/^enabled/m.test(state)) {
    throw new BinfmtMissingError(name, `cannot run ${name} binaries: the binfmt_misc handler qemu-${qemu} is disabled`,
      `enable it: echo 1 > ${dir}/qemu-${qemu}`);
  }
}
