import type { ChalkInstance } from 'chalk';

/** An aligned key/value block: `  key    value`. */
export function keyValues(rows: ReadonlyArray<readonly [string, string]>, style: ChalkInstance, indent = '  '): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${style.bold(k.padEnd(width))}  ${v}`).join('\n');
}

/** One ✓/✗ line of a checklist. */
export function checkLine(ok: boolean, name: string, detail: string, width: number, style: ChalkInstance): string {
  const mark = ok ? style.green('✓') : style.red('✗');
  return `${mark} ${name.padEnd(width)}  ${ok ? detail : style.red(detail)}`;
}
