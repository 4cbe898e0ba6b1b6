/** One line read by CTC: its text and the mean probability of its characters (0 for an empty line). */
export interface CtcLine {
  text: string;
  confidence: number;
}

/**
 * Greedy CTC decoding of a `[N, T, C]` probability tensor: at each step the most probable class; repeats
 * collapse, class 0 (blank) separates them and is dropped. `charset[c - 1]` is class `c`'s character.
 */
export function ctcDecode(
  probs: Float32Array,
  n: number,
  steps: number,
  classes: number,
  charset: readonly string[],
): CtcLine[] {
  const lines: CtcLine[] = [];
  for (let i = 0; i < n; i++) {
    let text = '';
    let sum = 0;
    let count = 0;
    let last = 0;
    for (let t = 0; t < steps; t++) {
      const row = (i * steps + t) * classes;
      let best = 0;
      let bestP = probs[row]!;
      for (let c = 1; c < classes; c++) {
        const p = probs[row + c]!;
        if (p > bestP) {
          bestP = p;
          best = c;
        }
      }
      if (best !== 0 && best !== last) {
        text += charset[best - 1] ?? '';
        sum += bestP;
        count++;
      }
      last = best;
    }
    lines.push({ text, confidence: count ? sum / count : 0 });
  }
  return lines;
}
