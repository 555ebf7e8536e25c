/** What the routes are given by the server (each route takes the part it needs). */
import type { Broker } from '../broker.js';
import type { ClientRegistry } from '../clients.js';
import type { RateLimits } from '../rate-limit.js';
import type { BrokerStore } from '../store/types.js';

export interface RouteDeps {
  /**
   * The broker, which exists once the server listens (its issuer defaults to the bound
   * address). @throws OAuthError temporarily_unavailable (503) before that.
   */
  broker: () => Broker;
  clients: ClientRegistry;
  limiter: RateLimits;
  store: BrokerStore;
  /** The request log: one JSON line (lines are batched by the server). */
  log: (line: string) => void;
}
