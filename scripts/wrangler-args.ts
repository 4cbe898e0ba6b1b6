/** Environment that keeps wrangler offline and quiet (no metrics, no cf.json fetch, no prompts). */
export const WRANGLER_ENV = { CI: 'true', WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

/** `wrangler d1 migrations apply` of the committed migrations to the local D1 state in `stateDir`. */
export function d1MigrateArgs(stateDir: string): string[] {
  return ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir];
}

/** `wrangler dev` of the edge on 127.0.0.1:`port`, local D1 state in `stateDir`, `vars` as Worker variables. */
export function wranglerDevArgs({
  port,
  stateDir,
  vars,
}: {
  port: number | string;
  stateDir: string;
  vars: Record<string, string>;
}): string[] {
  return [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--persist-to',
    stateDir,
    ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    '--show-interactive-dev-session=false',
  ];
}
