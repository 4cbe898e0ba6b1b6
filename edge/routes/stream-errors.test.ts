import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../shared/log.ts';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';

type Line = [level: string, message: string, fields: Record<string, unknown> | undefined];

function recordingLogger(lines: Line[]): Logger {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push([level, message, fields]);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A failure after a stream's 200 went out shows in no status: it is logged once, with the request id. */
describe('errors inside streams', () => {
  const lines: Line[] = [];
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp({ extra: { logger: recordingLogger(lines) } });
  });
  afterAll(() => t.cleanup());

  it('a stream ended by an unload sends its error event and logs it once with the request id', async () => {
    const res = await t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-stream-1' },
      body: JSON.stringify({
        model: 'tiny-loop',
        stream: true,
        max_tokens: 5000,
        temperature: 0,
        messages: [{ role: 'user', content: 'go' }],
      }),
    });
    expect(res.status).toBe(200);
    const events: string[] = [];
    for await (const data of parseSSE(res.body!)) {
      events.push(data);
      if (events.length === 3)
        expect((await t.app.request('/v1/models/tiny-loop', { method: 'DELETE' })).status).toBe(200);
    }
    const last = JSON.parse(events.at(-1)!);
    expect(last.error).toMatchObject({ code: expect.any(String) });
    const logged = lines.filter(([, message]) => message === 'stream failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]![2]).toMatchObject({ requestId: 'req-stream-1', path: '/v1/chat/completions', status: 503 });
  });
});
