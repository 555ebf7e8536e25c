/** `2026-11-22T10:00:00Z` (no milliseconds). */
export function isoTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  // Always `….sssZ`: drop the milliseconds.
  return `${iso.slice(0, -5)}Z`;
}

/** "in 59m", "2h 5m ago", "just now". */
export function relativeTime(ms: number, now: number): string {
  const delta = Math.round((ms - now) / 1000);
  const abs = Math.abs(delta);
  if (abs < 5) return 'just now';
  let text: string;
  if (abs < 60) text = `${abs}s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)}m`;
  else if (abs < 86400) {
    const m = Math.floor((abs % 3600) / 60);
    text = `${Math.floor(abs / 3600)}h${m ? ` ${m}m` : ''}`;
  } else {
    const h = Math.floor((abs % 86400) / 3600);
    text = `${Math.floor(abs / 86400)}d${h ? ` ${h}h` : ''}`;
  }
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** `2026-11-22T10:00:00Z (in 59m)`. */
export function formatTime(ms: number, now: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return `${ms} (out of range)`;
  // A batch formats the same few instants (the exp and iat of tokens minted together) thousands
  // of times: a handful are remembered for the current `now`.
  if (now !== recent.now || recent.texts.size >= 16) recent = { now, texts: new Map() };
  let text = recent.texts.get(ms);
  if (text === undefined) {
    text = `${isoTime(ms)} (${relativeTime(ms, now)})`;
    recent.texts.set(ms, text);
  }
  return text;
}

let recent = { now: Number.NaN, texts: new Map<number, string>() };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration as people write it: `90` or `90s` (seconds), `500ms`, `5m`, `1h`, `1h30m`, `2d`.
 * Returns milliseconds, or undefined when `text` is not one (the caller names the flag).
 * @example
 * parseDuration('1m30s'); // 90_000
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * DURATION_UNITS[unit!]!;
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
