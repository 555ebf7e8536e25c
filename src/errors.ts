/**
 * The one error hierarchy. Every failure a user can cause or meet is one of these; each class
 * carries the contract's exit code, and `main` is the only place that turns them into one.
 */

/** The exit classes of the contract, as they appear in `{"error":{"code":…}}`. */
export type ExitClass =
  | 'token_rejected'
  | 'usage'
  | 'remote'
  | 'not_signed_in'
  | 'refused'
  | 'interrupted'
  | 'internal';

export const EXIT_CODES: Record<ExitClass, number> = {
  token_rejected: 1,
  usage: 2,
  remote: 3,
  not_signed_in: 4,
  refused: 5,
  interrupted: 130,
  internal: 70,
};

export interface AuthbridgeErrorOptions {
  /** One line telling the user what to do next. */
  hint?: string;
  cause?: unknown;
}

/** Base class: `message` is `<what failed>: <why>`, printed after `authbridge: `. */
export abstract class AuthbridgeError extends Error {
  abstract readonly exitClass: ExitClass;
  readonly hint: string | undefined;

  constructor(message: string, options: AuthbridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.exitClass];
  }
}

/** Exit 1: the token failed verification, is not a JWT, or introspection says inactive. */
export class TokenRejectedError extends AuthbridgeError {
  readonly exitClass = 'token_rejected' as const;
}

/** Exit 2: bad flags, missing issuer/audience, unreadable file, bad config. */
export class UsageError extends AuthbridgeError {
  readonly exitClass = 'usage' as const;
}

/** Exit 3: IdP, broker, JWKS or backend unreachable, timed out, or answered 5xx/garbage. */
export class RemoteError extends AuthbridgeError {
  readonly exitClass = 'remote' as const;
}

/** Exit 4: no usable cached token for the profile. */
export class NotSignedInError extends AuthbridgeError {
  readonly exitClass = 'not_signed_in' as const;
}

/** Exit 5: access_denied, state mismatch, login timeout, invalid_grant, broker refused. */
export class AuthorizationRefusedError extends AuthbridgeError {
  readonly exitClass = 'refused' as const;
}

/** Exit 130: SIGINT. */
export class InterruptedError extends AuthbridgeError {
  readonly exitClass = 'interrupted' as const;
}

/**
 * Whether `err` is one of ours. By shape rather than `instanceof`: the CLI's entry and its command
 * modules are separate bundles, each with its own copy of these classes.
 */
export function isAuthbridgeError(err: unknown): err is AuthbridgeError {
  const exitClass = (err as { exitClass?: unknown } | null)?.exitClass;
  return err instanceof Error && typeof exitClass === 'string' && Object.hasOwn(EXIT_CODES, exitClass);
}

/** A short description of any thrown value, for wrapping. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    // fetch() failures hide the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
    if (err.message === 'fetch failed' && cause instanceof Error) return describeError(cause);
    if (typeof code === 'string' && !err.message.includes(code)) return `${err.message} (${code})`;
    return err.message || err.name;
  }
  return String(err);
}
