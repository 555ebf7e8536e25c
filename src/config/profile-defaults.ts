import type { Invocation } from '../main.js';

export interface ProfileDefaults {
  issuer?: string;
  clientId?: string;
}

/**
 * The issuer and client id that `verify` falls back to when `--issuer`/`--audience` are absent.
 * Read from the environment (AUTHBRIDGE_ISSUER, AUTHBRIDGE_CLIENT_ID).
 */
export async function profileDefaults(inv: Invocation): Promise<ProfileDefaults> {
  return { issuer: inv.ctx.env.AUTHBRIDGE_ISSUER || undefined, clientId: inv.ctx.env.AUTHBRIDGE_CLIENT_ID || undefined };
}
