import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { d1MigrateArgs, WRANGLER_ENV, wranglerDevArgs } from '../../scripts/wrangler-args.ts';
import { freePort, runToEnd, start, untilOk, type Child } from '../../test/helpers/child-processes.ts';

export interface WranglerEdgeOptions {
  /** The repository root (where wrangler.toml is). */
  root: string;
  runnerUrl: string;
  runnerSecret: string;
  /** Where the local D1 state lives (`--persist-to`). */
  stateDir: string;
}

export interface WranglerEdge {
  child: Child;
  url: string;
  /** A key inserted into the local D1 (`apiKey.{id}.{secret}`). */
  apiKey: string;
}

/**
 * The edge under `wrangler dev` on a free 127.0.0.1 port: applies the D1
 * migrations to `stateDir`, inserts an API key there, starts wrangler and
 * waits for `/health`.
 */
export async function startWranglerEdge({
  root,
  runnerUrl,
  runnerSecret,
  stateDir,
}: WranglerEdgeOptions): Promise<WranglerEdge> {
  const wrangler = (name: string, args: string[]) => ({
    name,
    command: process.execPath,
    args: [join(root, 'node_modules/wrangler/bin/wrangler.js'), ...args],
    env: WRANGLER_ENV,
    cwd: root,
  });
  const local = ['DB', '--local', '--persist-to', stateDir];
  await runToEnd({
    ...wrangler('wrangler d1 migrations', d1MigrateArgs(stateDir)),
    timeoutMs: 120_000,
  });

  const projectId = randomUUID();
  const keyId = String(100_000_000_000 + (randomBytes(4).readUInt32BE() % 800_000_000_000));
  const secret = randomBytes(30).toString('hex');
  const hash = createHash('sha256').update(secret).digest('hex');
  const sql =
    `insert into projects (id, name) values ('${projectId}', 'bench');` +
    ` insert into api_keys (id, project_id, secret_hash) values ('${keyId}', '${projectId}', '${hash}');`;
  await runToEnd({
    ...wrangler('wrangler d1 execute', ['d1', 'execute', ...local, '--command', sql]),
    timeoutMs: 120_000,
  });

  const port = await freePort();
  const child = start(
    wrangler(
      'wrangler dev',
      wranglerDevArgs({
        port,
        stateDir,
        vars: { RUNNER_URLS: runnerUrl, RUNNER_SECRET: runnerSecret, LOG_LEVEL: 'warn' },
      }),
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  await untilOk(`${url}/health`, child, { timeoutMs: 90_000 });
  return { child, url, apiKey: `apiKey.${keyId}.${secret}` };
}
