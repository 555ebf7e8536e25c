/**
 * The device prompt on stderr (src/output/device.ts): what the user reads, the QR code only where
 * it fits, and the IdP's strings escaped.
 */
import { Chalk } from 'chalk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderDevicePrompt, terminalQr } from '../../src/output/device.js';

const style = new Chalk({ level: 0 });
const prompt = {
  verificationUri: 'https://idp.example.com/device',
  userCode: 'WDJB-MJHT',
  verificationUriComplete: 'https://idp.example.com/device?user_code=WDJB-MJHT',
  expiresIn: 900,
};
/** Half-block characters the `small` terminal QR code is drawn with. */
const QR_BLOCKS = /[▀▄█]/;

describe('renderDevicePrompt', () => {
  it('names the URI, the code, the complete URI and the lifetime', async () => {
    expect(await renderDevicePrompt(prompt, { style, qr: false })).toBe(
      [
        'To sign in, open https://idp.example.com/device on any device and enter the code',
        '',
        '  WDJB-MJHT',
        '',
        'or open this address, which holds the code: https://idp.example.com/device?user_code=WDJB-MJHT',
        'The code expires in 15 minutes.',
      ].join('\n'),
    );
  });

  it('without a complete URI: no such line; a short life in seconds', async () => {
    const text = await renderDevicePrompt({ verificationUri: prompt.verificationUri, userCode: 'ABCD', expiresIn: 90 }, { style, qr: false });
    expect(text).not.toContain('holds the code');
    expect(text.split('\n').at(-1)).toBe('The code expires in 90 s.');
  });

  it.each([
    ['a terminal big enough', 80, 50, true],
    ['a terminal too narrow', 30, 50, false],
    ['a terminal too short', 80, 20, false],
    ['a size unknown (not a terminal)', undefined, undefined, false],
  ])('a QR code of the complete URI on %s: %s', async (_name, columns, rows, shown) => {
    const text = await renderDevicePrompt(prompt, { style, qr: true, columns, rows });
    expect(QR_BLOCKS.test(text)).toBe(shown);
    if (shown) {
      const qrLines = text.split('\n').filter((line) => QR_BLOCKS.test(line));
      expect(Math.max(...qrLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length))).toBeLessThanOrEqual(columns!);
      expect(text.split('\n').length).toBeLessThanOrEqual(rows!);
    }
  });

  it('no QR code under --json, whatever the terminal', async () => {
    expect(QR_BLOCKS.test(await renderDevicePrompt(prompt, { style, qr: false, columns: 200, rows: 100 }))).toBe(false);
  });

  it('escapes what the IdP chose before the terminal sees it', async () => {
    const text = await renderDevicePrompt(
      { verificationUri: 'https://idp.example.com/\x1b[2Jdevice', userCode: 'AB\u202eCD', verificationUriComplete: 'https://x/\rclear', expiresIn: 600 },
      { style, qr: false },
    );
    expect(text).toContain('https://idp.example.com/\\x1b[2Jdevice');
    expect(text).toContain('AB\\u{202e}CD');
    expect(text).toContain('https://x/\\x0dclear');
    expect(text).not.toMatch(/[\x1b\r\u202e]/);
  });

  it('property: any URI and code give a prompt with no raw control character, and a QR code within the terminal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 120 }), fc.string({ maxLength: 20 }), fc.integer({ min: 20, max: 200 }), async (uri, code, columns) => {
        const text = await renderDevicePrompt({ verificationUri: uri, userCode: code, expiresIn: 600 }, { style, qr: true, columns, rows: 60 });
        const withoutQr = text.replace(/\x1b\[[0-9;]*m/g, '');
        expect(withoutQr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
        for (const line of withoutQr.split('\n').filter((l) => QR_BLOCKS.test(l) && !l.includes(' on any device'))) {
          expect(line.length).toBeLessThanOrEqual(columns);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('terminalQr', () => {
  it('is undefined when the size is unknown', async () => {
    expect(await terminalQr('https://idp.example.com/device', undefined, 40)).toBeUndefined();
  });
});
