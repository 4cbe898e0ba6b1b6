import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { ProjectHostedModels } from '../edge/providers/hosted-models.ts';
import { ProjectProviderKeys } from '../edge/providers/project-keys.ts';
import { createProviderRegistry } from '../edge/providers/provider-registry.ts';
import { tempDb } from '../test/helpers/test-app.ts';
import { runKeysCli } from './keys-cli.ts';

/** `npm run keys`: scopes, provider keys kept out of argv, hosted-model lists. */
describe('keys CLI', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));

  async function cli(options: { env?: Record<string, string>; stdin?: string } = {}) {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const store = new ApiKeyStore(temp.db, { cacheTtlMs: 0 });
    const providerKeys = new ProjectProviderKeys(temp.db, { cacheTtlMs: 0 });
    const hostedModels = new ProjectHostedModels(temp.db, { cacheTtlMs: 0 });
    const registry = createProviderRegistry({ OPENAI_API_KEY: 'sk-server' });
    const out: string[] = [];
    const err: string[] = [];
    let stdinReads = 0;
    const run = (...args: string[]) =>
      runKeysCli(args, {
        store,
        providerKeys,
        hostedModels,
        registry: async () => registry,
        env: options.env ?? {},
        readStdin: async () => {
          stdinReads++;
          return options.stdin ?? '';
        },
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      });
    const projectId = async (name: string) => (await store.ensureProject(name)).id;
    return { run, out, err, store, providerKeys, hostedModels, projectId, stdinReads: () => stdinReads };
  }

  it('create --scope makes admin or inference keys (inference by default) and refuses other scopes', async () => {
    const t = await cli();
    expect(await t.run('create', '--project', 'p', '--scope', 'admin')).toBe(0);
    const admin = await t.store.verify(t.out.at(-1)!);
    expect(admin).toMatchObject({ kind: 'api-key', scope: 'admin' });
    expect(await t.run('create', '--project', 'p')).toBe(0);
    expect(await t.store.verify(t.out.at(-1)!)).toMatchObject({ scope: 'inference' });
    expect(await t.run('create', '--project', 'p', '--scope', 'root')).toBe(2);
    expect(t.err.at(-1)).toContain('--scope must be one of admin, inference');
    await t.run('list');
    expect(t.out.filter((l) => /\tadmin\t/.test(l))).toHaveLength(1);
    expect(t.out.filter((l) => /\tinference\t/.test(l))).toHaveLength(1);
  });

  it('provider set reads the key from PROVIDER_KEY, else stdin; --key works with a warning', async () => {
    const fromEnv = await cli({ env: { PROVIDER_KEY: ' sk-env \n' }, stdin: 'sk-stdin' });
    expect(await fromEnv.run('provider', 'set', '--project', 'p', '--provider', 'openai')).toBe(0);
    expect(await fromEnv.providerKeys.get(await fromEnv.projectId('p'))).toEqual({ openai: 'sk-env' });
    expect(fromEnv.stdinReads()).toBe(0);
    expect(fromEnv.err).toEqual([]);

    const fromStdin = await cli({ stdin: 'sk-stdin\n' });
    expect(await fromStdin.run('provider', 'set', '--project', 'p', '--provider', 'openai')).toBe(0);
    expect(await fromStdin.providerKeys.get(await fromStdin.projectId('p'))).toEqual({ openai: 'sk-stdin' });

    const inArgv = await cli();
    expect(await inArgv.run('provider', 'set', '--project', 'p', '--provider', 'openai', '--key', 'sk-argv')).toBe(0);
    expect(await inArgv.providerKeys.get(await inArgv.projectId('p'))).toEqual({ openai: 'sk-argv' });
    expect(inArgv.err.join('\n')).toMatch(/warning: --key leaves the secret .* set PROVIDER_KEY/);

    const none = await cli();
    expect(await none.run('provider', 'set', '--project', 'p', '--provider', 'openai')).toBe(2);
    expect(none.err.join('\n')).toContain('no key given');
    expect(await none.providerKeys.get(await none.projectId('p'))).toEqual({});
  });

  it('hosted allow / remove / list / reset keep a project’s list of hosted models', async () => {
    const t = await cli();
    const p = await t.projectId('p');
    await t.run('hosted', 'list', '--project', 'p');
    expect(t.out.at(-1)).toContain('no list');
    expect(await t.run('hosted', 'allow', '--project', 'p', 'gpt-4o-mini', 'groq/*')).toBe(0);
    expect(await t.hostedModels.get(p)).toEqual(['gpt-4o-mini', 'groq/*']);
    expect(t.err.join('\n')).toContain('only the hosted models on its list');
    expect(await t.run('hosted', 'allow', '--project', 'p', 'gpt-4o-mini', 'nonesuch-model')).toBe(0);
    expect(await t.hostedModels.get(p)).toEqual(['gpt-4o-mini', 'groq/*', 'nonesuch-model']);
    expect(t.err.at(-1)).toContain('warning: nonesuch-model is not a hosted model this server knows');
    expect(await t.run('hosted', 'remove', '--project', 'p', 'groq/*', 'nonesuch-model')).toBe(0);
    expect(await t.hostedModels.get(p)).toEqual(['gpt-4o-mini']);
    await t.run('hosted', 'remove', '--project', 'p', 'gpt-4o-mini');
    expect(await t.hostedModels.get(p)).toEqual([]); // an empty list: no hosted model at all
    await t.run('hosted', 'list', '--project', 'p');
    expect(t.out.at(-1)).toContain('may use no hosted model');
    expect(await t.run('hosted', 'reset', '--project', 'p')).toBe(0);
    expect(await t.hostedModels.get(p)).toBeNull();
    expect(await t.run('hosted', 'allow', '--project', 'p')).toBe(2);
    expect(await t.run('hosted', 'remove', '--project', 'p', 'x')).toBe(1); // no list to remove from
  });
});
