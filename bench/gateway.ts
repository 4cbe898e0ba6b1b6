import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunnerSigner, RUNNER_TOKEN_MAX_TTL_S } from '../shared/runner-token.ts';
import { compare, formatReport, problems, type Outcome, type Outcomes } from './lib/gateway-report.ts';
import { measure, type LoadOptions } from './lib/load.ts';
import {
  listeningUrl,
  runToEnd,
  start,
  stop,
  stopAll,
  stopChildrenOnExit,
  type Child,
} from '../test/helpers/child-processes.ts';
import { startWranglerEdge } from './lib/wrangler-edge.ts';
import { buildTinyLlama } from '../test/fixtures/tiny-llama.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNNER_ID = 'bench-runner';
/** The scripted tiny model the streamed-chat scenario asks (added to the runner's catalog). */
const CHAT_MODEL = 'bench-tiny-chat';
/** A short streamed completion: what a chat UI sends (the scripted model answers in a few tokens). */
const CHAT_BODY = JSON.stringify({
  model: CHAT_MODEL,
  stream: true,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Hi' }],
});
/**
 * Single-use runner tokens signed before the runner-direct run (~80 µs each here, ~20 s): more than it sends in
 * 2 + 10 s. They are signed for the longest life a runner accepts, so they outlive signing plus the run.
 */
const TOKENS_SIGNED_AHEAD = 250_000;
/** Warm-up plus measured seconds at most, so runner-direct's tokens signed ahead stay valid (≤ 60 s in all). */
const MAX_SECONDS = 30;

export interface GatewayOptions {
  /** Measured seconds per scenario; default `BENCH_SECONDS` or 10. */
  seconds?: number;
  /** Unmeasured seconds before each; default 2. */
  warmupSeconds?: number;
  /** Concurrent connections; default 32. */
  connections?: number;
}

/**
 * `npm run bench -- gateway`: `GET /v1/models` at 32 connections against a
 * runner directly, a bare Hono + undici pass-through, the edge on Node (with a
 * session, and without one as OpenAI clients call), and the edge under
 * `wrangler dev`, all forwarding to one runner; plus a short streamed chat
 * completion through the edge on Node to a scripted tiny model. Prints a table
 * and the ratios, writes `.tmp/bench-gateway.json`, and throws when any
 * scenario failed or saw non-2xx answers or errors.
 */
export async function run({
  seconds = Number(process.env.BENCH_SECONDS ?? 10),
  warmupSeconds = 2,
  connections = 32,
}: GatewayOptions = {}): Promise<void> {
  if (!(seconds > 0 && seconds + warmupSeconds <= MAX_SECONDS)) {
    throw new Error(`BENCH_SECONDS must be a number > 0 and ≤ ${MAX_SECONDS - warmupSeconds}, got ${seconds}`);
  }
  stopChildrenOnExit();
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5)
    console.error(`note: load average is ${loadBefore.toFixed(2)}; other work will skew the numbers`);
  const tmp = await mkdtemp(join(tmpdir(), 'edgerunner-bench-'));
  const secret = randomBytes(24).toString('base64url');
  const load = (url: string, headers: Record<string, string>, extra: Partial<LoadOptions> = {}) => {
    console.error(`  measuring ${extra.method ?? 'GET'} ${url} for ${warmupSeconds} + ${seconds} s`);
    return measure({ url, headers, connections, seconds, warmupSeconds, ...extra });
  };
  const outcomes: Outcomes = {};
  try {
    const runner = npm('runner', ['runner'], {
      RUNNER_SECRET: secret,
      RUNNER_ID,
      MODELS_FILE: await catalogWithTinyChat(tmp),
    });
    const runnerUrl = await listeningUrl(runner, { timeoutMs: 60_000 });

    outcomes['runner-direct'] = await attempt('runner-direct', async () => {
      // Runner tokens are single-use: sign enough for the whole run up front, so signing costs the runner nothing.
      const sign = createRunnerSigner({ secret }, { ttlSeconds: RUNNER_TOKEN_MAX_TTL_S });
      const call = { method: 'GET', path: '/_runner/v1/models' };
      const tokens: string[] = [];
      for (let i = 0; i < TOKENS_SIGNED_AHEAD; i++) tokens.push(await sign(RUNNER_ID, call));
      const next = () => ({ authorization: `Bearer ${tokens.pop() ?? 'exhausted'}` });
      const url = await checked(`${runnerUrl}/_runner/v1/models`, next());
      return load(url, {}, { perRequest: next });
    });

    outcomes['bare-passthrough'] = await attempt('bare-passthrough', () => {
      const env = { RUNNER_URL: runnerUrl, RUNNER_SECRET: secret, RUNNER_ID };
      const bare = start({ name: 'bare-passthrough', ...tsx('bench/lib/bare-passthrough.ts'), env, cwd: ROOT });
      return using(bare, async () => load(await checked(`${await listeningUrl(bare)}/v1/models`, {}), {}));
    });

    outcomes['edge-node'] = await attempt('edge-node', async () => {
      const dataDir = join(tmp, 'edge-node');
      const apiKey = await createKey(dataDir);
      const edge = npm('edge-node', ['start'], { RUNNER_URLS: runnerUrl, RUNNER_SECRET: secret, DATA_DIR: dataDir });
      return using(edge, async () => throughEdge(await listeningUrl(edge, { timeoutMs: 60_000 }), apiKey, load));
    });

    // The OpenAI-client path: no X-Session-ID, so every request gets a fresh session id (and, with nothing to keep,
    // no database write); and a short streamed chat completion, edge → runner → scripted model, at as many
    // connections as the runner has sequences (LLM_PARALLEL, 4), so nothing queues or is refused.
    const edgeNode = async (name: string, scenario: (url: string, apiKey: string) => Promise<Outcome>) => {
      const dataDir = join(tmp, name);
      const apiKey = await createKey(dataDir);
      const edge = npm(name, ['start'], { RUNNER_URLS: runnerUrl, RUNNER_SECRET: secret, DATA_DIR: dataDir });
      return using(edge, async () => scenario(await listeningUrl(edge, { timeoutMs: 60_000 }), apiKey));
    };
    outcomes['edge-node-headerless'] = await attempt('edge-node-headerless', () =>
      edgeNode('edge-node-headerless', async (url, apiKey) => {
        const headers = { 'x-api-key': apiKey };
        return load(await checked(`${url}/v1/models`, headers), headers);
      }),
    );
    outcomes['edge-node-chat-stream'] = await attempt('edge-node-chat-stream', () =>
      edgeNode('edge-node-chat-stream', async (url, apiKey) => {
        const headers = { 'x-api-key': apiKey, 'content-type': 'application/json' };
        const first = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: CHAT_BODY });
        const text = await first.text();
        if (!first.ok || !text.includes('[DONE]')) throw new Error(`chat answered ${first.status}: ${text}`);
        return load(`${url}/v1/chat/completions`, headers, { method: 'POST', body: CHAT_BODY, connections: 4 });
      }),
    );

    outcomes['edge-wrangler'] = await attempt('edge-wrangler', async () => {
      console.error('edge-wrangler: applying D1 migrations, inserting a key, starting wrangler dev');
      const stateDir = join(tmp, 'wrangler-state');
      const edge = await startWranglerEdge({ root: ROOT, runnerUrl, runnerSecret: secret, stateDir });
      return using(edge.child, () => throughEdge(edge.url, edge.apiKey, load));
    });
  } finally {
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
  }

  const comparison = compare(outcomes);
  console.log(
    `\ngateway: GET /v1/models at ${connections} connections (edge-node-headerless: no X-Session-ID;` +
      ` edge-node-chat-stream: a streamed chat completion at 4), ${warmupSeconds} s warm-up + ${seconds} s` +
      ` (load average before: ${loadBefore.toFixed(2)})\n`,
  );
  console.log(formatReport(outcomes, comparison));
  const out = join(ROOT, '.tmp/bench-gateway.json');
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    loadBefore,
    connections,
    seconds,
    warmupSeconds,
  };
  await writeFile(out, JSON.stringify({ ...meta, scenarios: outcomes, ...comparison }, null, 2) + '\n');
  console.log(`\nwrote ${out}`);

  const failed = problems(outcomes);
  if (failed.length) throw new Error(`the numbers are not to be trusted:\n  ${failed.join('\n  ')}`);
}

type Load = (url: string, headers: Record<string, string>, extra?: Partial<LoadOptions>) => Promise<Outcome>;

/** Opens a session with the key (one request), then loads `/v1/models` with key and session. */
async function throughEdge(url: string, apiKey: string, load: Load): Promise<Outcome> {
  const res = await fetch(`${url}/v1/session`, { headers: { 'x-api-key': apiKey } });
  const sessionId = res.headers.get('x-session-id');
  if (!res.ok || !sessionId) throw new Error(`GET /v1/session answered ${res.status}: ${await res.text()}`);
  const headers = { 'x-api-key': apiKey, 'x-session-id': sessionId };
  return load(await checked(`${url}/v1/models`, headers), headers);
}

/** `url` after one request to it answered 2xx; throws with the answer otherwise. */
async function checked(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return url;
}

async function attempt(name: string, scenario: () => Promise<Outcome>): Promise<Outcome> {
  console.error(`${name}: starting`);
  try {
    return await scenario();
  } catch (err) {
    console.error(`${name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}

/** Runs `body` with `child` up, then stops it, so only one proxy competes for the 2 cores at a time. */
async function using<T>(child: Child, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await stop(child);
  }
}

function npm(name: string, args: string[], env: Record<string, string>): Child {
  const serverEnv = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', LLM_NATIVE_BUILD: 'off', ...env };
  return start({ name, command: 'npm', args: ['run', '-s', ...args], env: serverEnv, cwd: ROOT });
}

/** `npm run keys -- create --project bench` against DATA_DIR `dataDir`: the new key. */
async function createKey(dataDir: string): Promise<string> {
  const args = ['run', '-s', 'keys', '--', 'create', '--project', 'bench'];
  return (await runToEnd({ name: 'keys', command: 'npm', args, env: { DATA_DIR: dataDir }, cwd: ROOT })).trim();
}

/** The shipped catalog plus the scripted tiny model, written under `dir`: the runner's MODELS_FILE. */
async function catalogWithTinyChat(dir: string): Promise<string> {
  const catalog = JSON.parse(await readFile(join(ROOT, 'models.json'), 'utf8')) as {
    models: Record<string, unknown>;
  };
  const model = join(dir, 'bench-tiny-chat.gguf');
  await writeFile(model, buildTinyLlama({ weights: 'scripted' }));
  catalog.models[CHAT_MODEL] = { kind: 'llm', source: model, contextSize: 512 };
  const file = join(dir, 'models.json');
  await writeFile(file, JSON.stringify(catalog));
  return file;
}

function tsx(file: string) {
  return { command: process.execPath, args: [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), file] };
}
