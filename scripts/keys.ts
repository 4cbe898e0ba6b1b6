import { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { AppError } from '../shared/errors.ts';
import { ConfigError, loadConfig } from '../runner/config.ts';
import { openDatabase, providerRegistry } from '../runner/server-deps.ts';
import { ProjectProviderKeys } from '../edge/providers/project-keys.ts';
import type { ProviderRegistry } from '../edge/providers/provider-registry.ts';

const USAGE = `usage:
  npm run keys -- create --project NAME [--name LABEL]   create a key; prints it once
  npm run keys -- list                                   list keys (never the secrets)
  npm run keys -- revoke ID                              revoke a key
  npm run keys -- provider set --project NAME --provider ID --key KEY
                                                         the project's own key for a hosted provider
                                                         (openai, anthropic, groq, or a providers.json id)
  npm run keys -- provider remove --project NAME --provider ID`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

/** `npm run keys`: API keys in the database that `npm start` uses (DATA_DIR / DATABASE_URL). */
async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || !['create', 'list', 'revoke', 'provider'].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(process.env);
  const db = await openDatabase(config);
  const store = new ApiKeyStore(db);
  if (command === 'provider')
    return providerKey(rest, store, new ProjectProviderKeys(db), await providerRegistry(config));
  if (command === 'create') {
    const project = flag(rest, '--project');
    if (!project) {
      console.error('create: --project NAME is required\n' + USAGE);
      return 2;
    }
    const created = await store.create(project, { name: flag(rest, '--name') });
    console.log(created.key);
    console.error(`created key ${created.id} in project ${project} (${created.projectId}); it is shown only once`);
    return 0;
  }
  if (command === 'list') {
    const rows = await store.list();
    if (rows.length === 0) console.log('no keys');
    for (const k of rows) {
      const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
      const used = k.lastUsedAt ? k.lastUsedAt.toISOString() : 'never';
      console.log(
        `${k.id}\t${k.projectName}\t${k.name ?? ''}\t${state}\tcreated ${k.createdAt.toISOString()}\tlast used ${used}`,
      );
    }
    return 0;
  }
  const id = rest[0];
  if (!id) {
    console.error('revoke: ID is required\n' + USAGE);
    return 2;
  }
  await store.revoke(id);
  console.log(`revoked ${id}`);
  return 0;
}

/** `keys -- provider set|remove`: a project's own keys for hosted providers. */
async function providerKey(
  args: string[],
  store: ApiKeyStore,
  keys: ProjectProviderKeys,
  registry: ProviderRegistry,
): Promise<number> {
  const [action] = args;
  const [project, provider, key] = [flag(args, '--project'), flag(args, '--provider'), flag(args, '--key')];
  if (!['set', 'remove'].includes(action ?? '') || !project || !provider || (action === 'set' && !key)) {
    console.error(USAGE);
    return 2;
  }
  if (!registry.has(provider)) {
    console.error(`provider: unknown provider "${provider}" (openai, anthropic, groq or an id from providers.json)`);
    return 2;
  }
  const { id } = await store.ensureProject(project);
  if (action === 'set') {
    await keys.set(id, provider, key!);
    console.log(`project ${project} now uses its own ${provider} key`);
  } else {
    console.log(
      (await keys.remove(id, provider)) ? `removed ${project}'s ${provider} key` : `${project} had no ${provider} key`,
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof AppError) console.error(`keys: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
