/**
 * Parse benchmark: generates a deterministic 100,000-line Dockerfile (instructions, continuations,
 * heredocs, comments, JSON and shell forms, flags) and reports the median parse time.
 * Run: `npm run bench:parse` (or `npx tsx bench/parse.ts`). Target: well under 1 s.
 */
import { performance } from 'node:perf_hooks';
import { parseDockerfile } from '../builder/index.js';
import { prngFloat } from './workloads.js';

const TARGET_LINES = 100_000;
const RUNS = 7;


export function generateDockerfile(lines = TARGET_LINES, seed = 42): string {
  const rnd = prngFloat(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const out: string[] = ['# syntax=docker/dockerfile:1', '# check=skip=all', '', 'ARG BASE=debian:bookworm'];
  let stage = 0;
  // Blocks are at most ~12 lines: stop short of the target and pad, so no block is cut in half.
  while (out.length < lines - 16) {
    switch (pick(14)) {
      case 0:
        out.push(`FROM --platform=$BUILDPLATFORM \${BASE} AS stage${stage++}`);
        break;
      case 1:
        out.push(`# comment ${out.length}: installing things`, '');
        break;
      case 2: {
        const n = 2 + pick(6);
        out.push('RUN apt-get update \\');
        for (let i = 0; i < n; i++) out.push(`    && apt-get install -y --no-install-recommends pkg${pick(1000)} \\`);
        if (pick(3) === 0) out.push('    # a comment inside the continuation', '');
        out.push('    && rm -rf /var/lib/apt/lists/*');
        break;
      }
      case 3: {
        out.push(`RUN --mount=type=cache,target=/root/.cache <<EOF${stage}`);
        const n = 1 + pick(8);
        for (let i = 0; i < n; i++) out.push(`  echo "line ${i} of heredoc" > /tmp/f${i}`);
        out.push(`EOF${stage}`);
        break;
      }
      case 4:
        out.push(`COPY --from=stage${pick(stage + 1)} --chown=1000:1000 --chmod=0755 /src/a${pick(99)} /src/b /dst/`);
        break;
      case 5:
        out.push(`COPY <<'CONF' <<-"SCRIPT" /etc/app/`, 'key = value', `path = /opt/${pick(50)}`, 'CONF', '\t#!/bin/sh', '\techo $HOME', '\tSCRIPT');
        break;
      case 6:
        out.push(`ENV PATH=/opt/bin:$PATH LANG="C.UTF-8" VERSION_${pick(100)}=1.${pick(30)}.${pick(9)}`);
        break;
      case 7:
        out.push(`LABEL org.opencontainers.image.title="app ${pick(10)}" \\`, `      org.opencontainers.image.version=1.0`);
        break;
      case 8:
        out.push(`CMD ["/usr/bin/app", "--port", "${8000 + pick(999)}"]`);
        break;
      case 9:
        out.push(`ENTRYPOINT ["/bin/sh", "-c", "exec app \\"$@\\"", "--"]`);
        break;
      case 10:
        out.push(`WORKDIR /app/${pick(100)}`, `USER ${1000 + pick(10)}:${1000 + pick(10)}`, `EXPOSE ${pick(65535)}/tcp ${pick(65535)}/udp`);
        break;
      case 11:
        out.push(`HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost:${pick(9999)}/ || exit 1`);
        break;
      case 12:
        out.push(`ARG VERSION_${pick(100)}=${pick(100)} OTHER`, `ONBUILD RUN echo building ${pick(1000)}`);
        break;
      default:
        out.push(`ADD https://example.com/file${pick(1000)}.tar.gz /tmp/`, `VOLUME ["/data${pick(10)}"]`, `SHELL ["/bin/bash", "-o", "pipefail", "-c"]`);
    }
  }
  while (out.length < lines) out.push(out.length % 2 === 0 ? '# padding' : 'RUN true');
  return out.join('\n') + '\n';
}

function main(): void {
  const text = generateDockerfile();
  const bytes = Buffer.from(text, 'utf8');
  // Make sure the generated file is valid before timing (a heredoc cut at the end would throw).
  let ast = parseDockerfile(bytes);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    ast = parseDockerfile(bytes);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const heredocs = ast.children.reduce((n, c) => n + c.heredocs.length, 0);
  process.stdout.write(
    `parse: ${TARGET_LINES} lines (${(bytes.length / 1024).toFixed(0)} KiB), ${ast.children.length} instructions, ` +
      `${heredocs} heredocs, ${ast.warnings.length} warnings\n` +
      `parse: median ${median.toFixed(1)} ms over ${RUNS} runs (min ${times[0]!.toFixed(1)} ms, max ${times[times.length - 1]!.toFixed(1)} ms); ` +
      `median CPU ${cpu[Math.floor(cpu.length / 2)]!.toFixed(1)} ms (user+system, all threads)\n`,
  );
}

main();
