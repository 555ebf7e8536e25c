/**
 * Human views of the sign-in commands. Tokens never appear here. What an IdP, a broker or the
 * cache file says (issuer, subject, email, scopes, an introspection answer, a check's detail) is
 * shown through `safeText` before it is styled.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { CachedSession } from '../cache/types.js';
import type { Context } from '../context.js';
import type { ExchangeOutcome } from '../flows/exchange.js';
import type { LogoutDocument } from '../flows/logout.js';
import type { ProfileStatus } from '../flows/status.js';
import type { SwitchResult } from '../flows/switch.js';
import { formatTime, relativeTime } from '../util/time.js';
import { keyValues } from './blocks.js';
import { colorLevel, type OutputOptions } from './output.js';
import { safeJson, safeText } from '../util/safe-text.js';

function expiry(ms: number | undefined, now: number, style: ChalkInstance): string {
  if (ms === undefined) return 'held (expiry unknown)';
  const text = formatTime(ms, now);
  return ms > now ? `expires ${text}` : style.yellow(`expired ${text}`);
}

function who(session: CachedSession): string {
  if (session.grant === 'client_credentials') return `client ${safeText(session.client_id)}`;
  const email = session.email ? safeText(session.email) : undefined;
  const subject = session.subject ? safeText(session.subject) : undefined;
  if (email && subject) return `${email} (sub ${subject})`;
  return email ?? (subject ? `sub ${subject}` : 'an unknown user');
}

/** `status`: one block a profile. */
export function renderStatus(statuses: ProfileStatus[], now: number, style: ChalkInstance): string {
  return statuses
    .map(({ document: doc, session, stashed, expired }) => {
      const name = style.bold(doc.profile);
      if (!session) return `${name}: ${style.yellow('not signed in')}`;
      const headline = expired
        ? `${name}: ${style.red('session expired')}, run \`authbridge login${doc.profile === 'default' ? '' : ` --profile ${doc.profile}`}\``
        : doc.signed_in
          ? `${name}: ${style.green('signed in')} as ${who(session)}`
          : `${name}: ${style.yellow('not signed in')} (${doc.refreshable ? 'tokens expired; `authbridge refresh` may renew them' : session.grant === 'client_credentials' ? `the client credentials token of client ${safeText(session.client_id)} expired; \`authbridge token\` gets another` : 'the access token expired and no refresh token is held to renew it'})`;
      const rows: Array<[string, string]> = [['issuer', safeText(session.issuer)]];
      if (session.access_token) rows.push(['access token', expiry(session.access_token_expires_at, now, style)]);
      if (session.id_token) rows.push(['ID token', expiry(session.id_token_expires_at, now, style)]);
      rows.push(['refresh token', session.refresh_token ? (expired ? 'refused by the IdP' : 'held') : 'none']);
      rows.push(['scopes', safeText(session.scopes.join(' ')) || '(none)']);
      if (stashed.length > 0) {
        const others = stashed.map((s) => safeText(s.email ?? s.subject ?? s.issuer)).join(', ');
        rows.push(['other accounts', `${others} (\`authbridge switch\` to use one)`]);
      }
      if (doc.storage) rows.push(['stored in', doc.storage === 'keychain' ? 'the OS keychain' : 'the cache file (mode 0600)']);
      if (doc.broker) {
        rows.push(['broker', `${doc.broker.signed_in ? 'signed in' : doc.check?.broker?.live === false ? 'ended' : 'expired'} at ${safeText(doc.broker.issuer)} as ${safeText(doc.broker.subject)}, ${expiry(session.broker!.expires_at, now, style)}`]);
      }
      const check = doc.check?.idp;
      if (check) {
        const verdict = check.live === true ? style.green('live') : check.live === false ? style.red('not live') : style.yellow('unknown');
        rows.push(['IdP check', `${verdict}: ${safeText(check.detail)}`]);
      }
      const brokerCheck = doc.check?.broker;
      if (brokerCheck) rows.push(['broker check', `${brokerCheck.live ? style.green('live') : style.red('not live')}: ${safeText(brokerCheck.detail)}`]);
      return `${headline}\n${keyValues(rows, style)}`;
    })
    .join('\n\n');
}

/** `login`: the line told on stderr once signed in. */
export function renderLoginDone(session: CachedSession, now: number, style: ChalkInstance): string {
  const until = session.access_token_expires_at ?? session.id_token_expires_at;
  return `${style.green('✓')} Signed in to ${safeText(session.issuer)} as ${style.bold(who(session))}${until ? `; the access token ${expiry(until, now, style)}` : ''}.`;
}

/** `introspect`: the IdP's answer, times made readable. */
export function renderIntrospection(result: Record<string, unknown>, now: number, style: ChalkInstance): string {
  const head = result.active ? style.green.bold('active') : style.red.bold('inactive');
  const rows: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(result)) {
    if (key === 'active') continue;
    if ((key === 'exp' || key === 'iat' || key === 'nbf' || key === 'auth_time') && typeof value === 'number') {
      rows.push([key, formatTime(value * 1000, now)]);
    } else {
      rows.push([key, safeText(typeof value === 'string' ? value : safeJson(value))]);
    }
  }
  return rows.length ? `${head}\n${keyValues(rows, style)}` : head;
}

/** `logout`: one line a profile (warnings are printed separately). */
export function renderExchange(outcome: ExchangeOutcome, now: number, style: ChalkInstance): string {
  const status = outcome.account_status === 'created' ? ' (new customer registered)' : outcome.account_status === 'existing' ? ' (existing customer)' : '';
  return [
    `${style.green('✓')} Exchanged the IdP token with the broker${status}.`,
    keyValues(
      [
        ['broker', safeText(outcome.broker)],
        ['subject', safeText(outcome.subject)],
        ['expires', `${outcome.expires_at} (${relativeTime(Date.parse(outcome.expires_at), now)})`],
        ['token type', safeText(outcome.issued_token_type)],
      ],
      style,
    ),
  ].join('\n');
}

export function renderLogout(doc: LogoutDocument, local: boolean, style: ChalkInstance): string {
  if (!doc.removed) return `Profile ${style.bold(doc.profile)} was not signed in; nothing to remove.`;
  const remote = local ? 'not revoked (--local)' : doc.revoked.idp ? 'revoked at the IdP' : style.yellow('not revoked at the IdP');
  // Which accounts, said when it is not simply the profile's only one.
  const several = doc.signed_out.length > 1 || doc.now_active ? ` Signed out: ${doc.signed_out.map((a) => safeText(a)).join(', ')}.` : '';
  const next = doc.now_active ? ` Now active: ${style.bold(safeText(doc.now_active))} (\`authbridge logout --all-accounts\` signs out every account).` : '';
  return `${style.green('✓')} Signed out of profile ${style.bold(doc.profile)}: tokens removed from the cache, ${remote}.${several}${next}`;
}

/** `switch`: the line told on stderr. */
export function renderSwitch(result: SwitchResult, style: ChalkInstance): string {
  const profile = style.bold(result.profile);
  if (!result.switched) return `${safeText(result.active.account)} is already the active account of profile ${profile}.`;
  return `${style.green('✓')} Profile ${profile} now uses ${style.bold(safeText(result.active.account))} (was ${safeText(result.previous.account)}).`;
}

/** Styles for lines written to stderr (colour follows stderr being a terminal, not stdout). */
export function stderrStyle(ctx: Context, global: OutputOptions): ChalkInstance {
  return new Chalk({ level: colorLevel(ctx, ctx.stderr, global.color) });
}
