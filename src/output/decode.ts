import type { ChalkInstance } from 'chalk';
import type { DecodedToken } from '../jwt/decode.js';
import { formatTime } from '../util/time.js';
import { keyValues } from './blocks.js';
import { safeJson } from '../util/safe-text.js';

/** Indented JSON; the token's strings as JSON escapes where a terminal would act on them. */
function pretty(value: unknown): string {
  return safeJson(value, 2)
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
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
      .map((c) => [c, formatTime((decoded.payload![c] as number) * 1000, now)] as const);
    if (times.length) sections.push(style.bold.cyan('Times'), keyValues(times, style));
  } else {
    sections.push(style.bold.cyan('Payload'), '  (encrypted)');
  }
  sections.push(style.bold.cyan('Signature'), `  ${decoded.signature_present ? 'present' : 'absent'}, ${style.yellow('NOT verified')}`);
  return sections.join('\n');
}
