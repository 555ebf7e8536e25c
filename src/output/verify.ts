import type { ChalkInstance } from 'chalk';
import type { VerifyResult } from '../jwt/verify.js';
import { checkLine } from './blocks.js';
import { safeText } from '../util/safe-text.js';

/** The ✓/✗ checklist and a one-line verdict; what the token says is shown through `safeText`. */
export function renderVerifyResult(result: VerifyResult, style: ChalkInstance): string {
  const width = Math.max(...result.checks.map((c) => c.name.length));
  const lines = result.checks.map((c) => checkLine(c.ok, c.name, c.detail, width, style));
  const sub = result.payload && typeof result.payload.sub === 'string' ? ` (sub "${safeText(result.payload.sub)}")` : '';
  lines.push(
    '',
    result.valid ? style.green.bold(`Token is valid${sub}.`) : style.red.bold(`Token is NOT valid: ${safeText(result.reason)}.`),
  );
  return lines.join('\n');
}
