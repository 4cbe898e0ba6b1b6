const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;

/** A cheap stable hash (FNV-1a, 32 bits) in base 36, for shortening long names without collisions. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** `name` as a valid tool name for every provider (`^[a-zA-Z0-9_-]{1,64}$`): other characters become `_`. */
export function validToolName(name: string): string {
  if (VALID.test(name)) return name;
  const cleaned = name.replace(/[^a-zA-Z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'tool';
  if (cleaned.length <= MAX) return cleaned;
  const hash = shortHash(name);
  return `${cleaned.slice(0, MAX - hash.length - 1)}_${hash}`;
}

/**
 * Hands out the names a round offers to the model: `namespace__name` for kit members and MCP tools,
 * made valid and unique (a clash gets `_2`, `_3`…), so each maps back to exactly one tool.
 */
export class ToolNames {
  readonly #used = new Set<string>();

  take(name: string, namespace: readonly string[] = []): string {
    const base = validToolName([...namespace, name].join('__'));
    let candidate = base;
    for (let n = 2; this.#used.has(candidate); n++) {
      const suffix = `_${n}`;
      candidate = `${base.slice(0, MAX - suffix.length)}${suffix}`;
    }
    this.#used.add(candidate);
    return candidate;
  }
}
