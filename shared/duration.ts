/** Parses `5m`, `30s`, `1h`, `250ms` or plain milliseconds; `-1` (or any negative) means never. */
export function parseDuration(value: string): number {
  const match = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new Error(`not a duration: "${value}" (use e.g. 30s, 5m, 1h, -1 for never)`);
  const n = Number(match[1]);
  if (n < 0) return -1;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms'];
  return n * unit;
}
