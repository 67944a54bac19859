/** The Markdown summary of a fuzz run (printed, and written to bench/results/fuzz.md by the CLI). */
import fc from 'fast-check';
import type { TargetReport } from './harness.js';

/** Renders the reports as the Markdown summary written to bench/results/fuzz.md. */
export function summarize(reports: readonly TargetReport[], command: string): string {
  const lines = [
    '# Fuzzing summary', '',
    `Command: \`${command}\`  `, `Date: ${new Date().toISOString()}, Node ${process.version}, fast-check ${fc.__version}`, '',
    '| target | inputs | seed (× jobs) | time (s) | inputs/s | max per-input (ms) | peak RSS (MiB) | peak heap (MiB) | findings |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    lines.push(`| ${r.target} | ${r.inputs.toLocaleString('en-US')} | ${r.seed}${(r.jobs ?? 1) > 1 ? ` × ${r.jobs}` : ''} | ${(r.wallMs / 1000).toFixed(1)} | ${Math.round(r.inputs / (r.wallMs / 1000)).toLocaleString('en-US')} | ${r.maxInputMs.toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ${r.peakHeapMb.toFixed(0)} | ${r.findings.length} |`);
  }
  lines.push('', 'Max per-input is the slower-than-bound input\'s confirmed time: an input over the bound is run again and fails only if it is slow twice.');
  for (const r of reports) if ((r.retimed ?? 0) > 0) lines.push(`- ${r.target}: ${r.retimed} input(s) re-timed after a slow first run (machine load); all were under the bound the second time.`);
  lines.push('', 'Outcomes (ok, or the TsbuildError code each rejected input ended with):', '');
  for (const r of reports) {
    const oc = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
    lines.push(`- ${r.target}: ${oc || '(none)'}`);
  }
  lines.push('', 'Slowest input per target:', '');
  for (const r of reports) lines.push(`- ${r.target} (${r.maxInputMs.toFixed(1)} ms): ${r.slowestInput.slice(0, 160).replace(/`/g, "'")}`);
  const findings = reports.flatMap((r) => r.findings.map((f) => ({ ...f, target: r.target })));
  lines.push('', findings.length === 0 ? 'Findings: none.' : `Findings: ${findings.length}`);
  for (const f of findings) {
    const msg = f.message.length > 3000 ? `${f.message.slice(0, 3000)}… (${f.message.length} chars)` : f.message;
    lines.push('', `## ${f.target}: ${f.kind}`, '', '```', msg, '```', '', `Input: \`${f.input.slice(0, 300).replace(/`/g, "'")}\`${f.file ? ` (full input: ${f.file})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
