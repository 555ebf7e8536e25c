import { it } from 'vitest';
import { startGlewlwyd, GLEWLWYD_USER } from './helpers/glewlwyd.js';
it('starts', async () => {
  const g = await startGlewlwyd({ redirectUris: ['http://127.0.0.1:41234/callback'] });
  try {
    const base = `http://127.0.0.1:${g.port}`;
    const r = await fetch(`${base}/api/auth/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: GLEWLWYD_USER.username, password: GLEWLWYD_USER.password }) });
    console.log(r.status, r.headers.getSetCookie());
    const cookie = r.headers.getSetCookie().map((l) => l.split(';')[0]).join('; ');
    const p = await fetch(`${base}/api/profile_list/`, { headers: { cookie } });
    console.log('profile', p.status, await p.text());
    console.log(await g.admin('GET', '/user/' + GLEWLWYD_USER.username));
  } finally { await g.close(); }
}, 30000);
