/** Human views of `authbridge demo`. Tokens never appear here. */
import type { ChalkInstance } from 'chalk';
import type { DemoStepName, DemoSummary } from '../demo/run.js';
import { safeText } from '../util/safe-text.js';
import { keyValues } from './blocks.js';

/** Indents every non-empty line of `text`. */
export function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => (line ? `${by}${line}` : line))
    .join('\n');
}

export function renderDemoStart(info: { issuer: string; broker: string; dir: string; headless: boolean }, style: ChalkInstance): string {
  const ok = style.green('✓');
  const rows: Array<[string, string]> = [
    ['IdP', `${info.issuer}  (oidc-provider; user ${style.bold('demo')}, password ${style.bold('demo')})`],
    ['broker', `${info.broker}  (the reference broker, trusting that IdP)`],
    ['files', `${info.dir}  (config, token cache, SQLite; removed at the end)`],
  ];
  return [
    `${style.bold('authbridge demo')}: an OpenID provider and a token broker on this machine; your own config and tokens are not touched.`,
    '',
    `${ok} Started both servers on 127.0.0.1`,
    keyValues(rows, style),
  ].join('\n');
}

const STEP_TITLES: Record<DemoStepName, (headless: boolean) => string> = {
  login: (headless) =>
    `Sign in with Authorization Code + PKCE ${headless ? '(headless)' : '(in your browser: user demo, password demo)'}`,
  id_token: () => "Verify the ID token against the IdP's JWKS",
  exchange: () => 'Exchange the access token with the broker (RFC 8693 token exchange)',
  status: () => 'Status, asking the IdP and the broker whether the sessions are live (status --check)',
  logout: () => 'Sign out: revoke at the IdP (RFC 7009) and end the broker session',
};

export function renderDemoStep(index: number, total: number, name: DemoStepName, headless: boolean, style: ChalkInstance): string {
  return `\n${style.bold(`[${index}/${total}]`)} ${style.bold(STEP_TITLES[name](headless))}`;
}

/**
 * The failed step's line, with its reason: said here, in order, before the servers stop (the
 * contract's `authbridge: …` error line still ends the output).
 */
export function renderDemoFailed(name: DemoStepName, err: unknown, style: ChalkInstance): string {
  const what: Record<DemoStepName, string> = {
    login: 'signing in',
    id_token: 'verifying the ID token',
    exchange: 'the exchange with the broker',
    status: 'status',
    logout: 'signing out',
  };
  const why = safeText(err instanceof Error ? err.message : String(err));
  return indent(`${style.red('✗')} The demo stopped at ${what[name]}: ${why}`);
}

/** `--keep`: the environment and the commands to try, while both servers run. */
export function renderKeep(summary: DemoSummary, style: ChalkInstance): string {
  const keep = summary.keep!;
  const exports = Object.entries(keep.env).map(([k, v]) => `  export ${k}=${shellQuote(v)}`);
  return [
    '',
    `${style.green('✓')} Every step worked. Both servers keep running until you press Ctrl-C.`,
    '',
    'In another terminal, point authbridge at them:',
    '',
    ...exports,
    '',
    'then try (from this checkout, `npx authbridge` instead of `authbridge`):',
    '',
    ...keep.commands.map((c) => `  ${c}`),
    '',
    style.dim('Waiting for Ctrl-C …'),
  ].join('\n');
}

/**
 * The last lines: servers stopped, files removed; after `--keep`, the `unset` line for the other
 * terminal, whose exports now point at nothing.
 */
export function renderDemoEnd(outcome: 'done' | 'interrupted' | 'failed', dir: string, style: ChalkInstance, exported: readonly string[] = []): string {
  const end = outcome === 'done' ? `\n${style.green('✓')} ${style.bold('Every step worked.')} Stopped both servers and removed ${dir}.` : `\nStopped both servers and removed ${dir}.`;
  if (exported.length === 0) return end;
  return `${end}\nIn the other terminal, forget the demo's settings:\n\n  unset ${exported.join(' ')}\n`;
}

/** Single quotes unless the value is plainly safe for a POSIX shell. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
