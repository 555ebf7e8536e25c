import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedLines } from '../../src/flows/verify-batch.js';

async function collect(chunks: Array<string | Buffer>, max?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of boundedLines(Readable.from(chunks), max)) out.push(line);
  return out;
}

describe('boundedLines', () => {
  it('yields the non-blank lines, whatever the chunking (property)', async () => {
    const line = fc.stringMatching(/^[A-Za-z0-9._ -]{0,40}$/);
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), fc.boolean(), async (lines, cuts, crlf) => {
        const text = lines.join(crlf ? '\r\n' : '\n');
        const chunks: string[] = [];
        for (let i = 0, c = 0; i < text.length; c++) {
          const size = cuts[c % cuts.length]!;
          chunks.push(text.slice(i, i + size));
          i += size;
        }
        expect(await collect(chunks, 1000)).toEqual(lines.filter((l) => l.trim() !== ''));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps multi-byte characters split across chunks whole', async () => {
    const bytes = Buffer.from('añb€\nçd\n');
    expect(await collect([bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)])).toEqual(['añb€', 'çd']);
  });

  it('reports an over-long line once, without keeping it, and goes on', async () => {
    const lines = await collect(['short\n', 'x'.repeat(30), 'y'.repeat(30), 'z'.repeat(30), '\nafter\n', 'w'.repeat(200)], 50);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('short');
    expect(lines[1]).toMatch(/line longer than/);
    expect(lines[2]).toBe('after');
    expect(lines[3]).toMatch(/line longer than/);
  });
});
