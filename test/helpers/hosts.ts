import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const HOSTS = '/etc/hosts';
/** Held while one test file reads and rewrites /etc/hosts, so that test files running at once lose no line. */
const LOCK = '/etc/hosts.tsbuild-test.lock';

async function locked<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed test run is taken over after 30 s.
      const st = await stat(LOCK).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 30_000) await rmdir(LOCK).catch(() => undefined);
      await sleep(20);
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(LOCK).catch(() => undefined);
  }
}

/**
 * Adds `127.0.0.1 NAME # added by tsbuild's TEST test` for each name missing from /etc/hosts (names for loopback
 * that do not look like loopback, so that tsbuild speaks HTTPS or goes through a proxy). Returns the function that
 * removes exactly the lines it added.
 */
export async function addHostNames(names: readonly string[], test: string): Promise<() => Promise<void>> {
  const lines = names.map((n) => `127.0.0.1 ${n} # added by tsbuild's ${test} test`);
  const added = await locked(async () => {
    const hosts = await readFile(HOSTS, 'utf8');
    const missing = lines.filter((l) => !hosts.split('\n').includes(l));
    if (missing.length) await writeFile(HOSTS, `${hosts.replace(/\n?$/, '\n')}${missing.join('\n')}\n`);
    return missing;
  });
  return async () => {
    if (!added.length) return;
    await locked(async () => {
      const hosts = await readFile(HOSTS, 'utf8');
      await writeFile(HOSTS, hosts.split('\n').filter((l) => !added.includes(l)).join('\n'));
    });
  };
}
