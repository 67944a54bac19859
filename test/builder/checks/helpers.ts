/** Runs the checks on Dockerfile text and returns `line rule: detail` strings, sorted by line (then text). */
import { runChecks, type CheckInput, type CheckReport } from '../../../builder/checks/index.js';
import { parseDockerfile } from '../../../builder/frontend/parser/index.js';

export function check(src: string, o: Omit<CheckInput, 'ast'> = {}): CheckReport {
  return runChecks({ allStages: true, platform: { os: 'linux', architecture: 'amd64' }, buildPlatform: { os: 'linux', architecture: 'amd64' }, ...o, ast: parseDockerfile(src) });
}

export function lines(src: string, o: Omit<CheckInput, 'ast'> = {}): string[] {
  return check(src, o).warnings.map((w) => `${w.location.line} ${w.ruleName}: ${w.detail}`)
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
}

/** Only the warnings of `rule`. */
export function of(rule: string, src: string, o: Omit<CheckInput, 'ast'> = {}): string[] {
  return lines(src, o).filter((l) => l.split(' ')[1] === `${rule}:`);
}
