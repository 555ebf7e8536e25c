import type { Invocation } from '../main.js';
import { loadProfile } from './profile.js';

export interface ProfileDefaults {
  issuer?: string;
  clientId?: string;
}

/** The issuer and client id that `verify` falls back to when `--issuer`/`--audience` are absent. */
export async function profileDefaults(inv: Invocation): Promise<ProfileDefaults> {
  // verify's own --issuer is not a profile flag here; only env and config fill the gaps.
  const profile = await loadProfile({ ...inv, opts: {} });
  return { issuer: profile.issuer, clientId: profile.clientId };
}
