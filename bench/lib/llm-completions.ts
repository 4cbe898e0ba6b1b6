import { LlamaCompletion } from 'node-llama-cpp';
import { llamaRuntime } from '../../runner/llm/llama-runtime.ts';
import { parseSSE } from '../../shared/sse.ts';

export interface MeasureCompletionsOptions {
  /** The embedded server serving `model` (one thread, one sequence). */
  url: string;
  model: string;
  /** The same model's file, for node-llama-cpp's own LlamaCompletion in this process. */
  modelPath: string;
  /** Tokens per completion. */
  tokens: number;
  /** Runs of each, alternating; the median counts; default 3. */
  rounds?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Tokens/s from the first piece to the last, and the time to the first piece (ms). */
async function rate(pieces: AsyncIterable<string>): Promise<{ rate: number; ttftMs: number }> {
  const t0 = performance.now();
  let first = 0;
  let n = 0;
  for await (const _ of pieces) if (n++ === 0) first = performance.now();
  return { rate: (n - 1) / ((performance.now() - first) / 1000), ttftMs: first - t0 };
}

async function* httpPieces(url: string, body: Record<string, unknown>, session?: string): AsyncGenerator<string> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify({ ...body, stream: true, temperature: 0 }),
  });
  if (!res.ok) throw new Error(`/v1/completions answered ${res.status}: ${await res.text()}`);
  for await (const data of parseSSE(res.body!)) {
    if (data === '[DONE]') return;
    const text = JSON.parse(data).choices[0]?.text;
    if (text) yield text as string;
  }
}

/**
 * `/v1/completions` against node-llama-cpp's LlamaCompletion on the same model and thread count, streaming;
 * and a fill-in-the-middle sent twice on one session (an editor asking again about the same file): the
 * second request's time to first token, against the first's.
 */
export async function measureCompletions({ url, model, modelPath, tokens, rounds = 3 }: MeasureCompletionsOptions) {
  const llama = await llamaRuntime();
  const raw = await llama.loadModel({ modelPath });
  const context = await raw.createContext({ contextSize: 4096, sequences: 1, threads: 1 });
  const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  const prompt = 'Count.';
  async function* direct(): AsyncGenerator<string> {
    const pieces: string[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    void completion
      .generateCompletion(prompt, {
        maxTokens: tokens,
        temperature: 0,
        onTextChunk: (t) => {
          pieces.push(t);
          wake?.();
        },
      })
      .finally(() => {
        done = true;
        wake?.();
      });
    while (!done || pieces.length) {
      if (pieces.length) yield pieces.shift()!;
      else await new Promise<void>((r) => (wake = r));
    }
  }
  try {
    await rate(direct());
    await rate(httpPieces(url, { model, prompt, max_tokens: 20 }));
    const inProcess: number[] = [];
    const overHttp: number[] = [];
    for (let i = 0; i < rounds; i++) {
      inProcess.push((await rate(direct())).rate);
      overHttp.push((await rate(httpPieces(url, { model, prompt, max_tokens: tokens }))).rate);
    }
    const file = Array.from({ length: 400 }, (_, i) => `line ${i} of the file`).join('\n');
    const fim = { model, prompt: file, suffix: '\nend of file', max_tokens: 4 };
    const firstFill: number[] = [];
    const againFill: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const res = await fetch(`${url}/v1/session`);
      const session = res.headers.get('x-session-id')!;
      await res.body?.cancel();
      firstFill.push((await rate(httpPieces(url, fim, session))).ttftMs);
      againFill.push((await rate(httpPieces(url, fim, session))).ttftMs);
    }
    const [direct_, http] = [median(inProcess), median(overHttp)];
    return {
      rows: [
        ['text completion tok/s, node-llama-cpp LlamaCompletion', direct_.toFixed(0), ''],
        ['text completion tok/s, /v1/completions (embedded)', http.toFixed(0), `${(http / direct_).toFixed(2)}×`],
        ['fill-in-the-middle TTFT, ~3k-token file (ms)', median(firstFill).toFixed(1), ''],
        [
          'fill-in-the-middle TTFT, same file again (ms)',
          median(againFill).toFixed(1),
          `${(median(againFill) / median(firstFill)).toFixed(3)}× (KV cache reused)`,
        ],
      ] as [string, string, string][],
    };
  } finally {
    completion.dispose();
    await context.dispose();
    await raw.dispose();
  }
}
