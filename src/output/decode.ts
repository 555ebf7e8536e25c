import type { ChalkInstance } from 'chalk';
import type { DecodedToken } from '../jwt/decode.js';
import { formatTime, isoTime, relativeTime } from '../util/time.js';
import { keyValues } from './blocks.js';
import { safeJson } from '../util/safe-text.js';

/** Indented JSON; the token's strings as JSON escapes where a terminal would act on them. */
function pretty(value: unknown): string {
  return safeJson(value, 2)
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/**
 * One time claim: absolute and relative, and for `exp` in the past "EXPIRED 1h ago" (red), for
 * `nbf` in the future "NOT YET VALID, in 5m" (yellow): nothing is verified, but that shows.
 */
function timeValue(claim: string, ms: number, now: number, style: ChalkInstance): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return formatTime(ms, now);
  if (claim === 'exp' && ms <= now) return `${isoTime(ms)} (${style.red.bold(`EXPIRED ${relativeTime(ms, now)}`)})`;
  if (claim === 'nbf' && ms > now) return `${isoTime(ms)} (${style.yellow.bold(`NOT YET VALID, ${relativeTime(ms, now)}`)})`;
  return formatTime(ms, now);
}

/** Human view of `decode`: header, payload, then each numeric time claim, absolute and relative. */
export function renderDecoded(
  decoded: DecodedToken,
  now: number,
  style: ChalkInstance,
  timeClaims: readonly string[],
): string {
  const sections = [
    `${style.bold.cyan('Header')} ${style.dim(`(${decoded.format === 'jwe' ? 'JWE, encrypted' : 'JWS'})`)}`,
    pretty(decoded.header),
  ];
  if (decoded.payload) {
    sections.push(style.bold.cyan('Payload'), pretty(decoded.payload));
    const times = timeClaims
      .filter((c) => typeof decoded.payload![c] === 'number')
      .map((c) => [c, timeValue(c, (decoded.payload![c] as number) * 1000, now, style)] as const);
    if (times.length) sections.push(style.bold.cyan('Times'), keyValues(times, style));
  } else {
    sections.push(style.bold.cyan('Payload'), '  (encrypted)');
  }
  sections.push(style.bold.cyan('Signature'), `  ${decoded.signature_present ? 'present' : 'absent'}, ${style.yellow('NOT verified')}`);
  return sections.join('\n');
}
