import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.cleanup());

const post = (path: string, body: unknown) =>
  t.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function wavInfo(wav: Uint8Array) {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const rate = view.getUint32(24, true);
  return { riff: new TextDecoder().decode(wav.subarray(0, 4)), rate, seconds: (wav.length - 44) / 2 / rate };
}

describe('text_to_speech and list_speech_models through /v1/ai/process', () => {
  it('streams progress 0–100 per sentence, then the WAV and its sample rate', async () => {
    const res = await post('/v1/ai/process', {
      tool: 'text_to_speech',
      config: { text: 'Bonjour. Voici une phrase en français.' },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: Record<string, unknown>[] = [];
    for await (const data of parseSSE(res.body!)) events.push(JSON.parse(data) as Record<string, unknown>);
    expect(events.slice(0, -1).map((e) => e.progress)).toEqual([0, expect.any(Number), 100]);
    const done = events.at(-1)!;
    expect(done).toMatchObject({ status: 'completed', sample_rate: 22050 });
    const info = wavInfo(Buffer.from(done.audio as string, 'base64'));
    expect(info.riff).toBe('RIFF');
    expect(info.seconds).toBeGreaterThan(1);
  });

  it('lists what this deployment speaks', async () => {
    const res = await post('/v1/ai/process', { tool: 'list_speech_models', config: {} });
    const body = (await res.json()) as { models: { tts: Record<string, { languages: string[] }>; stt: object } };
    expect(body.models.tts['espeak-ng']!.languages).toEqual(expect.arrayContaining(['fr', 'en', 'de', 'es']));
    expect(body.models.stt).toEqual({});
  });

  it('names the field of a bad request', async () => {
    const cases: [unknown, string][] = [
      [{ text: '' }, 'config.text'],
      [{ text: '...' }, 'config.text'],
      [{ text: 'x'.repeat(20_001) }, 'config.text'],
      [{ text: 'hello', language: 'not a code!' }, 'config.language'],
      [{ text: 'hello', language: 'zz' }, 'config.language'],
      [{ text: 'hello', voice_path: '../../etc/passwd' }, 'config.voice_path'],
      [{ text: 'hello', speed: 10 }, 'config.speed'],
    ];
    for (const [config, param] of cases) {
      const res = await post('/v1/ai/process', { tool: 'text_to_speech', config });
      expect(res.status, JSON.stringify(config).slice(0, 80)).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });
});

describe("OpenAI's POST /v1/audio/speech", () => {
  it('answers the WAV itself to the openai SDK', async () => {
    const client = new OpenAI({
      apiKey: 'dummy',
      baseURL: 'http://127.0.0.1/v1',
      fetch: async (url, init) => t.app.request(String(url), init as RequestInit),
      maxRetries: 0,
    });
    const speech = await client.audio.speech.create({
      model: 'tts-1',
      voice: 'alloy',
      input: 'Hello from edgerunner.',
      response_format: 'wav',
    });
    expect(speech.headers.get('content-type')).toBe('audio/wav');
    const info = wavInfo(new Uint8Array(await speech.arrayBuffer()));
    expect(info).toMatchObject({ riff: 'RIFF', rate: 22050 });
    expect(info.seconds).toBeGreaterThan(0.5);
  });

  it('speaks the language a voice names, and refuses formats it cannot encode', async () => {
    const french = await post('/v1/audio/speech', { input: 'Bonjour', voice: 'fr' });
    expect(french.status).toBe(200);
    const cases: [unknown, string][] = [
      [{ input: 'x', response_format: 'mp3' }, 'response_format'],
      [{ input: 'x', voice: 'zz' }, 'voice'],
      [{ input: 'x', voice: 'not a voice!' }, 'voice'],
      [{ input: '' }, 'input'],
      [{ input: '!!!' }, 'input'],
    ];
    for (const [body, param] of cases) {
      const res = await post('/v1/audio/speech', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });
});
