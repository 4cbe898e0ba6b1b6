import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted model answer: text, tool calls, or a failure. */
export interface ScriptedReply {
  text?: string;
  /** Calls the model makes (arguments as an object or a raw JSON text). */
  calls?: { name: string; arguments?: Record<string, unknown> | string; id?: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** An HTTP error instead of a stream. */
  status?: number;
  error?: string;
  /** Never finishes: sends a chunk every 20 ms until the client leaves. */
  hang?: boolean;
  /** Text sent in this many pieces (default: words). */
  finish?: 'stop' | 'length';
}

/** What the model sees and answers: a reply for each request (a function of the request, or the next in a list). */
export type Script = ScriptedReply[] | ((body: UpstreamRequest, index: number) => ScriptedReply);

export interface UpstreamRequest {
  model: string;
  messages: { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: { type: 'function'; function: { name: string; description?: string; parameters?: unknown } }[];
  [key: string]: unknown;
}

export interface ScriptedUpstream {
  /** Base URL, e.g. `http://127.0.0.1:PORT/v1` (what OPENAI_BASE_URL takes). */
  url: string;
  /** Sets the replies of the next requests. */
  script(script: Script): void;
  /** Every request body received, in order. */
  requests: UpstreamRequest[];
  /** How many streams a client abandoned before their end. */
  aborted(): number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

/**
 * A local OpenAI-compatible upstream (`POST /v1/chat/completions`, streaming, on 127.0.0.1) whose answers
 * each test scripts: text, tool calls, errors, or a stream that never ends. Stands in for a hosted provider.
 */
export async function scriptedUpstream(): Promise<ScriptedUpstream> {
  let script: Script = [];
  let index = 0;
  let aborted = 0;
  const requests: UpstreamRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as UpstreamRequest;
    requests.push(body);
    const i = index++;
    const reply: ScriptedReply = typeof script === 'function' ? script(body, i) : (script.shift() ?? { text: 'done' });
    if (reply.status) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: reply.error ?? 'scripted failure', type: 'invalid_request_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    if (reply.hang) {
      const timer = setInterval(() => res.write(chunk({ content: 'la ' })), 20);
      res.on('close', () => {
        clearInterval(timer);
        aborted++;
      });
      return;
    }
    let ended = false;
    res.on('close', () => void (ended || aborted++));
    for (const word of (reply.text ?? '').match(/\S+\s*|\s+/g) ?? []) res.write(chunk({ content: word }));
    (reply.calls ?? []).forEach((call, n) => {
      const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
      res.write(
        chunk({
          tool_calls: [
            {
              index: n,
              id: call.id ?? `call_${i}_${n}`,
              type: 'function',
              function: { name: call.name, arguments: args },
            },
          ],
        }),
      );
    });
    const finish = reply.calls?.length ? 'tool_calls' : (reply.finish ?? 'stop');
    res.write(chunk({}, finish));
    const usage = reply.usage ?? { prompt_tokens: 10, completion_tokens: 5 };
    res.write(
      `data: ${JSON.stringify({ id: 'chatcmpl-s', choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`,
    );
    res.write('data: [DONE]\n\n');
    ended = true;
    res.end();
  });
  server.keepAliveTimeout = 5000; // above undici's 2 s threshold, so clients reuse connections
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    script: (next) => {
      script = typeof next === 'function' ? next : [...next];
      index = 0;
    },
    requests,
    aborted: () => aborted,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
