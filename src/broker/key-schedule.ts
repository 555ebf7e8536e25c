/**
 * What each signing key does at a given moment, from the schedule the store keeps (a pure
 * function of the keys and the time, so every instance agrees without talking to the others).
 *
 * A rotation adds a key that is published at once but signs only from `signsFrom`, later by at
 * least the JWKS's cache lifetime: every relying party has the new key before any token needs it.
 * The keys it replaces are scheduled to retire once the longest token they may have signed has
 * expired; until then they stay published and honoured.
 */
import type { SigningKey } from '../jwt/sign.js';
import type { StoredSigningKey } from './store/types.js';

/**
 * - `next`: published, not signing yet (a rotation is under way);
 * - `signing`: the key new tokens are signed with;
 * - `verifying`: replaced, published and honoured until it retires;
 * - `retired`: neither published nor honoured.
 */
export type KeyState = 'next' | 'signing' | 'verifying' | 'retired';

export interface ScheduledKey extends StoredSigningKey {
  state: KeyState;
}

const isRetired = (k: StoredSigningKey, now: number): boolean => k.retiresAt !== null && k.retiresAt <= now;

/**
 * Each key's state at `now` (ms), in the order given. The signing key is the unretired one with
 * the latest `signsFrom` not after `now` (the latest `createdAt` on a tie); none when no key
 * qualifies.
 */
export function keyStates(keys: readonly StoredSigningKey[], now: number): ScheduledKey[] {
  let signing: StoredSigningKey | undefined;
  for (const k of keys) {
    if (isRetired(k, now) || k.signsFrom > now) continue;
    if (!signing || k.signsFrom > signing.signsFrom || (k.signsFrom === signing.signsFrom && k.createdAt > signing.createdAt)) signing = k;
  }
  return keys.map((k) => ({
    ...k,
    state: isRetired(k, now) ? 'retired' : k === signing ? 'signing' : k.signsFrom > now ? 'next' : 'verifying',
  }));
}

/** The key that signs at `now`; undefined when none does (every key retired or not yet signing). */
export function signingKeyAt(keys: readonly StoredSigningKey[], now: number): SigningKey | undefined {
  return keyStates(keys, now).find((k) => k.state === 'signing')?.key;
}

/** The keys published and honoured at `now`: every one not retired, the next one included. */
export function publishedKeysAt(keys: readonly StoredSigningKey[], now: number): SigningKey[] {
  return keys.filter((k) => !isRetired(k, now)).map((k) => k.key);
}

/** Seconds of clock difference between instances allowed for when a replaced key retires. */
export const RETIRE_LEEWAY_SECONDS = 60;

export interface RotationPlan {
  /** When the new key starts signing (ms). */
  signsFrom: number;
  /** When the keys it replaces retire (ms): the last token they sign has expired by then. */
  retireOthersAt: number;
}

/**
 * The schedule of a rotation made at `now` (ms): the new key signs `delaySeconds` later; the
 * keys it replaces may sign until then, so they retire a token lifetime (and a minute of clock
 * leeway) after that.
 */
export function planRotation(now: number, delaySeconds: number, tokenTtlSeconds: number): RotationPlan {
  const signsFrom = now + delaySeconds * 1000;
  return { signsFrom, retireOthersAt: signsFrom + (tokenTtlSeconds + RETIRE_LEEWAY_SECONDS) * 1000 };
}
