import type { ChalkInstance } from 'chalk';
import { safeText } from '../util/safe-text.js';

/**
 * An aligned key/value block: `  key    value`. Keys are shown through `safeText` (an
 * introspection answer's keys are the server's); values may be styled, so callers escape what
 * is untrusted in them before styling.
 */
export function keyValues(rows: ReadonlyArray<readonly [string, string]>, style: ChalkInstance, indent = '  '): string {
  const keys = rows.map(([k]) => safeText(k));
  const width = Math.max(0, ...keys.map((k) => k.length));
  return rows.map(([, v], i) => `${indent}${style.bold(keys[i]!.padEnd(width))}  ${v}`).join('\n');
}

/** One ✓/✗ line of a checklist; `detail` (it quotes the token) is shown through `safeText`. */
export function checkLine(ok: boolean, name: string, detail: string, width: number, style: ChalkInstance): string {
  const mark = ok ? style.green('✓') : style.red('✗');
  const shown = safeText(detail);
  return `${mark} ${safeText(name).padEnd(width)}  ${ok ? shown : style.red(shown)}`;
}
