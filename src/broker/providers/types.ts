import type { ProviderConfig } from '../config.js';

/** What a JWT subject token must be: an RFC 9068 access token, an ID token, or any JWT. */
export type TokenExpectation = 'access' | 'id' | 'any';

/** An upstream token that passed validation. */
export interface ValidatedSubject {
  /** The upstream subject (from `subjectPointer`). */
  subject: string;
  /** The mapped customer fields; a field whose pointer found nothing is absent. */
  fields: Record<string, unknown>;
}

/** Validates upstream tokens for one configured provider. */
export interface Provider {
  readonly id: string;
  readonly config: ProviderConfig;
  /**
   * @throws OAuthError `invalid_request` when the token is not acceptable,
   *   `temporarily_unavailable` when the IdP or backend cannot be asked.
   */
  validate(token: string, expectation: TokenExpectation): Promise<ValidatedSubject>;
}
