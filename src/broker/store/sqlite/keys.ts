/** The broker's signing keys in SQLite: the first generated on first start, then rotated on request. */
import type Database from 'better-sqlite3';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../../jwt/sign.js';
import { publishedKeysAt } from '../../key-schedule.js';
import type { StoredSigningKey } from '../types.js';

interface KeyRow {
  kid: string;
  private_jwk: string;
  created_at: number;
  signs_from: number;
  retired_at: number | null;
}

export interface KeyStatements {
  all: Database.Statement<[], KeyRow>;
  insert: Database.Statement<[string, string, string, number, number]>;
  scheduleOthers: Database.Statement<[number, string]>;
  retire: Database.Statement<[number, number, string]>;
}

export function prepareKeyStatements(db: Database.Database): KeyStatements {
  return {
    all: db.prepare<[], KeyRow>('SELECT kid, private_jwk, created_at, signs_from, retired_at FROM signing_keys ORDER BY signs_from DESC, created_at DESC'),
    insert: db.prepare<[string, string, string, number, number]>(
      'INSERT INTO signing_keys (kid, alg, private_jwk, created_at, signs_from) VALUES (?, ?, ?, ?, ?)',
    ),
    scheduleOthers: db.prepare<[number, string]>('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL AND kid != ?'),
    retire: db.prepare<[number, number, string]>('UPDATE signing_keys SET retired_at = min(coalesce(retired_at, ?), ?) WHERE kid = ?'),
  };
}

const toStored = (row: KeyRow): StoredSigningKey => ({
  key: signingKeyFromJwk(JSON.parse(row.private_jwk) as Record<string, unknown>),
  createdAt: row.created_at,
  signsFrom: row.signs_from,
  retiresAt: row.retired_at,
});

/** Every key with its schedule, the latest `signsFrom` first. */
export function readSigningKeys(s: KeyStatements): StoredSigningKey[] {
  return s.all.all().map(toStored);
}

export function insertSigningKey(s: KeyStatements, key: SigningKey, createdAt: number, signsFrom: number): void {
  s.insert.run(key.kid, key.alg, JSON.stringify(key.privateJwk), createdAt, signsFrom);
}

/**
 * Makes a key that signs from `now` when none is published at `now` (first start, or every key
 * retired). In one immediate transaction, so two brokers starting on one file agree on the key;
 * any key not retired will do, as one another process made a moment ago may sign from a `now`
 * later than ours.
 */
export function ensureSigningKey(db: Database.Database, s: KeyStatements, now: number): void {
  db.transaction(() => {
    if (publishedKeysAt(readSigningKeys(s), now).length > 0) return;
    insertSigningKey(s, generateSigningKey(), now, now);
  }).immediate();
}

/** A rotation (BrokerStore.addSigningKey), in one immediate transaction. */
export function addSigningKey(
  db: Database.Database,
  s: KeyStatements,
  input: { key: SigningKey; createdAt: number; signsFrom: number; retireOthersAt: number },
): void {
  db.transaction(() => {
    insertSigningKey(s, input.key, input.createdAt, input.signsFrom);
    s.scheduleOthers.run(input.retireOthersAt, input.key.kid);
  }).immediate();
}
