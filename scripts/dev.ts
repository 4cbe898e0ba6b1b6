import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeEdgeAssets } from './edge-assets.ts';
import { d1MigrateArgs, WRANGLER_ENV, wranglerDevArgs } from './wrangler-args.ts';

/**
 * `npm run dev`: a runner (`RUNNER_PORT`, default 8081; 0 picks a free one) and the edge under
 * `wrangler dev` (`EDGE_PORT`, default 8787) wired together with one
 * RUNNER_SECRET (generated when unset). D1 migrations are applied to the
 * local state first (`DEV_STATE_DIR`, default `.wrangler/state`), and the
 * Worker's static assets written (`scripts/edge-assets.ts`).
 */
const runnerPort = process.env.RUNNER_PORT ?? '8081';
const edgePort = process.env.EDGE_PORT ?? '8787';
const stateDir = process.env.DEV_STATE_DIR ?? '.wrangler/state';
const secret = process.env.RUNNER_SECRET ?? randomBytes(24).toString('base64url');

const children: ChildProcess[] = [];
function run(cmd: string, args: string[], env: Record<string, string> = {}, stdout: 'inherit' | 'pipe' = 'inherit') {
  const child = spawn(cmd, args, {
    stdio: ['ignore', stdout, 'inherit'],
    env: { ...process.env, ...WRANGLER_ENV, ...env },
  });
  children.push(child);
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`dev: ${cmd} ${args[0]} exited (${code}); stopping`);
      stop(code ?? 1);
    }
  });
  return child;
}

let stopping = false;
function stop(code = 0): void {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 300).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function applyMigrations(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('wrangler', d1MigrateArgs(stateDir), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...WRANGLER_ENV },
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`d1 migrations exited ${code}`))));
  });
}

// Before any wrangler command: wrangler.toml's [assets] directory must exist.
await writeEdgeAssets();
await applyMigrations();
const runner = run(
  'tsx',
  ['runner/main.ts', '--runner'],
  { PORT: runnerPort, HOST: '127.0.0.1', RUNNER_SECRET: secret, RUNNER_ID: process.env.RUNNER_ID ?? 'dev-runner' },
  'pipe',
);
// The runner's own startup line says where it listens (with RUNNER_PORT=0, the port it was given).
const runnerUrl = await new Promise<string>((resolve) => {
  let seen = '';
  runner.stdout!.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    seen += chunk.toString();
    const url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
    if (url) resolve(url);
  });
});
// Edge settings that a developer's environment passes on to the Worker as variables.
const passed = ['SSRF_ALLOWLIST', 'WEBSEARCH_PROVIDER', 'SEARXNG_URL', 'YOUTUBE_ORIGIN'].filter(
  (name) => process.env[name],
);
const vars = {
  RUNNER_URLS: runnerUrl,
  RUNNER_SECRET: secret,
  ...Object.fromEntries(passed.map((n) => [n, process.env[n]!])),
};
run('wrangler', wranglerDevArgs({ port: edgePort, stateDir, vars }));
