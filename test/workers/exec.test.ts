import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

const post = (path: string, body: unknown) =>
  SELF.fetch(`http://127.0.0.1/llm-exec${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The agent API inside workerd, on D1 (no runner listed, no provider key). */
describe('/llm-exec on workerd', () => {
  it('stores threads and agents in D1', async () => {
    const thread = await (await post('/threads', { metadata: { from: 'workers' } })).json<{ id: string }>();
    const row = await env.DB.prepare('select principal from threads where id = ?').bind(thread.id).first();
    expect(row).toEqual({ principal: 'anonymous' });
    const list = await (await SELF.fetch('http://127.0.0.1/llm-exec/threads')).json<{ data: { id: string }[] }>();
    expect(list.data.map((t) => t.id)).toContain(thread.id);

    const agent = await post('/agents', { slug: 'helper', model: 'tiny-chat', instructions: 'Help.' });
    expect(agent.status).toBe(201);
    expect(await (await SELF.fetch('http://127.0.0.1/llm-exec/agents/helper')).json()).toMatchObject({
      slug: 'helper',
      model: 'tiny-chat',
    });
  });

  it('answers request errors in the /llm-exec shape before any model call', async () => {
    const bad = await post('/round', {
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'custom', name: 'a b' }],
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ statusCode: 400, error: expect.stringMatching(/^tools\.0\.name: /) });

    const noKey = await post('/round/stream', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(noKey.status).toBe(400);
    expect(await noKey.json()).toEqual({ error: 'API key not found for provider OpenAI', statusCode: 400 });
  });

  it('parses OpenAPI documents (no code generation in workerd) and refuses SSRF targets', async () => {
    const schema = {
      swagger: '2.0',
      info: { title: 'x', version: '1' },
      host: 'api.example.com',
      paths: { '/a': { get: { operationId: 'getA', responses: { 200: { description: 'ok' } } } } },
    };
    const external = await post('/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        {
          type: 'openapi',
          schema: { ...schema, paths: { '/a': { get: { responses: { 200: { $ref: 'http://169.254.169.254/x' } } } } } },
        },
      ],
    });
    expect(external.status).toBe(400);
    expect((await external.json<{ error: string }>()).error).toMatch(/^tools\.0: schema: external \$ref/);
    // A valid document resolves; the round then fails on the model (no OpenAI key here), not on the parser.
    const valid = await post('/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'openapi', schema }],
    });
    expect(await valid.json()).toEqual({ error: 'API key not found for provider OpenAI', statusCode: 400 });

    const mcp = await post('/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'mcp', server_url: 'http://10.0.0.1/mcp' }],
    });
    expect(mcp.status).toBe(400);
    expect((await mcp.json<{ error: string }>()).error).toMatch(/^tools\.0: .*is refused: 10\.0\.0\.1 is a private/);
  });
});
