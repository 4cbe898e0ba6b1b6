import { createGuardedFetch, type GuardedFetch } from '../net/ssrf.ts';
import type { ExecDeps } from './round-services.ts';
import { mcpAdapter } from './tools/mcp.ts';

export interface ExecDepsOptions {
  /** The SSRF-guarded fetch (Node injects one that also checks at connect time); default `createGuardedFetch({ allowlist })`. */
  fetch?: GuardedFetch;
  /** `SSRF_ALLOWLIST`, parsed (used when `fetch` is not given). */
  allowlist?: readonly string[];
}

/** The agent API's services for a deployment: every tool type whose adapter needs nothing but the network. */
export function createExecDeps({ fetch, allowlist = [] }: ExecDepsOptions = {}): ExecDeps {
  const guarded = fetch ?? createGuardedFetch({ allowlist });
  return { fetch: guarded, adapters: { mcp: mcpAdapter() } };
}
