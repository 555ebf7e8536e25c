/**
 * The one error hierarchy, and the one table of exit codes.
 *
 * Commands and flows end with an {@link Outcome} (returned) or throw one of these errors; each
 * error class carries its exit class and a literal `code` (jose's `ERR_*` style) that callers
 * compare or `switch` on. `main` is the only place where an outcome becomes the process's exit
 * code, through {@link exitCode}.
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

/**
 * How a command ends: `ok`, an error's exit class, or `not_set` (`config get` of a key that is
 * not set, exit 1 as `git config --get`).
 */
export type Outcome = 'ok' | 'not_set' | ExitClass;

/** The contract's exit codes. */
export const EXIT_CODES: Readonly<Record<Outcome, number>> = {
  ok: 0,
  token_rejected: 1,
  not_set: 1,
  usage: 2,
  remote: 3,
  not_signed_in: 4,
  refused: 5,
  interrupted: 130,
  internal: 70,
};

/** The exit code of an outcome. */
export function exitCode(outcome: Outcome): number {
  return EXIT_CODES[outcome];
}

/** The `code` of each error class, for `switch (err.code)`. */
export type ErrorCode =
  | 'ERR_TOKEN_REJECTED'
  | 'ERR_USAGE'
  | 'ERR_REMOTE'
  | 'ERR_NOT_SIGNED_IN'
  | 'ERR_AUTHORIZATION_REFUSED'
  | 'ERR_OAUTH_REFUSED'
  | 'ERR_INTERRUPTED';

export interface AuthbridgeErrorOptions {
  /** One line telling the user what to do next. */
  hint?: string;
  cause?: unknown;
}

/** Base class: `message` is `<what failed>: <why>`, printed after `authbridge: `. */
export abstract class AuthbridgeError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly exitClass: ExitClass;
  readonly hint: string | undefined;

  constructor(message: string, options: AuthbridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }

  /** The contract's exit code for this error (library callers; the CLI decides in `main`). */
  get exitCode(): number {
    return exitCode(this.exitClass);
  }
}

/** Exit 1: the token failed verification, is not a JWT, or introspection says inactive. */
export class TokenRejectedError extends AuthbridgeError {
  readonly code = 'ERR_TOKEN_REJECTED' as const;
  readonly exitClass = 'token_rejected' as const;
}

/** Exit 2: bad flags, missing issuer/audience, unreadable file, bad config. */
export class UsageError extends AuthbridgeError {
  readonly code = 'ERR_USAGE' as const;
  readonly exitClass = 'usage' as const;
}

/** Exit 3: IdP, broker, JWKS or backend unreachable, timed out, or answered 5xx/garbage. */
export class RemoteError extends AuthbridgeError {
  readonly code = 'ERR_REMOTE' as const;
  readonly exitClass = 'remote' as const;
}

/** Exit 4: no usable cached token for the profile. */
export class NotSignedInError extends AuthbridgeError {
  readonly code = 'ERR_NOT_SIGNED_IN' as const;
  readonly exitClass = 'not_signed_in' as const;
}

/** Exit 5: access_denied, state mismatch, login timeout, invalid_grant, broker refused. */
export class AuthorizationRefusedError extends AuthbridgeError {
  readonly code: 'ERR_AUTHORIZATION_REFUSED' | 'ERR_OAUTH_REFUSED' = 'ERR_AUTHORIZATION_REFUSED';
  readonly exitClass = 'refused' as const;
}

/** Exit 5: a refusal that carries the server's OAuth `error` code (`invalid_grant`, `access_denied` …). */
export class OAuthRefusedError extends AuthorizationRefusedError {
  override readonly code = 'ERR_OAUTH_REFUSED' as const;

  constructor(
    message: string,
    /** The OAuth error code the server answered. */
    readonly oauthError: string,
    options: AuthbridgeErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** Exit 130: SIGINT. */
export class InterruptedError extends AuthbridgeError {
  readonly code = 'ERR_INTERRUPTED' as const;
  readonly exitClass = 'interrupted' as const;
}

/**
 * `err` with `hint` as its line of what to do (after its own hint, if it had one): a caller that
 * knows more about the situation than the thrower says so without changing the error's class.
 */
export function withHint<E extends AuthbridgeError>(err: E, hint: string): E {
  (err as { hint: string | undefined }).hint = err.hint ? `${err.hint} ${hint}` : hint;
  return err;
}

/** Whether `err` is one of ours. The build emits this module once, so `instanceof` holds across bundles. */
export function isAuthbridgeError(err: unknown): err is AuthbridgeError {
  return err instanceof AuthbridgeError;
}

/** The OAuth `error` code of a refusal (`invalid_grant` …), if that is what `err` is. */
export function oauthErrorOf(err: unknown): string | undefined {
  return err instanceof OAuthRefusedError ? err.oauthError : undefined;
}

/** A short description of any thrown value, for wrapping. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    // fetch() failures hide the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
    if (err.message === 'fetch failed' && cause instanceof Error) return describeError(cause);
    if (typeof code === 'string' && !err.message.includes(code) && !(err instanceof AuthbridgeError)) return `${err.message} (${code})`;
    return err.message || err.name;
  }
  return String(err);
}
