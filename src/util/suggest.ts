/**
 * "Did you mean …": the names close to a mistyped one. The rule is commander's own (its
 * `suggestSimilar`, which it does not export): Damerau-Levenshtein distance at most 2 and more
 * than 40% of the letters in common, the closest names only. Our own suggestions (config keys
 * and actions, profile names) then read like commander's (commands, options).
 */

const MAX_DISTANCE = 2;
const MIN_SIMILARITY = 0.4;

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates closest to `word` (case-insensitive), sorted; empty when none is close.
 * @example similarNames('isuer', ['issuer', 'clientId']) // ['issuer']
 */
export function similarNames(word: string, candidates: readonly string[]): string[] {
  let best = MAX_DISTANCE + 1;
  let similar: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate.length <= 1 || candidate === word) continue;
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    const length = Math.max(word.length, candidate.length);
    if ((length - distance) / length <= MIN_SIMILARITY || distance > best) continue;
    if (distance < best) [best, similar] = [distance, [candidate]];
    else similar.push(candidate);
  }
  return similar.sort((x, y) => x.localeCompare(y));
}

/** `Did you mean "issuer"?`, `Did you mean one of "a", "b"?`, or undefined. */
export function didYouMean(word: string, candidates: readonly string[], quote = (s: string) => `"${s}"`): string | undefined {
  const similar = similarNames(word, candidates);
  if (similar.length === 0) return undefined;
  return similar.length === 1 ? `Did you mean ${quote(similar[0]!)}?` : `Did you mean one of ${similar.map(quote).join(', ')}?`;
}
