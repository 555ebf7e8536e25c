/**
 * `doctor`: checks a profile end to end, the way a login would meet it, and says what to fix.
 * Each check is reported (none stops the others, except where one needs another's answer:
 * no discovery, no JWKS). A failure is either the configuration's or this machine's (exit 2)
 * or a remote one (exit 3).
 */
import { lstat, readdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ConfigWarning } from '../config/config-file.js';
import type { Profile } from '../config/types.js';
import { describeError, isAuthbridgeError } from '../errors.js';
import { fetchJson } from '../http/fetch-json.js';
import { judgeTransport } from '../http/loopback.js';
import { CALLBACK_PATH, DEFAULT_REDIRECT_PORTS } from '../loopback/server.js';
import { SUPPORTED_ALGORITHMS, SYMMETRIC_ALGORITHMS, type JWK } from '../jwt/keys.js';
import { BROKER_ENDPOINTS, IDP_ENDPOINTS, endpointProblem } from '../oidc/metadata.js';
import { TOKEN_EXCHANGE_GRANT, authorizationServerMetadataUrl, discoveryUrl, fitsTenantTemplate, issuerInputProblem, issuerMismatchFix } from '../oidc/urls.js';
import { currentUid } from '../util/own-file.js';
import { relativeTime } from '../util/time.js';
import { ID_TOKEN_CLOCK_TOLERANCE_S } from './session.js';

/** `config`: the configuration or this machine (outcome `usage`); `remote`: the IdP or broker. */
export type DoctorKind = 'config' | 'remote';

export interface DoctorCheck {
  name: string;
  /** `warn`: works, but says what to do so that it keeps working (does not change the exit code). */
  status: 'ok' | 'warn' | 'fail' | 'skip';
  kind: DoctorKind;
  detail: string;
  /** What to do about a failure. */
  fix?: string;
}

export interface DoctorReport {
  profile: string;
  ok: boolean;
  /** `ok`; `usage`, a problem in the configuration or on this machine; `remote`, at the IdP or broker (configuration wins: it may cause the rest). */
  outcome: 'ok' | 'usage' | 'remote';
  checks: DoctorCheck[];
}

export interface DoctorInput {
  profileName: string;
  /**
   * Resolves the profile (flags > env > file), giving `warn` what is wrong with the config file
   * but not fatal; throws UsageError for a bad or unsafe (foreign, writable by others, symlinked)
   * config file.
   */
  loadProfile: (warn: (warning: ConfigWarning) => void) => Promise<Profile>;
  configFile: string;
  cacheDir: string;
  fetch: typeof fetch;
  /** This machine's time in ms since the epoch (`--now` simulates another). */
  now: number;
  /** `--port`: the loopback port login would use. */
  port?: number;
  /** Milliseconds for each HTTP request. Default 10 000. */
  timeoutMs?: number;
}

const ASYMMETRIC = SUPPORTED_ALGORITHMS.filter((a) => !(SYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
const SIGNING_KTY = new Set(['RSA', 'EC', 'OKP']);

function setCommand(profile: string, field: string, value: string): string {
  return `authbridge config set ${field} ${value}${profile === 'default' ? '' : ` --profile ${profile}`}`;
}

/** A port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Asks the authorization endpoint what login would ask (code, PKCE S256, the client id and the
 * redirect URI), without following its answer: most IdPs refuse an unknown client or a redirect
 * URI they do not accept at once (a 4xx page, or a redirect back with `error=`), and answer a
 * good request with their sign-in page.
 */
async function probeAuthorization(input: DoctorInput, endpoint: string, clientId: string, redirectUri: string, profile: string): Promise<DoctorCheck> {
  const url = new URL(endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'authbridge-doctor',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  })) {
    url.searchParams.set(k, v);
  }
  const name = 'authorization';
  let response: Response;
  try {
    response = await input.fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(input.timeoutMs ?? 10_000) });
    await response.body?.cancel();
  } catch (err) {
    return { name, status: 'fail', kind: 'remote', detail: `could not reach ${endpoint}: ${describeError(err)}`, fix: 'Check that the IdP is up.' };
  }
  const location = response.headers.get('location');
  const register = `register exactly ${redirectUri} for client ${clientId} at the IdP, or check clientId (${setCommand(profile, 'clientId', 'ID')})`;
  if (response.status >= 300 && response.status < 400 && location) {
    const target = new URL(location, url);
    const back = `${target.origin}${target.pathname}` === redirectUri;
    const error = back ? target.searchParams.get('error') : null;
    if (error) {
      const description = target.searchParams.get('error_description');
      return { name, status: 'fail', kind: 'config', detail: `the IdP refuses the login request: ${error}${description ? `: ${description}` : ''}`, fix: `Check the client at the IdP: ${register}.` };
    }
    return { name, status: 'ok', kind: 'remote', detail: `the IdP accepts client ${clientId} with ${redirectUri} (it answered with its sign-in page)` };
  }
  if (response.status >= 400 && response.status < 500) {
    return {
      name,
      status: 'fail',
      kind: 'config',
      detail: `the IdP refuses the login request with HTTP ${response.status}: an unknown client id, or a redirect URI it does not accept`,
      fix: `${register[0]!.toUpperCase()}${register.slice(1)}.`,
    };
  }
  if (response.status >= 500) {
    return { name, status: 'fail', kind: 'remote', detail: `${endpoint} answered HTTP ${response.status}`, fix: 'The IdP is failing; try again later.' };
  }
  return { name, status: 'ok', kind: 'remote', detail: `the IdP answered the login request for client ${clientId} with ${redirectUri} (HTTP ${response.status}, its sign-in page)` };
}

/** Whether `port` on 127.0.0.1 can be listened on right now. */
function portFree(port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface Discovery {
  doc: Record<string, unknown>;
  /** The `Date` header, ms since the epoch. */
  date?: number;
  /** Round trip of the request, ms. */
  elapsed: number;
}

async function discover(input: DoctorInput, url: string, clock: () => number): Promise<Discovery> {
  let date: number | undefined;
  const started = clock();
  const doc = await fetchJson(
    async (...args) => {
      const response = await input.fetch(...args);
      const header = response.headers.get('date');
      if (header && Number.isFinite(Date.parse(header))) date = Date.parse(header);
      return response;
    },
    url,
    { what: 'the discovery document', timeoutMs: input.timeoutMs },
  );
  return { doc, date, elapsed: clock() - started };
}

function usableKeys(keys: unknown): JWK[] {
  if (!Array.isArray(keys)) return [];
  return keys.filter(
    (k): k is JWK =>
      k !== null &&
      typeof k === 'object' &&
      SIGNING_KTY.has(String((k as JWK).kty)) &&
      (k as JWK).use !== 'enc' &&
      ((k as JWK).alg === undefined || ASYMMETRIC.includes(String((k as JWK).alg))),
  );
}

function describeKeys(keys: JWK[]): string {
  const shown = keys.slice(0, 3).map((k) => `${k.alg ?? k.kty}${k.kid ? ` kid "${k.kid}"` : ''}`);
  return `${keys.length} signing key${keys.length === 1 ? '' : 's'} (${shown.join(', ')}${keys.length > 3 ? ', …' : ''})`;
}

function failMessage(err: unknown): string {
  return isAuthbridgeError(err) ? err.message : describeError(err);
}

/**
 * Runs every check. Never throws for what it checks: failures are reported as checks.
 * The clock check compares `input.now` with the IdP's `Date` header, allowing the round trip and
 * the ID token clock tolerance (30 s) before it fails.
 */
export async function doctorFlow(input: DoctorInput): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => checks.push(check);
  const skip = (name: string, kind: DoctorKind, why: string) => add({ name, status: 'skip', kind, detail: `skipped: ${why}` });
  const name = input.profileName;
  // Round trips are measured on the real clock: `now` may be a simulated moment.
  const clock = () => performance.now();

  let profile: Profile | undefined;
  try {
    const warnings: ConfigWarning[] = [];
    profile = await input.loadProfile((w) => warnings.push(w));
    const exists = await lstat(input.configFile).then(
      () => true,
      () => false,
    );
    if (warnings[0]) {
      add({ name: 'config', status: 'fail', kind: 'config', detail: warnings[0].message, fix: warnings[0].fix });
    } else {
      add({
        name: 'config',
        status: 'ok',
        kind: 'config',
        detail: `profile "${name}" from flags, env and ${exists ? `${input.configFile} (yours, only you may write it)` : `no config file (${input.configFile} does not exist)`}`,
      });
    }
  } catch (err) {
    add({
      name: 'config',
      status: 'fail',
      kind: 'config',
      detail: failMessage(err),
      fix: (isAuthbridgeError(err) && err.hint) || `Fix or remove ${input.configFile}.`,
    });
  }

  let issuer: string | undefined;
  if (profile) {
    const missing = [!profile.issuer && 'issuer', !profile.clientId && 'clientId'].filter((f): f is string => Boolean(f));
    if (missing.length) {
      add({
        name: 'profile',
        status: 'fail',
        kind: 'config',
        detail: `missing ${missing.map((f) => (f === 'issuer' ? 'issuer' : 'client id')).join(' and ')} for profile "${name}"`,
        fix: missing.map((f) => `${setCommand(name, f, f === 'issuer' ? 'https://idp.example.com' : 'my-client-id')}`).join('; ') +
          ' (or --issuer/--client-id, AUTHBRIDGE_ISSUER/AUTHBRIDGE_CLIENT_ID)',
      });
    } else if (issuerInputProblem(profile.issuer!)) {
      const problem = issuerInputProblem(profile.issuer!)!;
      add({ name: 'profile', status: 'fail', kind: 'config', detail: problem.message, fix: `${setCommand(name, 'issuer', problem.issuer)}` });
    } else if (judgeTransport(profile.issuer!) !== 'ok') {
      // The same rule as login's (`connectIdp`): https, plain http only on this machine.
      add({
        name: 'profile',
        status: 'fail',
        kind: 'config',
        detail: `the issuer ${profile.issuer} is not https (plain http only on 127.0.0.1/localhost); login refuses it`,
        fix: `${setCommand(name, 'issuer', profile.issuer!.replace(/^http:/, 'https:'))} (the IdP's https issuer)`,
      });
    } else {
      add({
        name: 'profile',
        status: 'ok',
        kind: 'config',
        detail: `issuer ${profile.issuer}, client id ${profile.clientId} (${profile.clientSecret ? 'confidential' : 'public'} client)`,
      });
      issuer = profile.issuer;
    }
  } else {
    skip('profile', 'config', 'the config could not be read');
  }

  let discovery: Discovery | undefined;
  let discovered: Record<string, unknown> | undefined;
  if (issuer) {
    const url = discoveryUrl(issuer);
    try {
      discovery = await discover(input, url, clock);
      const { doc } = discovery;
      const lacking = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'].filter((k) => typeof doc[k] !== 'string');
      const insecure = endpointProblem(doc, IDP_ENDPOINTS);
      if (doc.issuer !== issuer && !fitsTenantTemplate(issuer, doc.issuer)) {
        add({
          name: 'discovery',
          status: 'fail',
          kind: 'config',
          detail: `${url} names the issuer "${String(doc.issuer)}", not "${issuer}"`,
          fix:
            typeof doc.issuer === 'string' && !doc.issuer.includes('{tenantid}')
              ? `${setCommand(name, 'issuer', doc.issuer)} (it must match exactly, trailing slash included)`
              : issuerMismatchFix(issuer, doc.issuer),
        });
      } else if (lacking.length) {
        add({ name: 'discovery', status: 'fail', kind: 'remote', detail: `${url} has no ${lacking.join(', ')}`, fix: 'The IdP must publish these (OpenID Connect Discovery §3).' });
      } else if (insecure) {
        add({ name: 'discovery', status: 'fail', kind: 'remote', detail: `${url}: ${insecure}`, fix: 'The IdP must publish https endpoints (plain http only on 127.0.0.1/localhost); login refuses these.' });
      } else {
        add({ name: 'discovery', status: 'ok', kind: 'remote', detail: `${url} names the issuer ${issuer}` });
        discovered = doc;
      }
    } catch (err) {
      add({
        name: 'discovery',
        status: 'fail',
        kind: 'remote',
        detail: failMessage(err),
        fix: `Check that the IdP is up and that the issuer URL is right (curl -i ${url}).`,
      });
      discovery = undefined;
    }
  } else {
    skip('discovery', 'remote', 'no issuer');
  }

  if (discovered) {
    const jwksUri = discovered.jwks_uri as string;
    try {
      const jwks = await fetchJson(input.fetch, jwksUri, { what: 'the JWKS', timeoutMs: input.timeoutMs });
      const keys = usableKeys(jwks.keys);
      if (keys.length === 0) {
        add({ name: 'jwks', status: 'fail', kind: 'remote', detail: `${jwksUri} has no usable signing keys (RSA, EC or OKP, not "use":"enc")`, fix: 'The IdP must publish its public signing keys.' });
      } else {
        add({ name: 'jwks', status: 'ok', kind: 'remote', detail: `${describeKeys(keys)} at ${jwksUri}` });
      }
    } catch (err) {
      add({ name: 'jwks', status: 'fail', kind: 'remote', detail: failMessage(err), fix: `Check that ${jwksUri} answers with a JSON Web Key Set.` });
    }
    const methods = discovered.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes('S256')) {
      add({ name: 'pkce', status: 'fail', kind: 'remote', detail: `the IdP offers PKCE methods ${methods.join(', ')}, not S256`, fix: 'Enable PKCE with S256 for this client at the IdP.' });
    } else {
      add({
        name: 'pkce',
        status: 'ok',
        kind: 'remote',
        detail: Array.isArray(methods) ? 'the IdP supports S256' : 'the IdP does not list code_challenge_methods_supported; authbridge sends S256',
      });
    }
    const missing = ['revocation_endpoint', 'introspection_endpoint'].filter((k) => typeof discovered![k] !== 'string');
    if (missing.length) {
      add({
        name: 'endpoints',
        status: 'warn',
        kind: 'remote',
        detail: `the IdP has no ${missing.join(' and no ')}: ${[
          missing.includes('revocation_endpoint') && 'logout only removes the tokens from this machine',
          missing.includes('introspection_endpoint') && 'introspect cannot ask it (verify --type access checks a JWT locally)',
        ]
          .filter(Boolean)
          .join('; ')}`,
      });
    }
  } else {
    skip('jwks', 'remote', 'no discovery document');
    skip('pkce', 'remote', 'no discovery document');
  }

  const host = profile?.redirectHost ?? '127.0.0.1';
  const uri = (p: number | string) => `http://${host}:${p}${CALLBACK_PATH}`;
  const configured = input.port ?? profile?.redirectPort;
  /** The redirect URI login would send now (probed at the authorization endpoint below). */
  let probeUri: string | undefined;
  if (configured === 0) {
    probeUri = uri(await freePort());
    add({
      name: 'redirect uri',
      status: 'warn',
      kind: 'config',
      detail: `${uri('<a free port>')}: a new port each login, which only IdPs that accept any loopback port take (RFC 8252 §7.3)`,
      fix: `For an IdP that matches redirect URIs exactly: ${setCommand(name, 'redirectPort', String(DEFAULT_REDIRECT_PORTS[0]))} and register ${uri(DEFAULT_REDIRECT_PORTS[0]!)}.`,
    });
  } else if (configured === undefined) {
    const free = [];
    for (const p of DEFAULT_REDIRECT_PORTS) if ((await portFree(p)) === true) free.push(p);
    const [first, second] = DEFAULT_REDIRECT_PORTS as [number, number];
    probeUri = uri(free[0] ?? first);
    add({
      name: 'redirect uri',
      status: 'warn',
      kind: 'config',
      detail: `register exactly ${uri(first)} at the IdP (and ${uri(second)}, used when port ${first} is taken), unless it accepts any loopback port${free.length ? '' : `; ports ${first} and ${second} are both taken now: login would use a free port`}`,
      fix: `Or choose one port: ${setCommand(name, 'redirectPort', 'PORT')}, and register ${uri('PORT')}.`,
    });
  } else if (!Number.isInteger(configured) || configured < 1024 || configured > 65535) {
    add({
      name: 'redirect uri',
      status: 'fail',
      kind: 'config',
      detail: `redirectPort ${configured} ${configured < 1024 ? 'is a privileged port' : 'is not a port'}`,
      fix: `Pick a port from 1024 to 65535 (${setCommand(name, 'redirectPort', '8400')}), or unset it for the defaults ${DEFAULT_REDIRECT_PORTS.join(' and ')}.`,
    });
  } else {
    const free = await portFree(configured);
    probeUri = uri(configured);
    if (free === true) {
      add({ name: 'redirect uri', status: 'warn', kind: 'config', detail: `register exactly ${uri(configured)} at the IdP (port ${configured} is free)` });
    } else {
      add({
        name: 'redirect uri',
        status: 'fail',
        kind: 'config',
        detail: `${uri(configured)}: port ${configured} cannot be used now (${free})`,
        fix: `Stop what listens on ${configured}, or choose another port (${setCommand(name, 'redirectPort', 'PORT')}) and register it at the IdP.`,
      });
    }
  }

  if (discovered && probeUri && profile?.clientId) {
    add(await probeAuthorization(input, discovered.authorization_endpoint as string, profile.clientId, probeUri, name));
  } else {
    skip('authorization', 'remote', discovered ? 'no redirect URI' : 'no discovery document');
  }

  if (discovery?.date !== undefined) {
    // The Date header has one-second resolution and was stamped somewhere within the round trip.
    const slack = ID_TOKEN_CLOCK_TOLERANCE_S * 1000 + discovery.elapsed + 1000;
    const skew = input.now - discovery.date;
    const seconds = Math.round(Math.abs(skew) / 1000);
    const phrase =
      Math.abs(skew) <= 1000 + discovery.elapsed ? 'in step with the IdP' : `${seconds} s ${skew > 0 ? 'ahead of' : 'behind'} the IdP`;
    if (Math.abs(skew) > slack) {
      add({
        name: 'clock',
        status: 'fail',
        kind: 'config',
        detail: `this machine's clock is ${phrase} (its Date header says ${new Date(discovery.date).toISOString()}, ${relativeTime(discovery.date, input.now)} by this clock); tokens will look ${skew > 0 ? 'expired' : 'not yet valid'}`,
        fix: 'Set the clock right, e.g. enable time sync (timedatectl set-ntp true, or System Settings › Date & Time).',
      });
    } else {
      add({ name: 'clock', status: 'ok', kind: 'config', detail: `${phrase} (Date header; ${ID_TOKEN_CLOCK_TOLERANCE_S} s tolerated)` });
    }
  } else {
    skip('clock', 'config', discovery ? "the IdP's answer has no Date header" : 'no answer from the IdP');
  }

  add(await checkCache(input.cacheDir));

  const brokerUrl = profile?.broker?.url;
  if (brokerUrl) add(await checkBroker(input, brokerUrl));

  const failed = checks.filter((c) => c.status === 'fail');
  const outcome = failed.some((c) => c.kind === 'config') ? 'usage' : failed.length ? 'remote' : 'ok';
  return { profile: name, ok: failed.length === 0, outcome, checks };
}

/** The cache directory yours and 0700 (or not there yet), every file in it a regular file of yours, 0600, no symlinks. */
async function checkCache(dir: string): Promise<DoctorCheck> {
  const fail = (detail: string, fix: string): DoctorCheck => ({ name: 'cache', status: 'fail', kind: 'config', detail, fix });
  let info;
  try {
    info = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { name: 'cache', status: 'ok', kind: 'config', detail: `${dir} does not exist yet; login creates it with mode 0700` };
    }
    return fail(`could not inspect ${dir}: ${describeError(err)}`, `Check ${dir} and its parents.`);
  }
  if (info.isSymbolicLink()) return fail(`${dir} is a symlink`, `Replace it with a real directory: rm ${dir} && mkdir -m 700 ${dir}`);
  if (!info.isDirectory()) return fail(`${dir} is not a directory`, `Move it away; login creates the directory.`);
  const me = currentUid();
  if (me !== undefined && info.uid !== me) {
    return fail(`${dir} is owned by uid ${info.uid}, not by you (uid ${me})`, 'Use a cache directory of your own (AUTHBRIDGE_CACHE_DIR, XDG_CACHE_HOME).');
  }
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return fail(`${dir} has mode ${mode.toString(8).padStart(4, '0')}: other users can reach the tokens`, `chmod 700 ${dir}`);
  }
  const loose: string[] = [];
  const links: string[] = [];
  const planted: string[] = [];
  let files = 0;
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry);
    const st = await lstat(path).catch(() => undefined);
    // Directories are the writers' locks (`<profile>.json.lock`).
    if (!st || st.isDirectory()) continue;
    if (st.isSymbolicLink()) links.push(path);
    else if (!st.isFile() || (me !== undefined && st.uid !== me)) planted.push(path);
    else {
      files += 1;
      if ((st.mode & 0o077) !== 0) loose.push(path);
    }
  }
  if (links.length) return fail(`symlinks in the cache are never followed: ${links.join(', ')}`, `rm ${links.join(' ')}`);
  if (planted.length) return fail(`not regular files of yours, never read: ${planted.join(', ')}`, `rm ${planted.join(' ')}`);
  if (loose.length) return fail(`readable by others: ${loose.join(', ')}`, `chmod 600 ${loose.join(' ')}`);
  return { name: 'cache', status: 'ok', kind: 'config', detail: `${dir} is 0700${files ? `, its ${files} file${files === 1 ? '' : 's'} 0600` : ''}` };
}

/** The broker's RFC 8414 metadata: reachable, offers token exchange, has keys. */
async function checkBroker(input: DoctorInput, url: string): Promise<DoctorCheck> {
  const metadataUrl = authorizationServerMetadataUrl(url);
  try {
    const doc = await fetchJson(input.fetch, metadataUrl, { what: "the broker's metadata", timeoutMs: input.timeoutMs });
    const grants = doc.grant_types_supported;
    if (!Array.isArray(grants) || !grants.includes(TOKEN_EXCHANGE_GRANT)) {
      return { name: 'broker', status: 'fail', kind: 'remote', detail: `${metadataUrl} does not list the token-exchange grant`, fix: 'Is broker.url the broker, not the IdP?' };
    }
    if (typeof doc.jwks_uri !== 'string') {
      return { name: 'broker', status: 'fail', kind: 'remote', detail: `${metadataUrl} has no jwks_uri`, fix: 'The broker must publish its keys.' };
    }
    const insecure = endpointProblem(doc, BROKER_ENDPOINTS);
    if (insecure) {
      return { name: 'broker', status: 'fail', kind: 'remote', detail: `${metadataUrl}: ${insecure}`, fix: 'The broker must publish https endpoints (plain http only on 127.0.0.1/localhost); exchange refuses these.' };
    }
    const jwks = await fetchJson(input.fetch, doc.jwks_uri, { what: "the broker's JWKS", timeoutMs: input.timeoutMs });
    const keys = usableKeys(jwks.keys);
    if (keys.length === 0) return { name: 'broker', status: 'fail', kind: 'remote', detail: `${doc.jwks_uri} has no signing keys`, fix: 'The broker must publish its keys.' };
    return { name: 'broker', status: 'ok', kind: 'remote', detail: `${url} offers token exchange; ${describeKeys(keys)}` };
  } catch (err) {
    return { name: 'broker', status: 'fail', kind: 'remote', detail: failMessage(err), fix: `Check that the broker is up and broker.url is right (curl -i ${metadataUrl}).` };
  }
}
