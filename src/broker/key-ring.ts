/**
 * The broker's signing keys as a running instance sees them: the store's schedule
 * (key-schedule.ts), re-read every KEY_REFRESH_SECONDS and at once (at most once a second) when a
 * token names a key this instance does not know, so a key rotated at another instance is
 * published, honoured and used for signing here too.
 */
import type { SigningKey } from '../jwt/sign.js';
import { publishedKeysAt, signingKeyAt } from './key-schedule.js';
import type { BrokerStore, StoredSigningKey } from './store/types.js';

/** Seconds between re-reads of the keys: how late an instance may learn of a rotation. */
export const KEY_REFRESH_SECONDS = 30;
/** Seconds relying parties may cache the JWKS (its Cache-Control max-age). */
export const JWKS_MAX_AGE_SECONDS = 300;
/**
 * Seconds a rotated-in key is published before it signs, by default: every relying party's
 * cached JWKS and every instance's key ring has it by then.
 */
export const ROTATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_REFRESH_SECONDS;
/** Milliseconds at least between two re-reads for an unknown kid. */
const UNKNOWN_KID_REFRESH_MS = 1000;

export class KeyRing {
  private stored: readonly StoredSigningKey[] = [];
  private honoured: ReadonlyMap<string, SigningKey> = new Map();
  private lastSigning: SigningKey | undefined;
  /** When the next honoured key retires (ms): `honoured` is recomputed then. */
  private nextRetirement = Infinity;
  private lastRead = 0;
  private reading: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: Pick<BrokerStore, 'signingKeys'>,
    private readonly now: () => number,
  ) {}

  /** Reads the keys once. @throws what the store throws. */
  static async load(store: Pick<BrokerStore, 'signingKeys'>, now: () => number): Promise<KeyRing> {
    const ring = new KeyRing(store, now);
    await ring.refresh();
    return ring;
  }

  /** Re-reads every `intervalMs`; `onError` hears a failed read (the keys known are kept). */
  start(onError: (err: unknown) => void, intervalMs = KEY_REFRESH_SECONDS * 1000): void {
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the keys; resolves whether the set of honoured kids changed. */
  refresh(): Promise<boolean> {
    this.reading ??= (async () => {
      try {
        this.lastRead = this.now();
        const before = [...this.honoured.keys()].join();
        this.apply(await this.store.signingKeys());
        return [...this.honoured.keys()].join() !== before;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /** A re-read for a token naming an unknown key, at most once a second; resolves whether anything changed. */
  async refreshForUnknownKid(): Promise<boolean> {
    if (this.now() - this.lastRead < UNKNOWN_KID_REFRESH_MS) return false;
    return this.refresh();
  }

  private apply(keys: readonly StoredSigningKey[]): void {
    this.stored = keys;
    const now = this.now();
    this.honoured = new Map(publishedKeysAt(keys, now).map((k) => [k.kid, k]));
    this.nextRetirement = Math.min(Infinity, ...keys.map((k) => (k.retiresAt !== null && k.retiresAt > now ? k.retiresAt : Infinity)));
  }

  /**
   * The key to sign with now. Should the store have none that signs now (every key retired by
   * hand), the newest published one, else the last one used: the broker goes on issuing.
   */
  signing(): SigningKey {
    const now = this.now();
    const key = signingKeyAt(this.stored, now) ?? publishedKeysAt(this.stored, now)[0] ?? this.lastSigning;
    if (!key) throw new Error('the broker has no signing key');
    this.lastSigning = key;
    return key;
  }

  /** The keys published in the JWKS and honoured in tokens, by kid (retired ones drop out as time passes). */
  keys(): ReadonlyMap<string, SigningKey> {
    if (this.now() >= this.nextRetirement) this.apply(this.stored);
    return this.honoured;
  }
}
