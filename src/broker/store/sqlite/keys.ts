/** The broker's signing key in SQLite: generated on first start, then loaded. */
import type Database from 'better-sqlite3';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../../jwt/sign.js';

/**
 * The signing keys not retired, newest first; on first start one is generated and stored
 * (created at `now`, ms). In one immediate transaction, so two brokers starting on one file
 * agree on the key.
 */
export function loadSigningKeys(db: Database.Database, now: number): SigningKey[] {
  const tx = db.transaction(() => {
    const rows = db
      .prepare<[], { kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC')
      .all();
    if (rows.length === 0) {
      const key = generateSigningKey();
      db.prepare('INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES (?, ?, ?, ?)').run(
        key.kid,
        key.alg,
        JSON.stringify(key.privateJwk),
        now,
      );
      return [key];
    }
    return rows.map((row) => signingKeyFromJwk(JSON.parse(row.private_jwk) as Record<string, unknown>));
  });
  return tx.immediate();
}
