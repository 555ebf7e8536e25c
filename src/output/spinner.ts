import type { OutputStream } from '../context.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  start(text: string): void;
  stop(): void;
}

/** A spinner on `stream`, only when it is a terminal; elsewhere one plain line. */
export function createSpinner(stream: OutputStream, intervalMs = 100): Spinner {
  let timer: NodeJS.Timeout | undefined;
  let frame = 0;
  return {
    start(text) {
      if (!stream.isTTY) {
        stream.write(`${text}\n`);
        return;
      }
      if (timer) return;
      const draw = () => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${text}`);
      draw();
      timer = setInterval(draw, intervalMs);
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      stream.write('\r\x1b[2K');
    },
  };
}
