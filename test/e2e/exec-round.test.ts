import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, streamable } from '../helpers/mcp-servers.ts';
import { startListening, type Started } from '../helpers/processes.ts';
import { SCRIPTED_ANSWER, TINY_CATALOG, TOOL_ANSWER } from '../helpers/tiny-models.ts';

const RUNNER_SECRET = 'exec-round-runner-secret-0123';

/** Splits an SSE body the way the API document's client does. */
const events = (text: string) =>
  text
    .split('\n\n')
    .filter((line) => line.startsWith('data: '))
    .map((event) => JSON.parse(event.replace('data: ', '')) as Record<string, unknown>);

/** A round on the scripted GGUF tool model, with a real MCP server's tool, in both topologies. */
describe.each(['embedded', 'edge + runner'] as const)('/llm-exec on a local model: %s', (topology) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-exec-'));
  const catalog = join(dir, 'models.json');
  writeFileSync(catalog, JSON.stringify(TINY_CATALOG));
  const running: Started[] = [];
  let mcp: Awaited<ReturnType<typeof listen>>;
  let base = '';

  beforeAll(async () => {
    mcp = await listen(streamable);
    const common = { HOST: '127.0.0.1', PORT: '0', MODELS_FILE: catalog, LLM_THREADS: '1' };
    const edge = { ...common, DATA_DIR: join(dir, 'data'), SSRF_ALLOWLIST: '127.0.0.1' };
    if (topology === 'embedded') running.push(await startListening('start', edge));
    else {
      const runner = await startListening('runner', { ...common, RUNNER_ID: 'exec-runner', RUNNER_SECRET });
      running.push(runner, await startListening('start', { ...edge, RUNNER_URLS: runner.url, RUNNER_SECRET }));
    }
    base = `${running.at(-1)!.url}/llm-exec`;
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    mcp.server.closeAllConnections();
    mcp.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers a plain round in the document shape', async () => {
    const res = await post('/round', {
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'hi' }],
      llmConfig: { temperature: 0 },
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ message: { role: 'assistant', content: SCRIPTED_ANSWER }, finish_reason: 'stop' });
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('streams a round where the model calls an MCP tool and answers from its result, stored in a thread', async () => {
    const tools = [{ type: 'mcp', server_label: 'local', server_url: `${mcp.url}/mcp`, allowed_tools: ['ping'] }];
    const res = await post('/round/stream', {
      model: 'tiny-tools',
      new_thread: true,
      tools,
      messages: [{ role: 'user', content: 'ping it' }],
      llmConfig: { temperature: 0 },
    });
    expect(res.status).toBe(200);
    const seen = events(await res.text());
    expect(seen.map((e) => e.type).filter((t) => t !== 'chunk')).toEqual(['start', 'tool_call', 'tool_result', 'end']);
    expect(seen.find((e) => e.type === 'tool_call')).toMatchObject({ tool_name: 'local__ping' });
    expect(seen.find((e) => e.type === 'tool_result')).toMatchObject({ tool_name: 'local__ping', result: 'pong' });
    const text = seen
      .filter((e) => e.type === 'chunk')
      .map((e) => e.content)
      .join('');
    expect(text).toBe(TOOL_ANSWER);
    const end = seen.at(-1)!;
    expect(end).toMatchObject({ finish_reason: 'stop', thread_id: expect.stringMatching(/^thread_/) });
    const thread = await (await fetch(`${base}/threads/${end.thread_id}`)).json();
    expect(thread.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'tool_response',
      'assistant',
    ]);
  });
});
