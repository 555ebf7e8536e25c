/**
 * The device sign-in's prompt on stderr: where to go, the code to enter, and — on a terminal big
 * enough — a QR code of the address to scan with a phone. Every string the IdP chose is escaped
 * with `safeText` before it reaches the terminal.
 */
import type { ChalkInstance } from 'chalk';
import type { OutputStream } from '../context.js';
import type { DevicePrompt } from '../flows/device.js';
import { safeText } from '../util/safe-text.js';

export interface DevicePromptOptions {
  style: ChalkInstance;
  /** Draw the QR code when it fits: stderr is a terminal and the output is not `--json`. */
  qr: boolean;
  /** The terminal's size in characters (stderr's `columns` and `rows`), when known. */
  columns?: number;
  rows?: number;
}

/** Lines the prompt takes besides the QR code, kept free below it so the code stays on screen. */
const TEXT_LINES = 8;

/**
 * The QR code of `text` as half-block characters (two modules a character row), or undefined when
 * it would not fit `columns` × `rows` (unknown size: it does not fit) or cannot be made.
 */
export async function terminalQr(text: string, columns: number | undefined, rows: number | undefined): Promise<string | undefined> {
  if (!columns || !rows) return undefined;
  const { default: QRCode } = await import('qrcode');
  const drawn = await QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }).catch(() => undefined);
  if (!drawn) return undefined;
  const lines = drawn.replace(/\n+$/, '').split('\n');
  // Width in characters: the escape sequences that colour the blocks take no room.
  const width = Math.max(...lines.map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').length));
  if (width > columns || lines.length + TEXT_LINES > rows) return undefined;
  return lines.join('\n');
}

/** The prompt: the verification URI, the user code, the complete URI when given, and a QR code where it fits. */
export async function renderDevicePrompt(prompt: DevicePrompt, options: DevicePromptOptions): Promise<string> {
  const { style } = options;
  const minutes = prompt.expiresIn >= 120 ? `${Math.round(prompt.expiresIn / 60)} minutes` : `${prompt.expiresIn} s`;
  const lines = [
    `To sign in, open ${style.cyan(safeText(prompt.verificationUri))} on any device and enter the code`,
    '',
    `  ${style.bold(safeText(prompt.userCode))}`,
    '',
  ];
  if (prompt.verificationUriComplete) {
    lines.push(`or open this address, which holds the code: ${style.cyan(safeText(prompt.verificationUriComplete))}`);
  }
  lines.push(`The code expires in ${minutes}.`);
  const qr = options.qr ? await terminalQr(prompt.verificationUriComplete ?? prompt.verificationUri, options.columns, options.rows) : undefined;
  if (qr) lines.push('', qr);
  return lines.join('\n');
}

/** The size of `stream` when it is a terminal. */
export function terminalSize(stream: OutputStream): { columns?: number; rows?: number } {
  const tty = stream as OutputStream & { columns?: number; rows?: number };
  return stream.isTTY ? { columns: tty.columns, rows: tty.rows } : {};
}
