import { listeningUrl, start, stop, type Child } from './child-processes.ts';

export { freePort, untilOk } from './child-processes.ts';

/** A server started with `npm run <script>` that printed its `listening on` line. */
export interface Started {
  child: Child;
  url: string;
  /** Stops its whole process group (npm → tsx → node). */
  stop(): Promise<void>;
}

const QUIET = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', LOG_LEVEL: 'warn', CI: 'true' };

/** Starts `npm run <script>` in its own process group with `env` added. */
export function npmRun(script: string, env: Record<string, string>, args: string[] = []): Child {
  return start({
    name: `npm run ${script}`,
    command: 'npm',
    args: ['run', '-s', script, ...(args.length ? ['--', ...args] : [])],
    env: { ...QUIET, ...env },
  });
}

/** Starts `npm run <script>` and resolves once it prints `listening on <url>`. */
export async function startListening(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<Started> {
  const child = npmRun(script, env, args);
  const url = await listeningUrl(child, { timeoutMs: 60_000 });
  return { child, url, stop: () => stop(child) };
}

/** Runs `npm run <script>` to completion, whatever its exit code. */
export async function runScript(script: string, env: Record<string, string>, args: string[] = []) {
  const child = npmRun(script, env, args);
  let stdout = '';
  let stderr = '';
  child.process.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.process.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { code: await child.exited, stdout, stderr };
}
