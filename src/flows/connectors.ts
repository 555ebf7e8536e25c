/**
 * How flows reach an IdP and a broker. Flows take these from their input (`FlowIo.connect`), so a
 * test can count, delay or fail connections around the real adapters; by default they are the
 * openid-client adapters, loaded on first use (runtime/lazy.ts).
 */
import type { BrokerClient, BrokerConnectOptions } from '../oidc/broker-client.js';
import type { SyneriseLoginInput, SyneriseLoginResult } from '../oidc/synerise.js';
import type { IdpClient, IdpConnectOptions } from '../oidc/client.js';
import { loadBrokerAdapter, loadIdpAdapter, loadSyneriseAdapter } from '../runtime/lazy.js';

export interface Connectors {
  /** Discovers the IdP and configures the client (oidc/client.ts `connectIdp`). */
  idp(options: IdpConnectOptions): Promise<IdpClient>;
  /** Reads the broker's RFC 8414 metadata and configures its client (oidc/broker-client.ts `connectBroker`). */
  broker(options: BrokerConnectOptions): Promise<BrokerClient>;
  /** The Synerise-compatible login call. */
  synerise(input: SyneriseLoginInput): Promise<SyneriseLoginResult>;
}

/** The openid-client adapters. */
export const oidcConnectors: Connectors = {
  idp: async (options) => (await loadIdpAdapter()).connectIdp(options),
  broker: async (options) => (await loadBrokerAdapter()).connectBroker(options),
  synerise: async (input) => (await loadSyneriseAdapter()).syneriseLogin(input),
};
