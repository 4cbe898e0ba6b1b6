import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { startListening, type Started } from '../helpers/processes.ts';
import { TINY_CATALOG } from '../helpers/tiny-models.ts';

const RUNNER_SECRET = 'edge-stop-runner-secret-000';

/** Stop and disconnect must reach the runner that generates, through the edge. */
describe('edge + runner: stop and disconnect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-edge-stop-'));
  const catalog = join(dir, 'models.json');
  writeFileSync(catalog, JSON.stringify(TINY_CATALOG));
  const running: Started[] = [];
  let edge = '';
  let runner = '';

  beforeAll(async () => {
    const common = { HOST: '127.0.0.1', PORT: '0', MODELS_FILE: catalog, LLM_THREADS: '1' };
    const r = await startListening('runner', { ...common, RUNNER_ID: 'stop-runner', RUNNER_SECRET });
    const e = await startListening('start', {
      ...common,
      DATA_DIR: join(dir, 'data'),
      RUNNER_URLS: r.url,
      RUNNER_SECRET,
    });
    running.push(r, e);
    [runner, edge] = [r.url, e.url];
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const long = (signal?: AbortSignal, session?: string) =>
    fetch(`${edge}/v1/chat/completions`, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
      body: JSON.stringify({
        model: 'tiny-loop',
        stream: true,
        temperature: 0,
        max_tokens: 7000,
        messages: [{ role: 'user', content: 'go' }],
      }),
    });
  const busy = async () => {
    const { createRunnerSigner } = await import('../../shared/runner-token.ts');
    const token = await createRunnerSigner({ secret: RUNNER_SECRET })('stop-runner', {
      method: 'GET',
      path: '/_runner/v1/status',
    });
    const res = await fetch(`${runner}/_runner/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { busy: number }).busy;
  };

  it('POST /v1/stop on the edge stops the runner’s generation; the session keeps working', async () => {
    const res = await long();
    const session = res.headers.get('x-session-id')!;
    let chunks = 0;
    let finish = '';
    for await (const data of parseSSE(res.body!)) {
      if (data === '[DONE]') break;
      const choice = JSON.parse(data).choices[0];
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (choice?.delta?.content && ++chunks === 3) {
        const stopped = await fetch(`${edge}/v1/stop`, { method: 'POST', headers: { 'x-session-id': session } });
        expect(await stopped.json()).toEqual({ status: 'stopped' });
      }
    }
    expect(finish).toBe('stop');
    expect(chunks).toBeLessThan(7000);
    expect(await busy()).toBe(0);
    const again = await fetch(`${edge}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-id': session },
      body: JSON.stringify({ model: 'tiny-chat', temperature: 0, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(again.status).toBe(200);
  });

  it('a client that disconnects from the edge stops the generation on the runner', async () => {
    const controller = new AbortController();
    const res = await long(controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    // Left alone, 7,000 tokens take seconds; the abort frees the sequence well within the poll.
    await expect.poll(busy, { timeout: 2_000, interval: 50 }).toBe(0);
  });
});
