import { LIMITS } from './limits.ts';

/** What is wrong with a JSON schema a client sent, as a message (null when nothing is). */
export type SchemaProblem = string | null;

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keywords whose subschemas match at the same position (no value consumed): a `$ref` cycle through them never ends. */
const IN_PLACE = ['allOf', 'anyOf', 'oneOf'] as const;

/**
 * Checks a tool's `parameters` or a `response_format` schema before anything
 * walks it recursively (grammar builders, `JSON.stringify` on the way to a
 * runner): at most `LIMITS.schemaDepth` levels and `LIMITS.schemaNodes`
 * values, counted without recursion; every `$ref` local (`#`, `#/…`) and
 * naming something; no `$ref` cycle that matches in place (a `$ref` to itself,
 * or through `allOf`/`anyOf`/`oneOf` only). Recursion through `properties` or
 * `items` (a tree) is allowed.
 */
export function schemaProblem(schema: Json): SchemaProblem {
  const refs: Array<{ ref: string; node: Record<string, Json> }> = [];
  const stack: Array<[Json, number]> = [[schema, 1]];
  let nodes = 0;
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (++nodes > LIMITS.schemaNodes) return `has more than ${LIMITS.schemaNodes} values (the limit)`;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > LIMITS.schemaDepth) return `is nested more than ${LIMITS.schemaDepth} levels deep (the limit)`;
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth + 1]);
      continue;
    }
    const node = value as Record<string, Json>;
    if (typeof node.$ref === 'string') refs.push({ ref: node.$ref, node });
    for (const item of Object.values(node)) stack.push([item, depth + 1]);
  }
  const targets = new Map<Record<string, Json>, Json>();
  for (const { ref, node } of refs) {
    if (ref !== '#' && !ref.startsWith('#/'))
      return `$ref ${JSON.stringify(ref.slice(0, 100))}: only local references (#/…) are supported`;
    const target = resolvePointer(schema, ref);
    if (target === undefined) return `$ref ${JSON.stringify(ref.slice(0, 100))} names nothing in the schema`;
    targets.set(node, target);
  }
  return targets.size ? inPlaceCycle(schema, targets) : null;
}

/** A JSON pointer (`#/$defs/a~1b`) inside `root`; undefined when it names nothing. */
function resolvePointer(root: Json, ref: string): Json {
  let at: Json = root;
  for (const raw of ref
    .slice(2)
    .split('/')
    .filter((p, i, all) => p !== '' || i < all.length - 1)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(at)) at = at[Number(key)];
    else if (isObject(at) && Object.hasOwn(at, key)) at = at[key];
    else return undefined;
    if (at === undefined) return undefined;
  }
  return at;
}

/** Depth-first over the in-place edges ($ref targets, allOf/anyOf/oneOf members), iteratively: a back edge is a loop. */
function inPlaceCycle(root: Json, targets: Map<Record<string, Json>, Json>): SchemaProblem {
  const state = new Map<Json, 'open' | 'done'>();
  const edges = (node: Json): Json[] => {
    if (!isObject(node)) return [];
    const out: Json[] = [];
    if (targets.has(node)) out.push(targets.get(node));
    for (const key of IN_PLACE) if (Array.isArray(node[key])) out.push(...(node[key] as Json[]));
    return out;
  };
  const starts = [root, ...targets.values()];
  for (const start of starts) {
    if (state.has(start)) continue;
    const stack: Array<{ node: Json; next: Json[] }> = [{ node: start, next: edges(start) }];
    state.set(start, 'open');
    while (stack.length) {
      const top = stack.at(-1)!;
      const child = top.next.pop();
      if (child === undefined) {
        state.set(top.node, 'done');
        stack.pop();
        continue;
      }
      const seen = state.get(child);
      if (seen === 'open') return '$ref loop: a reference leads back to itself without matching any value';
      if (seen === 'done') continue;
      state.set(child, 'open');
      stack.push({ node: child, next: edges(child) });
    }
  }
  return null;
}
