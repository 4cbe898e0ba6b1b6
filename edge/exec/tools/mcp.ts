import type { CallToolResult, CompatibilityCallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { EXEC_LIMITS, type McpTool } from '../../../shared/schemas/exec.ts';
import type { ExecTool, ToolOutput, ToolResolveContext } from '../tool.ts';
import { connectMcp, type McpServerRef } from './mcp-client.ts';

export interface McpAdapterOptions {
  /** How long a server's tool listing is reused, in ms; default 60 000. */
  listTtlMs?: number;
  /** The clock the listing cache reads; default `Date.now`. */
  now?: () => number;
  /** Limit for connecting and for listing, in ms; default 30 000 (calls are bounded by their tool timeout). */
  timeoutMs?: number;
}

/** Listings kept at most (distinct servers and headers); the oldest goes first. */
const CACHE_ENTRIES = 256;
/** `tools/list` pages followed at most. */
const MAX_PAGES = 50;
const EMPTY_OBJECT = { type: 'object', properties: {} };

/**
 * The `mcp` adapter: lists the tools of `server_url` (Streamable HTTP, else HTTP+SSE, every request through
 * the guarded fetch with the definition's `headers`), keeps those in `allowed_tools`, and offers each one;
 * a call opens its own session. Listings are cached per URL and headers for `listTtlMs`. An unreachable
 * server is `AppError(502, …, { code: 'mcp_unreachable' })` (the round goes on without its tools); an SSRF
 * refusal stays a 400.
 */
export function mcpAdapter({ listTtlMs = 60_000, now = Date.now, timeoutMs = 30_000 }: McpAdapterOptions = {}) {
  const cache = new Map<string, { expires: number; tools: Tool[] }>();

  const list = async (server: McpServerRef, context: ToolResolveContext): Promise<Tool[]> => {
    const key = cacheKey(server);
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.tools;
    const tools = await listTools(server, context, timeoutMs);
    cache.delete(key);
    for (const [k, entry] of cache) if (entry.expires <= now() || cache.size >= CACHE_ENTRIES) cache.delete(k);
    cache.set(key, { expires: now() + listTtlMs, tools });
    return tools;
  };

  return async (definition: McpTool, context: ToolResolveContext): Promise<ExecTool[]> => {
    const url = new URL(definition.server_url);
    const server: McpServerRef = { url, label: definition.server_label ?? url.hostname, headers: definition.headers };
    const allowed = definition.allowed_tools && new Set(definition.allowed_tools);
    const tools = (await list(server, context)).filter((tool) => !allowed || allowed.has(tool.name));
    return tools.map((tool) => toExecTool(server, tool, definition.require_approval ?? 'never', timeoutMs));
  };
}

function cacheKey(server: McpServerRef): string {
  const headers = Object.entries(server.headers ?? {})
    .map(([name, value]) => [name.toLowerCase(), value])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return `${server.url.href}\n${JSON.stringify(headers)}`;
}

async function listTools(server: McpServerRef, context: ToolResolveContext, timeoutMs: number): Promise<Tool[]> {
  const session = await connectMcp(server, { fetch: context.fetch, signal: context.signal, timeoutMs });
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await session.client.listTools(cursor === undefined ? {} : { cursor }, {
        signal: context.signal,
        timeout: timeoutMs,
      });
      tools.push(...result.tools);
      if (!result.nextCursor || result.nextCursor === cursor) break;
      cursor = result.nextCursor;
    }
    return tools;
  } catch (err) {
    throw session.fail(err, 'listing its tools failed');
  } finally {
    await session.close();
  }
}

function toExecTool(
  server: McpServerRef,
  tool: Tool,
  approval: NonNullable<McpTool['require_approval']>,
  timeoutMs: number,
): ExecTool {
  const required = approval === 'always' || (approval === 'auto' && tool.annotations?.readOnlyHint !== true);
  return {
    name: tool.name,
    description: tool.description,
    parameters: (tool.inputSchema as Record<string, unknown> | undefined) ?? EMPTY_OBJECT,
    approval: { serverLabel: server.label, toolName: tool.name, required },
    run: async (args, context) => {
      const session = await connectMcp(server, { fetch: context.fetch, signal: context.signal, timeoutMs });
      try {
        const result = await session.client.callTool({ name: tool.name, arguments: args }, undefined, {
          signal: context.signal,
          // The call's own signal (its tool timeout) ends it first.
          timeout: EXEC_LIMITS.timeoutMs,
        });
        return toOutput(result);
      } catch (err) {
        throw session.fail(err, `tool "${tool.name}" failed`);
      } finally {
        // After an abort the caller gets its answer at once; the session ends behind it.
        if (context.signal.aborted) void session.close();
        else await session.close();
      }
    },
  };
}

/** Text contents joined, else `structuredContent`, else the content array; `isError` carried over. */
function toOutput(result: CallToolResult | CompatibilityCallToolResult): ToolOutput {
  if (!('content' in result) && 'toolResult' in result) return { result: result.toolResult };
  const { content = [], structuredContent, isError } = result as CallToolResult;
  const texts = content.every((item) => item.type === 'text') ? content.map((item) => item.text) : undefined;
  const value = (isError && texts?.join('\n')) || (structuredContent ?? texts?.join('\n') ?? content);
  return isError ? { result: value, isError: true } : { result: value };
}
