import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../shared/errors.ts';
import type { McpTool } from '../../../shared/schemas/exec.ts';
import { createGuardedFetch } from '../../net/ssrf.ts';
import type { ExecTool, ToolResolveContext } from '../tool.ts';
import { mcpAdapter } from './mcp.ts';
import { legacySse, listen, streamable } from '../../../test/helpers/mcp-servers.ts';

const fetch = createGuardedFetch({ allowlist: ['127.0.0.1'] });
const resolveContext = (): ToolResolveContext => ({ signal: new AbortController().signal, fetch });

const mcp = (serverUrl: string, more: Partial<McpTool> = {}): McpTool => ({
  type: 'mcp',
  server_url: serverUrl,
  ...more,
});

const named = (tools: ExecTool[], name: string): ExecTool => tools.find((t) => t.name === name)!;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

let http: Awaited<ReturnType<typeof listen>>;
let sse: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  http = await listen(streamable);
  sse = await listen(legacySse);
});

afterAll(async () => {
  for (const { server } of [http, sse]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('mcpAdapter over Streamable HTTP', () => {
  it('lists the tools with their schemas, labelled by host name', async () => {
    const tools = await mcpAdapter()(mcp(`${http.url}/mcp`), resolveContext());
    expect(tools.map((t) => t.name).sort()).toEqual(['delete_item', 'hang', 'lookup', 'ping']);
    const lookup = named(tools, 'lookup');
    expect(lookup.description).toBe('Looks a word up.');
    expect(lookup.parameters).toMatchObject({ type: 'object', properties: { word: { type: 'string' } } });
    expect(lookup.approval).toEqual({ serverLabel: '127.0.0.1', toolName: 'lookup', required: false });
  });

  it('keeps only allowed_tools and sets approval for never, always and auto', async () => {
    const adapter = mcpAdapter();
    const url = `${http.url}/mcp`;
    const allowed = await adapter(mcp(url, { allowed_tools: ['lookup', 'nope'] }), resolveContext());
    expect(allowed.map((t) => t.name)).toEqual(['lookup']);

    const required = async (require_approval: McpTool['require_approval']) =>
      Object.fromEntries(
        (await adapter(mcp(url, { server_label: 'srv', require_approval }), resolveContext())).map((t) => [
          t.name,
          t.approval,
        ]),
      );
    expect(await required('never')).toMatchObject({ lookup: { required: false }, delete_item: { required: false } });
    expect(await required('always')).toMatchObject({ lookup: { required: true }, delete_item: { required: true } });
    expect(await required('auto')).toMatchObject({
      lookup: { serverLabel: 'srv', toolName: 'lookup', required: false },
      delete_item: { required: true },
    });
  });

  it('calls a tool, returns a tool error as isError, and sends the definition headers', async () => {
    const definition = mcp(`${http.url}/mcp`, { headers: { Authorization: 'Bearer secret-1' } });
    const tools = await mcpAdapter()(definition, resolveContext());
    const runContext = { signal: new AbortController().signal, fetch };
    expect(await named(tools, 'lookup').run!({ word: 'edge' }, runContext)).toEqual({ result: 'found edge' });
    expect(await named(tools, 'delete_item').run!({ id: '7' }, runContext)).toEqual({
      result: 'no item 7',
      isError: true,
    });
    expect(http.seen.authorizations).toContain('Bearer secret-1');
  });

  it('caches the listing per server and headers for listTtlMs', async () => {
    let clock = 1_000;
    const adapter = mcpAdapter({ listTtlMs: 60_000, now: () => clock });
    const definition = mcp(`${http.url}/mcp`, { headers: { 'X-Cache': 'a' } });
    await adapter(definition, resolveContext());
    const after = http.seen.requests;
    await adapter({ ...definition, allowed_tools: ['lookup'] }, resolveContext());
    expect(http.seen.requests).toBe(after);

    await adapter(mcp(`${http.url}/mcp`, { headers: { 'X-Cache': 'b' } }), resolveContext());
    expect(http.seen.requests).toBeGreaterThan(after);

    const before = http.seen.requests;
    clock += 60_001;
    await adapter(definition, resolveContext());
    expect(http.seen.requests).toBeGreaterThan(before);
  });

  it('rejects a run promptly when its signal aborts, and cancels the call on the server', async () => {
    const tools = await mcpAdapter()(mcp(`${http.url}/mcp`), resolveContext());
    const controller = new AbortController();
    const running = named(tools, 'hang').run!({}, { signal: controller.signal, fetch });
    await http.seen.hangStarted.promise;
    controller.abort(new Error('client left'));
    await expect(running).rejects.toThrow('client left');
    await vi.waitFor(() => expect(http.seen.hangCancelled).toBe(true));
  });
});

describe('mcpAdapter over the older HTTP+SSE transport', () => {
  it('falls back to SSE to list and call tools', async () => {
    const definition = mcp(`${sse.url}/sse`, { headers: { Authorization: 'Bearer secret-2' } });
    const tools = await mcpAdapter()(definition, resolveContext());
    expect(tools.map((t) => t.name).sort()).toEqual(['delete_item', 'hang', 'lookup', 'ping']);
    const runContext = { signal: new AbortController().signal, fetch };
    expect(await named(tools, 'lookup').run!({ word: 'old' }, runContext)).toEqual({ result: 'found old' });
    expect(sse.seen.authorizations).toContain('Bearer secret-2');
  });
});

describe('mcpAdapter failures', () => {
  it('an unreachable server is a 502 mcp_unreachable naming the server, without the query', async () => {
    const closed = await listen(() => () => {});
    await new Promise((resolve) => closed.server.close(resolve));
    const definition = mcp(`${closed.url}/mcp?token=hidden`, { server_label: 'gone' });
    const err = await rejection(mcpAdapter()(definition, resolveContext()));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 502, code: 'mcp_unreachable' });
    expect((err as AppError).message).toContain(`MCP server gone (${closed.url}/mcp) is unreachable`);
    expect((err as AppError).message).not.toContain('hidden');
  });

  it('an SSRF refusal stays a 400 and reaches no server', async () => {
    const before = http.seen.requests;
    const refusing: ToolResolveContext = {
      signal: new AbortController().signal,
      fetch: createGuardedFetch({ allowlist: [] }),
    };
    const err = await rejection(mcpAdapter()(mcp(`${http.url}/mcp`), refusing));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, code: 'ssrf_blocked' });
    expect(http.seen.requests).toBe(before);
  });
});

/**
 * Binds every `listen` of the child to 127.0.0.1 (server-everything listens on all interfaces and has no
 * host setting) and prints the bound address.
 */
const LOOPBACK_PRELOAD = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args.at(-1) === 'function' ? args.pop() : undefined;
  const [first] = args;
  if (first && typeof first === 'object' && first.path === undefined) args = [{ ...first, host: '127.0.0.1' }];
  else if (/^\\d+$/.test(String(first))) args = [Number(first), '127.0.0.1'];
  this.once('listening', () => {
    const address = this.address();
    process.stderr.write('BOUND ' + address.address + ':' + address.port + '\\n');
  });
  return listen.apply(this, callback ? [...args, callback] : args);
};`;

describe('mcpAdapter against @modelcontextprotocol/server-everything', () => {
  let child: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    const entry = new URL(import.meta.resolve('@modelcontextprotocol/server-everything/package.json'));
    const main = new URL('dist/index.js', entry);
    child = spawn(
      process.execPath,
      [`--import=data:text/javascript,${encodeURIComponent(LOOPBACK_PRELOAD)}`, main.pathname, 'streamableHttp'],
      { env: { PATH: process.env.PATH, PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const bound = await new Promise<string>((resolve, reject) => {
      let text = '';
      child!.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /BOUND (\S+):(\d+)/.exec(text);
        if (match) resolve(`${match[1]}:${match[2]}`);
      });
      child!.once('exit', (code) => reject(new Error(`server-everything exited (${code}): ${text}`)));
    });
    if (!bound.startsWith('127.0.0.1:')) throw new Error(`server-everything bound ${bound}, not loopback`);
    url = `http://${bound}/mcp`;
  }, 15_000);

  afterAll(() => {
    child?.kill();
  });

  it('lists its tools and calls echo', async () => {
    const tools = await mcpAdapter()(mcp(url, { require_approval: 'auto' }), resolveContext());
    const echo = named(tools, 'echo');
    expect(echo.approval).toEqual({ serverLabel: '127.0.0.1', toolName: 'echo', required: false });
    expect(echo.parameters).toMatchObject({ properties: { message: { type: 'string' } } });
    const output = await echo.run!({ message: 'hi there' }, { signal: new AbortController().signal, fetch });
    expect(output).toEqual({ result: 'Echo: hi there' });
  });
});
