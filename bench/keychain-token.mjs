// The cost of the keychain storage to a `token` call: the same fresh session (access, ID and
// refresh tokens of JWT size, 4 keychain items) read from the 0600 file and from a real
// gnome-keyring on a private D-Bus session bus (as test/helpers/keyring.ts starts it), `token`
// runs interleaved with a bare `node -e ''`. Needs dbus-daemon and gnome-keyring-daemon.
// Knob: BENCH_RUNS (default 30). Run alone: `node bench/keychain-token.mjs`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ensureBuilt, fmt, median, timeRun } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
ensureBuilt();
const root = mkdtempSync(join(tmpdir(), 'authbridge-bench-keychain-'));
const runtime = join(root, 'run');
mkdirSync(runtime, { mode: 0o700 });
writeFileSync(
  join(root, 'bus.conf'),
  `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${join(runtime, 'bus')}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`,
);
const bus = spawn('dbus-daemon', [`--config-file=${join(root, 'bus.conf')}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
const address = await new Promise((resolve) => bus.stdout.once('data', (d) => resolve(d.toString().split('\n')[0].trim())));
const busEnv = { DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtime };
const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--replace', '--unlock', '--components=secrets'], {
  env: { PATH: process.env.PATH, HOME: root, XDG_DATA_HOME: join(root, 'data'), ...busEnv },
  stdio: ['pipe', 'ignore', 'ignore'],
});
keyring.stdin.end('bench');
for (let i = 0; ; i++) {
  const r = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], { env: { ...process.env, ...busEnv } });
  if (/boolean true/.test(r.stdout.toString())) break;
  if (i > 500) throw new Error('gnome-keyring-daemon did not start');
  await new Promise((r) => setTimeout(r, 10));
}

try {
  const now = Date.now();
  const jwt = (n) => `eyJ${'x'.repeat(n)}`;
  const session = {
    version: 1, profile: 'default', issuer: 'https://idp.bench', client_id: 'cli', scopes: ['openid'], obtained_at: now, subject: 'alice',
    access_token: jwt(1200), access_token_expires_at: now + 3_600_000, id_token: jwt(1000), id_token_expires_at: now + 3_600_000, refresh_token: jwt(800),
  };
  const caches = {};
  for (const name of ['file', 'keychain']) {
    caches[name] = join(root, name);
    mkdirSync(caches[name], { mode: 0o700 });
    writeFileSync(join(caches[name], 'default.json'), JSON.stringify(session), { mode: 0o600 });
  }
  const env = (cache, storage = 'auto') => ({
    PATH: process.env.PATH, HOME: root, ...busEnv, AUTHBRIDGE_CACHE_DIR: cache, AUTHBRIDGE_TOKEN_STORAGE: storage,
    AUTHBRIDGE_ISSUER: session.issuer, AUTHBRIDGE_CLIENT_ID: 'cli',
  });
  // An explicit storage moves the entry at its first read: this one goes to the keychain.
  timeRun(process.execPath, [BIN, 'token'], { env: env(caches.keychain, 'keychain') });
  if (!JSON.parse(readFileSync(join(caches.keychain, 'default.json'), 'utf8')).keychain) throw new Error('the entry did not move to the keychain');
  const times = { node: [], file: [], keychain: [] };
  for (let i = 0; i < RUNS + 2; i++) {
    const t = {
      node: timeRun(process.execPath, ['-e', '']),
      file: timeRun(process.execPath, [BIN, 'token'], { env: env(caches.file) }),
      keychain: timeRun(process.execPath, [BIN, 'token'], { env: env(caches.keychain) }),
    };
    if (i >= 2) for (const k of Object.keys(t)) times[k].push(t[k]);
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  console.log(`token, median of ${RUNS} interleaved runs: bare node ${fmt(m.node)} ms; session in the file ${fmt(m.file)} ms (${fmt(m.file / m.node, 2)}x); in the keychain ${fmt(m.keychain)} ms (${fmt(m.keychain / m.node, 2)}x); the keychain costs ${fmt(m.keychain - m.file)} ms a call`);
} finally {
  keyring.kill();
  bus.kill();
  rmSync(root, { recursive: true, force: true });
}
