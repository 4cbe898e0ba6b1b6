import { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { AppError } from '../shared/errors.ts';
import { ConfigError, loadConfig } from '../runner/config.ts';
import { openDatabase } from '../runner/server-deps.ts';

const USAGE = `usage:
  npm run keys -- create --project NAME [--name LABEL]   create a key; prints it once
  npm run keys -- list                                   list keys (never the secrets)
  npm run keys -- revoke ID                              revoke a key`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

/** `npm run keys`: API keys in the database that `npm start` uses (DATA_DIR / DATABASE_URL). */
async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || !['create', 'list', 'revoke'].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  const store = new ApiKeyStore(await openDatabase(loadConfig(process.env)));
  if (command === 'create') {
    const project = flag(rest, '--project');
    if (!project) {
      console.error('create: --project NAME is required\n' + USAGE);
      return 2;
    }
    const created = await store.create(project, flag(rest, '--name'));
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof AppError) console.error(`keys: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
