import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { AppError } from '../../../shared/errors.ts';
import type { GuardedFetch, GuardedFetchInit } from '../../net/ssrf.ts';

/** An MCP server as a tool definition names it. */
export interface McpServerRef {
  url: URL;
  /** `server_label`, else the URL's host name. */
  label: string;
  headers?: Record<string, string>;
}

/** A connected client; `fail` turns an error of a later request into what callers throw. */
export interface McpSession {
  client: Client;
  /** The abort reason, an SSRF refusal (400), or `AppError(502, "<server>: <what>: …", { code: 'mcp_error' })`. */
  fail: (err: unknown, what: string) => unknown;
  /** Ends the session (DELETE when the server keeps sessions) and the transport; never throws. */
  close: () => Promise<void>;
}

export interface ConnectOptions {
  /** The SSRF-guarded fetch every request goes through. */
  fetch: GuardedFetch;
  signal: AbortSignal;
  /** Limit for connecting (both transports together), in ms; default 30 000. */
  timeoutMs?: number;
}

/** Ending a session is a courtesy: it gets this long. */
const TERMINATE_TIMEOUT_MS = 5_000;

/** `MCP server <label> (<url without credentials, query or fragment>)`, for messages. */
export function describeServer(server: McpServerRef): string {
  return `MCP server ${server.label} (${server.url.origin}${server.url.pathname})`;
}

/**
 * Connects to an MCP server over Streamable HTTP, else (a new client) over the older HTTP+SSE transport.
 * Throws the caller's abort reason, an SSRF refusal as it came (`AppError` 400), or
 * `AppError(502, "MCP server <label> (<url>) is unreachable: …", { code: 'mcp_unreachable' })`.
 */
export async function connectMcp(server: McpServerRef, options: ConnectOptions): Promise<McpSession> {
  const { signal, timeoutMs = 30_000 } = options;
  const refusals: AppError[] = [];
  const fetch = transportFetch(options.fetch, refusals);
  const requestInit: RequestInit = { headers: server.headers ?? {} };
  const deadline = AbortSignal.timeout(timeoutMs);
  const bounded = AbortSignal.any([signal, deadline]);
  const attempts: [string, () => Transport][] = [
    ['Streamable HTTP', () => new StreamableHTTPClientTransport(server.url, { fetch, requestInit })],
    ['SSE', () => new SSEClientTransport(server.url, { fetch, requestInit })],
  ];

  const failures: string[] = [];
  for (const [name, open] of attempts) {
    const transport = open();
    const client = new Client(
      { name: 'edgerunner', version: '1.0.0' },
      { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
    );
    try {
      await untilAborted(client.connect(transport, { signal: bounded, timeout: timeoutMs }), bounded);
      const fail = (err: unknown, what: string) =>
        signal.aborted
          ? signal.reason
          : (refusals[0] ??
            refusalIn(err) ??
            new AppError(502, `${describeServer(server)}: ${what}: ${reasonOf(err)}`, {
              code: 'mcp_error',
              cause: err,
            }));
      return { client, fail, close: () => closeQuietly(transport) };
    } catch (err) {
      void closeQuietly(transport);
      if (signal.aborted) throw signal.reason;
      const refusal = refusals[0] ?? refusalIn(err);
      if (refusal) throw refusal;
      if (deadline.aborted) {
        failures.push(`no answer within ${timeoutMs} ms`);
        break;
      }
      failures.push(`${name}: ${reasonOf(err)}`);
    }
  }
  throw new AppError(502, `${describeServer(server)} is unreachable: ${failures.join('; ')}`, {
    code: 'mcp_unreachable',
  });
}

/**
 * The guarded fetch as the transports call it: GETs open long-lived SSE streams (no time or size limit);
 * POSTs may answer with a stream as long as a tool call (the client's request timeouts and the caller's
 * signal bound them); every SSRF refusal is kept, since the SDK rewraps errors.
 */
function transportFetch(fetch: GuardedFetch, refusals: AppError[]): FetchLike {
  return async (url, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const limits: GuardedFetchInit =
      method === 'GET' ? { timeoutMs: 0, maxBytes: 0 } : { timeoutMs: method === 'DELETE' ? TERMINATE_TIMEOUT_MS : 0 };
    try {
      return await fetch(url, { ...init, ...limits });
    } catch (err) {
      const refusal = refusalIn(err);
      if (refusal) refusals.push(refusal);
      throw err;
    }
  };
}

/** The 4xx AppError (an SSRF refusal) somewhere in an error's causes. */
function refusalIn(err: unknown): AppError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++)
    if (e instanceof AppError && e.status < 500) return e;
  return undefined;
}

/** An error's message with those of its causes (`fetch failed (connect ECONNREFUSED …)`). */
function reasonOf(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  const [first = 'unknown error', ...rest] = parts;
  return rest.length ? `${first} (${rest.join('; ')})` : first;
}

/** `promise`, or the signal's reason as soon as it aborts (an SSE stream that never opens never settles). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function closeQuietly(transport: Transport): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
  await transport.close().catch(() => {});
}
