import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecDeps } from '../exec/exec-deps.ts';
import { documentEvents, execTestApp } from '../../test/helpers/exec-app.ts';
import { listen, streamable } from '../../test/helpers/mcp-servers.ts';
import { scriptedUpstream, type ScriptedUpstream } from '../../test/helpers/scripted-upstream.ts';

let upstream: ScriptedUpstream;
let mcp: Awaited<ReturnType<typeof listen>>;
let t: Awaited<ReturnType<typeof execTestApp>>;
beforeAll(async () => {
  upstream = await scriptedUpstream();
  mcp = await listen(streamable);
  t = await execTestApp(upstream, { adapters: createExecDeps({ allowlist: ['127.0.0.1'] }).adapters });
});
afterAll(async () => {
  await upstream.close();
  mcp.server.closeAllConnections();
  mcp.server.close();
  t.cleanup();
});

const post = (path: string, body: unknown) =>
  t.app.request(`/llm-exec${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const tool = (require_approval: string) => ({
  type: 'mcp',
  server_label: 'docs',
  server_url: `${mcp.url}/mcp`,
  require_approval,
});
const lastTool = (body: { messages: { role: string }[] }) => body.messages.at(-1)?.role === 'tool';

describe('mcp tools in a round', () => {
  it('offers the server tools under its label and runs them with require_approval never', async () => {
    upstream.script((body) =>
      lastTool(body)
        ? { text: `Got ${body.messages.at(-1)!.content}` }
        : { calls: [{ name: 'docs__lookup', arguments: { word: 'hono' } }] },
    );
    const res = await post('/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'look hono up' }],
      tools: [tool('never')],
    });
    const events = documentEvents(await res.text());
    expect(
      upstream.requests
        .at(-1)!
        .tools!.map((x) => x.function.name)
        .sort(),
    ).toEqual(['docs__delete_item', 'docs__hang', 'docs__lookup', 'docs__ping']);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({
      tool_name: 'docs__lookup',
      result: 'found hono',
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'stop', message: { content: 'Got found hono' } });
  });

  it('always: pauses with mcp_approval_request; an approval runs the call, a refusal tells the model', async () => {
    const script = () =>
      upstream.script((body) =>
        lastTool(body)
          ? { text: `Tool said: ${body.messages.at(-1)!.content}` }
          : { calls: [{ name: 'docs__lookup', arguments: { word: 'mcp' }, id: 'call_ap' }] },
      );
    script();
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'look mcp up' }], tools: [tool('always')] };
    const paused = await (await post('/round', ask)).json();
    expect(paused.finish_reason).toBe('approval_required');
    expect(paused.approval_requests).toEqual([
      {
        type: 'mcp_approval_request',
        id: 'call_ap',
        server_label: 'docs',
        name: 'lookup',
        arguments: '{"word":"mcp"}',
      },
    ]);
    const stream = documentEvents(await (await post('/round/stream', ask)).text());
    expect(stream.find((e) => e.type === 'mcp_approval_request')).toMatchObject({
      id: 'call_ap',
      server_label: 'docs',
      name: 'lookup',
    });
    expect(mcp.seen.requests).toBeGreaterThan(0);

    const answer = (approve: boolean, reason?: string) => ({
      ...ask,
      messages: [
        ...ask.messages,
        ...paused.messages,
        {
          role: 'user',
          content: null,
          approvals: [
            { type: 'mcp_approval_response', approval_request_id: 'call_ap', approve, ...(reason ? { reason } : {}) },
          ],
        },
      ],
    });
    script();
    const approved = await (await post('/round', answer(true))).json();
    expect(approved).toMatchObject({ finish_reason: 'stop', message: { content: 'Tool said: found mcp' } });

    script();
    const refused = await (await post('/round/stream', answer(false, 'not now'))).text();
    const events = documentEvents(refused);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({
      id: 'call_ap',
      result: 'The user refused this call: not now',
    });
    expect(events.at(-1)).toMatchObject({
      type: 'end',
      message: { content: 'Tool said: The user refused this call: not now' },
    });

    const missing = await post('/round', { ...ask, messages: [...ask.messages, ...paused.messages] });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatch(/needs an mcp_approval_response with approval_request_id "call_ap"/);
  });

  it('auto: runs read-only tools, asks for the others', async () => {
    upstream.script([
      {
        calls: [
          { name: 'docs__lookup', arguments: { word: 'a' }, id: 'ro' },
          { name: 'docs__delete_item', arguments: { id: '7' }, id: 'rw' },
        ],
      },
    ]);
    const body = await (
      await post('/round', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], tools: [tool('auto')] })
    ).json();
    expect(body.finish_reason).toBe('approval_required');
    expect(body.approval_requests.map((r: { id: string }) => r.id)).toEqual(['rw']);
    expect(body.messages.find((m: { role: string }) => m.role === 'tool_response')).toMatchObject({
      tool_call_id: 'ro',
      content: 'found a',
    });
  });

  it('an unreachable server is a TOOL_ERROR event and the round goes on without its tools', async () => {
    upstream.script([{ text: 'No tools, sorry.' }]);
    const res = await post('/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'mcp', server_label: 'gone', server_url: 'http://127.0.0.1:1/mcp' }],
    });
    expect(res.status).toBe(200);
    const events = documentEvents(await res.text());
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      error: { code: 'TOOL_ERROR', message: expect.stringMatching(/MCP server gone .* is unreachable/) },
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'stop' });
  });

  it('refuses a server URL the SSRF guard forbids with a 400', async () => {
    const strict = await execTestApp(upstream, { adapters: createExecDeps().adapters, extra: {} });
    const res = await strict.app.request('/llm-exec/round', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'mcp', server_url: 'http://169.254.169.254/latest' }],
      }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^tools\.0: .*is refused/);
    strict.cleanup();
  });
});
