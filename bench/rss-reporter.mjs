// Loaded with --import into a measured child: reports its peak RSS (bytes) on fd 3 at exit.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS * 1024}\n`);
  } catch {
    // fd 3 not open: not measured.
  }
});
