/**
 * A real, private keychain for the tests: a D-Bus session bus of its own (dbus-daemon with a
 * minimal config, no service activation) and Debian's gnome-keyring-daemon serving the Secret
 * Service on it, unlocked with a test password, in a temp HOME/XDG_RUNTIME_DIR. Nothing of the
 * developer's session is touched. `.ci/run` installs gnome-keyring and dbus.
 *
 * `@napi-rs/keyring` reads the process environment (DBUS_SESSION_BUS_ADDRESS), so a test file that
 * uses it in process sets `process.env` from {@link TestKeyring.env} (vitest runs each file in a
 * process of its own); spawned binaries get the env passed.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestKeyring {
  /** The session's environment: DBUS_SESSION_BUS_ADDRESS, HOME, XDG_RUNTIME_DIR, XDG_DATA_HOME. */
  env: Record<string, string>;
  /** Locks the default collection through the Secret Service API (as a screen lock would). */
  lock(): Promise<void>;
  /** Stops gnome-keyring and the bus, and removes their temp directory. */
  stop(): Promise<void>;
}

export interface TestKeyringOptions {
  /** Start gnome-keyring-daemon on the bus. Default true; false: a bus without any Secret Service. */
  secretService?: boolean;
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

/** The first line `child` prints on stdout. */
function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      const end = text.indexOf('\n');
      if (end >= 0) resolve(text.slice(0, end).trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

async function dbusCall(env: Record<string, string>, args: string[]): Promise<string> {
  const { stdout } = await run('dbus-send', ['--session', '--print-reply', ...args], { env: { ...process.env, ...env } });
  return stdout;
}

async function waitForName(env: Record<string, string>, name: string): Promise<void> {
  for (let i = 0; ; i++) {
    const reply = await dbusCall(env, ['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${name}`]);
    if (/boolean true/.test(reply)) return;
    if (i > 500) throw new Error(`${name} never appeared on the test bus`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Starts a private session bus and (unless told otherwise) an unlocked gnome-keyring on it. */
export async function startKeyring(options: TestKeyringOptions = {}): Promise<TestKeyring> {
  const root = mkdtempSync(join(tmpdir(), 'authbridge-keyring-'));
  const runtime = join(root, 'run');
  const home = join(root, 'home');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(root, 'bus.conf'), busConfig(join(runtime, 'bus')));
  const bus = spawn('dbus-daemon', [`--config-file=${join(root, 'bus.conf')}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const children: ChildProcess[] = [bus];
  const env: Record<string, string> = {
    DBUS_SESSION_BUS_ADDRESS: await firstLine(bus, 'dbus-daemon'),
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, '.local', 'share'),
  };
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    if (options.secretService !== false) {
      const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--replace', '--unlock', '--components=secrets'], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      children.push(keyring);
      // --unlock reads the password of the login keyring (created with it) from stdin.
      keyring.stdin!.end('test');
      await waitForName(env, 'org.freedesktop.secrets');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    env,
    lock: async () => {
      await dbusCall(env, [
        '--dest=org.freedesktop.secrets',
        '/org/freedesktop/secrets',
        'org.freedesktop.Secret.Service.Lock',
        'array:objpath:/org/freedesktop/secrets/collection/login',
      ]);
    },
    stop,
  };
}
