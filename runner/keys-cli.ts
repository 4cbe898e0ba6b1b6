import type { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { isScope, SCOPES } from '../edge/auth/scopes.ts';
import type { ProjectHostedModels } from '../edge/providers/hosted-models.ts';
import type { ProjectProviderKeys } from '../edge/providers/project-keys.ts';
import type { ProviderRegistry } from '../edge/providers/provider-registry.ts';

/** The environment variable `keys -- provider set` reads a provider key from (before stdin). */
export const PROVIDER_KEY_ENV = 'PROVIDER_KEY';

export const KEYS_USAGE = `usage:
  npm run keys -- create --project NAME [--name LABEL] [--scope inference|admin]
                                     create a key (default scope inference; admin may also
                                     load, unload and download models); prints it once
  npm run keys -- list               list keys (never the secrets)
  npm run keys -- revoke ID          revoke a key
  npm run keys -- provider set --project NAME --provider ID
                                     the project's own key for a hosted provider (openai,
                                     anthropic, groq, or a providers.json id), read from
                                     ${PROVIDER_KEY_ENV} or else from stdin (one line):
                                       read -rs PROVIDER_KEY && export PROVIDER_KEY && npm run keys -- provider set ...
                                     (--key KEY still works but leaves the secret in argv)
  npm run keys -- provider remove --project NAME --provider ID
  npm run keys -- hosted allow --project NAME MODEL...
                                     limit the project to these hosted models (an alias such as
                                     gpt-4o-mini, provider/model, provider/*, or *); adds to its list
  npm run keys -- hosted remove --project NAME MODEL...
  npm run keys -- hosted list --project NAME
  npm run keys -- hosted reset --project NAME
                                     drop the project's list: back to the server's default
                                     (listed aliases; provider/<model> per PROVIDER_PASSTHROUGH)`;

/** What `runKeysCli` works on; the script (`scripts/keys.ts`) opens them from the server's configuration. */
export interface KeysCliDeps {
  store: ApiKeyStore;
  providerKeys: ProjectProviderKeys;
  hostedModels: ProjectHostedModels;
  /** The hosted providers (read only by the commands that need them). */
  registry: () => Promise<ProviderRegistry>;
  env?: Record<string, string | undefined>;
  /** One line of standard input (a provider key), trimmed. */
  readStdin?: () => Promise<string>;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

/** Arguments that are neither flags nor flag values. */
function positional(args: string[], flags: string[]): string[] {
  return args.filter((a, i) => !a.startsWith('--') && !flags.includes(args[i - 1] ?? ''));
}

/** `npm run keys`: API keys, projects' provider keys and hosted-model lists. Returns the exit code. */
export async function runKeysCli(args: string[], deps: KeysCliDeps): Promise<number> {
  const out = deps.out ?? ((line) => console.log(line));
  const err = deps.err ?? ((line) => console.error(line));
  const [command, ...rest] = args;
  const usage = (problem?: string) => {
    err((problem ? `${problem}\n` : '') + KEYS_USAGE);
    return 2;
  };
  const { store } = deps;
  if (command === 'create') {
    const project = flag(rest, '--project');
    if (!project) return usage('create: --project NAME is required');
    const scope = flag(rest, '--scope') ?? 'inference';
    if (!isScope(scope)) return usage(`create: --scope must be one of ${SCOPES.join(', ')}, got "${scope}"`);
    const created = await store.create(project, { name: flag(rest, '--name'), scope });
    out(created.key);
    err(`created ${scope} key ${created.id} in project ${project} (${created.projectId}); it is shown only once`);
    return 0;
  }
  if (command === 'list') {
    const rows = await store.list();
    if (rows.length === 0) out('no keys');
    for (const k of rows) {
      const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
      const used = k.lastUsedAt ? k.lastUsedAt.toISOString() : 'never';
      out(
        `${k.id}\t${k.projectName}\t${k.name ?? ''}\t${k.scope}\t${state}\t` +
          `created ${k.createdAt.toISOString()}\tlast used ${used}`,
      );
    }
    return 0;
  }
  if (command === 'revoke') {
    const id = rest[0];
    if (!id) return usage('revoke: ID is required');
    await store.revoke(id);
    out(`revoked ${id}`);
    return 0;
  }
  if (command === 'provider') return providerKey(rest, deps, out, err, usage);
  if (command === 'hosted') return hosted(rest, deps, out, err, usage);
  return usage();
}

type Say = (line: string) => void;

/** `provider set|remove`: a project's own keys for hosted providers. */
async function providerKey(
  args: string[],
  deps: KeysCliDeps,
  out: Say,
  err: Say,
  usage: (problem?: string) => number,
): Promise<number> {
  const [action] = args;
  const [project, provider] = [flag(args, '--project'), flag(args, '--provider')];
  if (!['set', 'remove'].includes(action ?? '') || !project || !provider) return usage();
  if (!(await deps.registry()).has(provider)) {
    err(`provider: unknown provider "${provider}" (openai, anthropic, groq or an id from providers.json)`);
    return 2;
  }
  const { id } = await deps.store.ensureProject(project);
  if (action === 'remove') {
    const removed = await deps.providerKeys.remove(id, provider);
    out(removed ? `removed ${project}'s ${provider} key` : `${project} had no ${provider} key`);
    return 0;
  }
  let key = flag(args, '--key')?.trim();
  if (key) {
    err(
      `warning: --key leaves the secret in your shell history and in the process list; ` +
        `set ${PROVIDER_KEY_ENV} or pipe it on stdin instead`,
    );
  } else {
    key = deps.env?.[PROVIDER_KEY_ENV]?.trim() || (await deps.readStdin?.())?.trim();
  }
  if (!key) return usage(`provider set: no key given (set ${PROVIDER_KEY_ENV}, or pipe it on stdin)`);
  await deps.providerKeys.set(id, provider, key);
  out(`project ${project} now uses its own ${provider} key`);
  return 0;
}

/** `hosted allow|remove|list|reset`: which hosted models a project may use. */
async function hosted(
  args: string[],
  deps: KeysCliDeps,
  out: Say,
  err: Say,
  usage: (problem?: string) => number,
): Promise<number> {
  const [action, ...rest] = args;
  const project = flag(rest, '--project');
  const models = positional(rest, ['--project']);
  if (!['allow', 'remove', 'list', 'reset'].includes(action ?? '') || !project) return usage();
  if ((action === 'allow' || action === 'remove') && models.length === 0) {
    return usage(`hosted ${action}: name at least one model`);
  }
  const { id } = await deps.store.ensureProject(project);
  const current = await deps.hostedModels.get(id);
  if (action === 'list') {
    if (!current) out(`${project} has no list: the server's default (listed aliases; PROVIDER_PASSTHROUGH)`);
    else if (current.length === 0) out(`${project} may use no hosted model`);
    else for (const m of current) out(m);
    return 0;
  }
  if (action === 'reset') {
    await deps.hostedModels.set(id, null);
    out(`${project} is back to the server's default hosted models`);
    return 0;
  }
  if (action === 'allow') {
    const registry = await deps.registry();
    const aliases = new Set(registry.listModels().map((m) => m.id));
    for (const m of models) {
      const cut = m.indexOf('/');
      const known = m === '*' || (cut > 0 ? registry.has(m.slice(0, cut)) : aliases.has(m));
      if (!known) err(`warning: ${m} is not a hosted model this server knows now (check the name or its provider key)`);
    }
    const next = [...new Set([...(current ?? []), ...models])];
    await deps.hostedModels.set(id, next);
    if (!current) err(`${project} may now use only the hosted models on its list`);
    out(`${project} may use: ${next.join(', ')}`);
    return 0;
  }
  if (!current) {
    err(`${project} has no list (it uses the server's default); start one with: npm run keys -- hosted allow`);
    return 1;
  }
  const next = current.filter((m) => !models.includes(m));
  await deps.hostedModels.set(id, next);
  out(next.length ? `${project} may use: ${next.join(', ')}` : `${project} may use no hosted model`);
  return 0;
}
