/**
 * The page of `authbridge inspect`: one token explained (header and payload with what each claim
 * means, a timeline of its times against now, the verification checklist when there is one) and
 * a box to paste another. Plain HTML with one nonce'd `<style>` and inline SVG: no script, no
 * external asset (inspect/server.ts sends the CSP that enforces it).
 */
import type { DecodedToken } from '../jwt/decode.js';
import type { JsonObject } from '../jwt/parse.js';
import type { VerifyResult } from '../jwt/verify.js';
import { isoTime, relativeTime } from '../util/time.js';

export interface InspectView {
  /** Milliseconds since the epoch: what "now" is on the timeline. */
  now: number;
  /** The token as pasted (shown again in the box). */
  input?: string;
  /** Why the input is not a token. */
  error?: string;
  decoded?: DecodedToken;
  /** The checklist, when an issuer or keys were given. */
  verification?: VerifyResult;
  /** Why there is no checklist, or what it left out. */
  verifyNote?: string;
}

/** What the registered claims and header parameters mean (RFC 7519, OIDC Core, RFC 9068, RFC 8693). */
export const CLAIM_EXPLANATIONS: Readonly<Record<string, string>> = {
  iss: 'Issuer: who made and signed the token (the IdP or the broker).',
  sub: 'Subject: the user (or client) the token is about, unique within the issuer.',
  aud: 'Audience: who the token is for; a recipient must find itself here.',
  exp: 'Expiry: after this moment the token must be refused.',
  nbf: 'Not before: before this moment the token must be refused.',
  iat: 'Issued at: when the token was made.',
  jti: 'JWT ID: unique id of this token (lets a server refuse a replay).',
  azp: 'Authorized party: the client the ID token was issued to (OIDC), when aud holds several.',
  acr: 'Authentication context class: how strongly the user was authenticated (e.g. MFA level).',
  amr: 'Authentication methods: how the user signed in (pwd, otp, mfa, hwk, …; RFC 8176).',
  at_hash: 'Access token hash: half of the hash of the access token issued with this ID token; binds the two.',
  c_hash: 'Code hash: half of the hash of the authorization code issued with this ID token (hybrid flow).',
  s_hash: 'State hash: half of the hash of the state value (FAPI).',
  nonce: 'Nonce: the value the client sent in the login request; it must match (replay protection).',
  auth_time: 'Authentication time: when the user last actually signed in (not when the token was made).',
  sid: 'Session id: the IdP session this token belongs to (used by logout).',
  scope: 'Scope: what the access token allows, space-separated.',
  scp: 'Scopes (Microsoft and others): what the access token allows.',
  client_id: 'Client id: the client the access token was issued to (RFC 9068).',
  cnf: 'Confirmation: the key the token is bound to (DPoP, mTLS); only its holder may use it.',
  act: 'Actor: who acts on behalf of the subject (token exchange, RFC 8693).',
  may_act: 'May act: who is allowed to act on behalf of the subject (RFC 8693).',
  email: 'Email address of the user.',
  email_verified: 'Whether the IdP verified the email address.',
  name: 'Full name of the user.',
  given_name: 'Given (first) name.',
  family_name: 'Family (last) name.',
  preferred_username: 'The name the user is known by (not unique, not stable).',
  groups: 'Groups the user is in (IdP-specific).',
  roles: 'Roles the user has (IdP-specific).',
  idp: 'The identity provider behind the subject (the broker: which trusted IdP it verified).',
  updated_at: 'When the user\'s profile was last updated.',
  // Header
  alg: 'Algorithm the token is signed (or its key encrypted) with; "none" is never acceptable.',
  kid: 'Key id: which key of the issuer\'s JWKS signed it.',
  typ: 'Type: JWT for an ID token, at+jwt for an RFC 9068 access token.',
  cty: 'Content type: JWT when the payload is itself a token (nested).',
  enc: 'Content encryption algorithm (JWE).',
  jku: 'JWKS URL named by the token itself: never trust it to pick keys.',
  x5c: 'Certificate chain carried in the token.',
  x5t: 'Certificate thumbprint.',
};

const TIMELINE_CLAIMS = ['iat', 'nbf', 'auth_time', 'exp'] as const;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}

/** The token's time claims in milliseconds, those that are numbers. */
function times(payload: JsonObject): Array<{ claim: string; ms: number }> {
  return TIMELINE_CLAIMS.filter((c) => typeof payload[c] === 'number' && Number.isFinite(payload[c]) && Math.abs(payload[c] as number) < 8.64e12).map(
    (claim) => ({ claim, ms: (payload[claim] as number) * 1000 }),
  );
}

/** Where the token stands now: the banner's class and words. */
function verdict(payload: JsonObject | null, now: number): { cls: 'ok' | 'bad' | 'warn'; text: string } {
  if (!payload) return { cls: 'warn', text: 'Encrypted (JWE): the payload cannot be read without the key' };
  const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  const nbf = typeof payload.nbf === 'number' ? payload.nbf * 1000 : undefined;
  if (exp !== undefined && exp <= now) return { cls: 'bad', text: `Expired ${relativeTime(exp, now)} (${isoTime(exp)})` };
  if (nbf !== undefined && nbf > now) return { cls: 'warn', text: `Not valid yet: valid ${relativeTime(nbf, now)} (${isoTime(nbf)})` };
  if (exp === undefined) return { cls: 'warn', text: 'No expiry (exp): valid for ever, as far as the token says' };
  return { cls: 'ok', text: `Not expired: expires ${relativeTime(exp, now)} (${isoTime(exp)})` };
}

/** The time claims and now on one line, as inline SVG (no script, no image request). */
function timeline(payload: JsonObject, now: number): string {
  const points = [...times(payload), { claim: 'now', ms: now }];
  if (points.length < 2) return '';
  const min = Math.min(...points.map((p) => p.ms));
  const max = Math.max(...points.map((p) => p.ms));
  const span = max - min || 1;
  const width = 760;
  const left = 40;
  const inner = width - 2 * left;
  const x = (ms: number) => left + ((ms - min) / span) * inner;
  const exp = points.find((p) => p.claim === 'exp');
  const start = points.find((p) => p.claim === 'nbf') ?? points.find((p) => p.claim === 'iat');
  const valid =
    exp && start ? `<rect class="valid" x="${x(start.ms).toFixed(1)}" y="44" width="${Math.max(1, x(exp.ms) - x(start.ms)).toFixed(1)}" height="12"/>` : '';
  // Labels alternate above and below the line so close moments stay readable.
  const marks = points
    .sort((a, b) => a.ms - b.ms)
    .map((p, i) => {
      const px = x(p.ms).toFixed(1);
      const above = i % 2 === 0;
      // Labels at either end grow inwards, so none is cut off.
      const anchor = x(p.ms) < left + 60 ? 'start' : x(p.ms) > width - left - 60 ? 'end' : 'middle';
      const cls = p.claim === 'now' ? 'now' : p.claim === 'exp' && p.ms <= now ? 'expired' : 'mark';
      return (
        `<g class="${cls}"><line x1="${px}" x2="${px}" y1="36" y2="64"/>` +
        `<text x="${px}" y="${above ? 28 : 82}" text-anchor="${anchor}">${esc(p.claim)}</text>` +
        `<text class="when" x="${px}" y="${above ? 14 : 96}" text-anchor="${anchor}">${esc(p.claim === 'now' ? isoTime(p.ms) : relativeTime(p.ms, now))}</text></g>`
      );
    })
    .join('');
  return `<svg class="timeline" viewBox="0 0 ${width} 104" role="img" aria-label="timeline of the token's times against now">
<line class="axis" x1="${left}" x2="${width - left}" y1="50" y2="50"/>${valid}${marks}</svg>`;
}

function claimRows(doc: JsonObject, now: number): string {
  return Object.entries(doc)
    .map(([name, value]) => {
      let shown = typeof value === 'string' ? value : json(value);
      if (typeof value === 'number' && (TIMELINE_CLAIMS as readonly string[]).concat('updated_at').includes(name) && Math.abs(value) < 8.64e12) {
        shown = `${value}  ·  ${isoTime(value * 1000)} (${relativeTime(value * 1000, now)})`;
      }
      const meaning = CLAIM_EXPLANATIONS[name];
      return `<tr><th scope="row"><code>${esc(name)}</code></th><td><pre>${esc(shown)}</pre></td><td class="meaning">${meaning ? esc(meaning) : ''}</td></tr>`;
    })
    .join('\n');
}

function table(title: string, doc: JsonObject, now: number): string {
  return `<section><h2>${esc(title)}</h2><table><thead><tr><th>claim</th><th>value</th><th>what it means</th></tr></thead><tbody>
${claimRows(doc, now)}
</tbody></table></section>`;
}

function checklist(view: InspectView): string {
  const result = view.verification;
  if (!result) {
    return `<section><h2>Verification</h2><p class="note">${esc(view.verifyNote ?? 'Not verified.')}</p></section>`;
  }
  const items = result.checks
    .map((c) => `<li class="${c.ok ? 'pass' : 'fail'}"><span class="sym">${c.ok ? '✓' : '✗'}</span> <b>${esc(c.name)}</b> ${esc(c.detail)}</li>`)
    .join('\n');
  return `<section><h2>Verification</h2><p class="${result.valid ? 'ok' : 'bad'} verdict-line">${result.valid ? 'Token is valid' : `Token is NOT valid (${esc(result.reason ?? 'rejected')})`}</p>
<ul class="checks">
${items}
</ul>${view.verifyNote ? `<p class="note">${esc(view.verifyNote)}</p>` : ''}</section>`;
}

const STYLE = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--bg2:#f6f8fa}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0 auto;max-width:64rem;padding:1.2rem 1.5rem 3rem}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid var(--line);margin-bottom:1rem}
header h1{font-size:1.3rem;margin:.2rem 0 .6rem}header small{color:var(--muted)}
h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.banner{padding:.7rem 1rem;border-radius:6px;font-weight:600;font-size:1.1rem;border:1px solid}
.banner.ok{color:var(--ok);border-color:var(--ok);background:#dafbe1}.banner.bad{color:var(--bad);border-color:var(--bad);background:#ffebe9}
.banner.warn{color:var(--warn);border-color:var(--warn);background:#fff8c5}
.ok{color:var(--ok)}.bad{color:var(--bad)}
.summary{color:var(--muted);margin:.4rem 0 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
thead th{font-size:.8rem;text-transform:uppercase;color:var(--muted);letter-spacing:.03em}
td pre{margin:0;white-space:pre-wrap;word-break:break-all;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
td.meaning{color:var(--muted);font-size:.9rem;width:40%}code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
svg.timeline{width:100%;height:auto;background:var(--bg2);border-radius:6px}
svg .axis{stroke:#8c959f;stroke-width:2}svg .valid{fill:#aceebb}svg line{stroke-width:2}
svg .mark line{stroke:#0969da}svg .mark text{fill:#0969da}svg .expired line{stroke:var(--bad)}svg .expired text{fill:var(--bad)}
svg .now line{stroke:var(--fg);stroke-dasharray:3 2}svg .now text{fill:var(--fg);font-weight:600}
svg text{font:12px system-ui,sans-serif}svg text.when{font-size:10.5px;fill:var(--muted)!important;font-weight:400}
ul.checks{list-style:none;padding:0;margin:0}ul.checks li{padding:.25rem 0;border-bottom:1px solid var(--line)}
li.pass .sym{color:var(--ok)}li.fail .sym{color:var(--bad)}li.fail{color:var(--bad)}
.note{color:var(--muted)}.error{color:var(--bad);font-weight:600}
textarea{width:100%;min-height:6rem;font:13px/1.4 ui-monospace,Menlo,monospace;padding:.5rem;border:1px solid var(--line);border-radius:6px}
button{margin-top:.5rem;font:inherit;padding:.4rem 1.1rem;border-radius:6px;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
`;

/**
 * The whole page for `view`. Every value from the token is escaped; `nonce` is the CSP nonce of
 * the page's one `<style>`, `action` the path the paste box posts to.
 */
export function renderInspectPage(view: InspectView, nonce: string, action: string): string {
  const parts: string[] = [];
  const { decoded } = view;
  if (view.error) {
    parts.push(`<section><p class="banner bad error">${esc(view.error)}</p></section>`);
  } else if (decoded) {
    const state = verdict(decoded.payload, view.now);
    const who = decoded.payload
      ? [decoded.payload.sub !== undefined ? `sub ${String(decoded.payload.sub)}` : '', decoded.payload.iss !== undefined ? `from ${String(decoded.payload.iss)}` : '']
          .filter(Boolean)
          .join(' ')
      : '';
    parts.push(
      `<section><p class="banner ${state.cls}" id="verdict">${esc(state.text)}</p>` +
        `<p class="summary">${esc(`${decoded.format.toUpperCase()}, alg ${String(decoded.header.alg ?? '?')}${who ? `, ${who}` : ''}`)}</p></section>`,
    );
    if (decoded.payload) {
      const line = timeline(decoded.payload, view.now);
      if (line) parts.push(`<section><h2>Timeline</h2>${line}</section>`);
    }
    parts.push(checklist(view));
    parts.push(table('Header', decoded.header, view.now));
    if (decoded.payload) parts.push(table('Payload', decoded.payload, view.now));
    else parts.push('<section><h2>Payload</h2><p class="note">Encrypted (JWE).</p></section>');
  } else {
    parts.push('<section><p class="note">Paste a token below: an ID token, an access token, or a whole <code>Authorization: Bearer …</code> header or redirect URL.</p></section>');
  }
  parts.push(
    `<section><h2>Inspect another token</h2><form method="post" action="${esc(action)}">` +
      `<textarea name="token" spellcheck="false" autocomplete="off" placeholder="eyJ…">${esc(view.input ?? '')}</textarea>` +
      '<br><button type="submit">Inspect</button></form></section>',
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>authbridge inspect</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<style nonce="${esc(nonce)}">${STYLE}</style></head>
<body><header><h1>authbridge inspect</h1><small>served from this machine · nothing leaves it</small></header>
${parts.join('\n')}
<footer>Decoded locally by authbridge on 127.0.0.1. The signature is checked only in the Verification section, against the keys you gave.</footer>
</body></html>
`;
}
