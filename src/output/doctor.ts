/**
 * Human view of `doctor`: a ✓/✗ line a check, with what to fix under each failure. Details and
 * fixes quote the IdP (its issuer, its key ids): shown through `safeText`.
 */
import type { ChalkInstance } from 'chalk';
import type { DoctorReport } from '../flows/doctor.js';
import { safeText } from '../util/safe-text.js';

export function renderDoctor(report: DoctorReport, style: ChalkInstance): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`Checking profile ${style.bold(safeText(report.profile))}`, ''];
  for (const check of report.checks) {
    const mark =
      check.status === 'ok' ? style.green('✓') : check.status === 'fail' ? style.red('✗') : check.status === 'warn' ? style.yellow('!') : style.dim('-');
    const shown = safeText(check.detail);
    const detail = check.status === 'fail' ? style.red(shown) : check.status === 'skip' ? style.dim(shown) : shown;
    lines.push(`${mark} ${safeText(check.name).padEnd(width)}  ${detail}`);
    if ((check.status === 'fail' || check.status === 'warn') && check.fix) lines.push(`  ${' '.repeat(width)}  ${style.bold('fix:')} ${safeText(check.fix)}`);
  }
  lines.push('');
  const warned = report.checks.filter((c) => c.status === 'warn');
  if (report.ok) {
    lines.push(style.green.bold(`All checks passed.${warned.length ? ` Read the ${warned.length === 1 ? 'note' : 'notes'} marked ! (${warned.map((c) => c.name).join(', ')}).` : ''}`));
  }
  else {
    const failed = report.checks.filter((c) => c.status === 'fail');
    const where =
      report.outcome === 'usage' ? 'start with the configuration and this machine' : 'the configuration looks right; the IdP or broker is not';
    lines.push(style.red.bold(`${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.map((c) => c.name).join(', ')}): ${where}.`));
  }
  return lines.join('\n');
}
