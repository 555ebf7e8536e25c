/**
 * Glewlwyd (Debian `glewlwyd` 2.7, C, an OpenID provider independent of openid-client's author)
 * as a second real IdP: the daemon runs standalone in a temp dir on SQLite (initialised from the
 * package's own SQL script), on 127.0.0.1 and a free port, and is configured only through its
 * admin REST API, signed in as the initial `admin` (password `password`, from that script):
 * scopes, a user, the OIDC plugin (RS256, PKCE, introspection and revocation) and two clients —
 * a public one and a confidential one whose id and secret contain `-` and `.` (Glewlwyd reads
 * HTTP Basic credentials raw, without percent-decoding them).
 *
 * Glewlwyd's login page is a JavaScript app, so {@link Glewlwyd.drive} signs in the way that app
 * does: `POST /api/auth/` (password), `PUT /api/auth/grant/<client>/` (consent), then it follows
 * the authorize URL with the session cookie to the loopback callback.
 *
 * `.ci/run` installs the package (debconf `glewlwyd/config_type` answered "No configuration").
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from '../jwt/fixtures.js';
import type { DriveResult, HttpAnswer } from './http-browser.js';

export const GLEWLWYD_BIN = '/usr/bin/glewlwyd';
const SQL_SCRIPT = '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3';
const MODULES = '/usr/lib/glewlwyd';
const ADMIN = { username: 'admin', password: 'password' };

/** The user the tests sign in as. */
export const GLEWLWYD_USER = { username: 'ada-l.test', password: 'pass-word.1', email: 'ada@example.test', name: 'Ada Lovelace' };
/** Ids and a secret with `-` and `.`: what openid-client's Basic encoding used to break. */
export const GLEWLWYD_PUBLIC_CLIENT = { clientId: 'authbridge-cli.public' };
export const GLEWLWYD_CONFIDENTIAL_CLIENT = { clientId: 'authbridge-cli.conf-1', clientSecret: 'se-cret.value-1' };

/** A confidential client with the client credentials grant only (`clientCredentials: true`), and the scope it may ask for. */
export const GLEWLWYD_MACHINE_CLIENT = { clientId: 'authbridge-ci.machine', clientSecret: 'machine-se.cret-1', scope: 'ci.deploy' };

export interface GlewlwydOptions {
  /** Enable the client credentials grant (`auth-type-client-enabled`) and register {@link GLEWLWYD_MACHINE_CLIENT}. */
  clientCredentials?: boolean;
  /** Redirect URIs registered (exactly) for both clients. */
  redirectUris: string[];
  /** The scopes that exist and are listed in discovery's `scopes_supported`. Default openid, profile, email. */
  scopes?: string[];
  /**
   * A scope whose access tokens may introspect and revoke as `Authorization: Bearer` (Glewlwyd's
   * `introspection-revocation-auth-scope`; discovery then lists `bearer` for both endpoints).
   */
  bearerScope?: string;
  /**
   * The device authorization grant (RFC 8628) for both clients: the plugin's
   * `auth-type-device-enabled`, `device-authorization-interval` (seconds, default 5; Glewlwyd
   * answers `slow_down` to a poll sooner than that after the last) and
   * `device-authorization-expiration` (seconds, default 600).
   */
  device?: { interval?: number; expiration?: number };
}

export interface Glewlwyd {
  /** `http://127.0.0.1:PORT/api/oidc`, the `iss` of its tokens. */
  issuer: string;
  port: number;
  /** The daemon's console output so far (for a failing test's message). */
  log(): string;
  /**
   * A browser: signs {@link GLEWLWYD_USER} in through the API, grants the client the asked
   * scopes, follows `authorizeUrl` to the callback and requests it.
   */
  drive(authorizeUrl: string): Promise<DriveResult>;
  /**
   * The user on another device approving a device sign-in, as Glewlwyd's login app does: signs
   * {@link GLEWLWYD_USER} in, grants `clientId` the `scope`, then opens the verification URI with
   * the code and `g_continue`. Resolves with the `prompt` Glewlwyd's answer sends the app to
   * (`deviceComplete` when approved, `deviceCodeError` for an unknown code).
   */
  approveDevice(userCode: string, clientId: string, scope: string): Promise<string>;
  /** An admin API call (signed in as admin): `[status, body]`. */
  admin(method: string, path: string, body?: unknown): Promise<[number, string]>;
  close(): Promise<void>;
}

/** A port nobody listens on right now (the daemon takes a port number, not 0). */
export const freePort = closedPort;

function cookieOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!)
    .join('; ');
}

function configFile(dir: string, port: number): string {
  // libconfig syntax; every path in the temp dir or the package's module folders.
  return [
    `port=${port}`,
    `bind_address="127.0.0.1"`,
    `external_url="http://127.0.0.1:${port}"`,
    `login_url="login.html"`,
    `api_prefix="api"`,
    `log_mode="console"`,
    `log_level="ERROR"`,
    `cookie_secure=0`,
    `cookie_domain=""`,
    `session_key="GLEWLWYD2_SESSION_ID"`,
    `admin_session_authentication="cookie"`,
    `admin_scope="g_admin"`,
    `profile_scope="g_profile"`,
    `user_module_path="${MODULES}/user"`,
    `user_middleware_module_path="${join(dir, 'no-middleware')}"`,
    `client_module_path="${MODULES}/client"`,
    `user_auth_scheme_module_path="${MODULES}/scheme"`,
    `plugin_module_path="${MODULES}/plugin"`,
    `hash_algorithm="SHA512"`,
    `database = { type = "sqlite3"; path = "${join(dir, 'glewlwyd.db')}"; };`,
    '',
  ].join('\n');
}

/** Starts and configures Glewlwyd; `close()` it in `afterAll` (it kills the daemon and removes the dir). */
export async function startGlewlwyd(options: GlewlwydOptions): Promise<Glewlwyd> {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-glewlwyd-'));
  mkdirSync(join(dir, 'no-middleware'));
  // The package's own schema and initial data (the admin user, g_admin, g_profile, openid).
  execFileSync('sqlite3', [join(dir, 'glewlwyd.db')], { input: readSql() });
  const port = await freePort();
  writeFileSync(join(dir, 'glewlwyd.conf'), configFile(dir, port));
  let output = '';
  const child: ChildProcess = spawn(GLEWLWYD_BIN, [`--config-file=${join(dir, 'glewlwyd.conf')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(base, child, () => output);
    const adminCookie = await signInAs(base, ADMIN);
    const admin = async (method: string, path: string, body?: unknown): Promise<[number, string]> => {
      const response = await fetch(`${base}/api${path}`, {
        method,
        headers: { cookie: adminCookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return [response.status, await response.text()];
    };
    const must = async (method: string, path: string, body?: unknown) => {
      const [status, text] = await admin(method, path, body);
      if (status !== 200) throw new Error(`Glewlwyd admin ${method} ${path} answered ${status}: ${text}`);
    };
    const scopes = options.scopes ?? ['openid', 'profile', 'email'];
    for (const scope of scopes.filter((s) => s !== 'openid')) {
      await must('POST', '/scope/', { name: scope, display_name: scope, description: `the ${scope} scope`, password_required: false, scheme: {} });
    }
    await must('POST', '/user/', { ...GLEWLWYD_USER, scope: [...scopes, 'g_profile'], enabled: true });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const issuer = `${base}/api/oidc`;
    await must('POST', '/mod/plugin/', {
      module: 'oidc',
      name: 'oidc',
      display_name: 'OpenID Connect',
      enabled: true,
      parameters: {
        iss: issuer,
        'jwt-type': 'rsa',
        'jwt-key-size': '256',
        key: privateKey,
        cert: publicKey,
        'jwks-show': true,
        'code-duration': 600,
        'refresh-token-duration': 1209600,
        'access-token-duration': 3600,
        // A client credentials request has no openid scope: Glewlwyd answers 403 to it unless non-OIDC requests are allowed.
        'allow-non-oidc': options.clientCredentials ?? false,
        'auth-type-code-enabled': true,
        'auth-type-refresh-enabled': true,
        'auth-type-token-enabled': false,
        'auth-type-password-enabled': false,
        'auth-type-client-enabled': options.clientCredentials ?? false,
        'auth-type-device-enabled': Boolean(options.device),
        ...(options.device
          ? {
              'device-authorization-interval': options.device.interval ?? 5,
              'device-authorization-expiration': options.device.expiration ?? 600,
            }
          : {}),
        'pkce-allowed': true,
        'introspection-revocation-allowed': true,
        'introspection-revocation-allow-target-client': true,
        ...(options.bearerScope ? { 'introspection-revocation-auth-scope': [options.bearerScope] } : {}),
        'subject-type': 'public',
        'email-claim': 'mandatory',
        'name-claim': 'mandatory',
        'allowed-scope': options.clientCredentials ? [...scopes, GLEWLWYD_MACHINE_CLIENT.scope] : scopes,
      },
    });
    if (options.clientCredentials) {
      const { clientId, clientSecret, scope } = GLEWLWYD_MACHINE_CLIENT;
      await must('POST', '/scope/', { name: scope, display_name: scope, description: 'client credentials', password_required: false, scheme: {} });
      await must('POST', '/client/', {
        enabled: true,
        client_id: clientId,
        client_secret: clientSecret,
        name: 'authbridge (CI)',
        confidential: true,
        redirect_uri: [],
        authorization_type: ['client_credentials'],
        scope: [scope],
        token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post'],
      });
    }
    const common = {
      enabled: true,
      redirect_uri: options.redirectUris,
      authorization_type: ['code', 'refresh_token', ...(options.device ? ['device_authorization'] : [])],
      scope: [],
    };
    await must('POST', '/client/', { ...common, client_id: GLEWLWYD_PUBLIC_CLIENT.clientId, name: 'authbridge (public)', confidential: false });
    await must('POST', '/client/', {
      ...common,
      client_id: GLEWLWYD_CONFIDENTIAL_CLIENT.clientId,
      name: 'authbridge (confidential)',
      confidential: true,
      client_secret: GLEWLWYD_CONFIDENTIAL_CLIENT.clientSecret,
      token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post'],
    });
    return {
      issuer,
      port,
      log: () => output,
      admin,
      drive: (authorizeUrl) => driveGlewlwyd(base, authorizeUrl),
      approveDevice: (userCode, clientId, scope) => approveGlewlwydDevice(base, issuer, userCode, clientId, scope),
      close,
    };
  } catch (err) {
    await close();
    throw new Error(`could not start Glewlwyd: ${(err as Error).message}\n${output}`, { cause: err });
  }
}

function readSql(): Buffer {
  // Read here, not at import: a file that imports this helper loads without the package.
  return readFileSync(SQL_SCRIPT);
}

async function waitUntilUp(base: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`glewlwyd exited with ${child.exitCode}: ${log()}`);
    const up = await fetch(`${base}/config/`).then(
      (r) => r.body?.cancel().then(() => true) ?? true,
      () => false,
    );
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`glewlwyd did not answer on ${base} within 10 s`);
}

async function signInAs(base: string, user: { username: string; password: string }): Promise<string> {
  const response = await fetch(`${base}/api/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password }),
  });
  if (response.status !== 200) throw new Error(`signing ${user.username} in answered ${response.status}: ${await response.text()}`);
  return cookieOf(response);
}

async function get(url: string): Promise<HttpAnswer> {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, body: await response.text() };
}

/** Signs the user in and grants `clientId` the `scope` (what the login app's consent does). */
async function grantAs(base: string, clientId: string, scope: string): Promise<string> {
  const cookie = await signInAs(base, GLEWLWYD_USER);
  // Space-separated, as in the authorization request (the API doc's "separated by a comma" is wrong).
  const grant = await fetch(`${base}/api/auth/grant/${encodeURIComponent(clientId)}/`, {
    method: 'PUT',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ scope }),
  });
  if (grant.status !== 200) throw new Error(`granting ${scope} to ${clientId} answered ${grant.status}: ${await grant.text()}`);
  return cookie;
}

/** What the login app does for `…/device?code=…`: the session's user approves the code. */
async function approveGlewlwydDevice(base: string, issuer: string, userCode: string, clientId: string, scope: string): Promise<string> {
  const cookie = await grantAs(base, clientId, scope);
  const response = await fetch(`${issuer}/device?code=${encodeURIComponent(userCode)}&g_continue`, { headers: { cookie }, redirect: 'manual' });
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) throw new Error(`Glewlwyd answered ${response.status} to the device code`);
  return new URL(location, base).searchParams.get('prompt') ?? `(no prompt: ${location})`;
}

/** What the login app does in a browser, then the redirects to the callback. */
async function driveGlewlwyd(base: string, authorizeUrl: string): Promise<DriveResult> {
  const start = new URL(authorizeUrl);
  const redirectUri = start.searchParams.get('redirect_uri');
  const clientId = start.searchParams.get('client_id');
  if (!redirectUri || !clientId) throw new Error(`no redirect_uri or client_id in ${authorizeUrl}`);
  const cookie = await grantAs(base, clientId, start.searchParams.get('scope') ?? '');
  let url = start;
  let loggedIn = false;
  for (let step = 0; step < 10; step++) {
    if (url.href.startsWith(`${redirectUri}?`)) {
      return { authorizeUrl: start, callbackUrl: url, callback: await get(url.href), extra: [] };
    }
    const response = await fetch(url, { headers: url.origin === base ? { cookie } : {}, redirect: 'manual' });
    const location = response.headers.get('location');
    const body = await response.text();
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`Glewlwyd answered ${response.status} at ${url.pathname}: ${body.slice(0, 300)}`);
    }
    url = new URL(location, url);
    if (url.origin === base && url.pathname.endsWith('/login.html')) {
      // The login app, once the user is signed in and has granted the scopes, goes back to
      // `callback_url` with `g_continue` added.
      const back = url.searchParams.get('callback_url');
      if (!back || loggedIn) throw new Error(`Glewlwyd sent the browser to its login page again: ${url.href}`);
      loggedIn = true;
      url = new URL(`${back}&g_continue`, base);
    }
  }
  throw new Error('too many redirects between the authorize URL and the callback');
}
