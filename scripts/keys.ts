import { createInterface } from 'node:readline';
import { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { ProjectHostedModels } from '../edge/providers/hosted-models.ts';
import { ProjectProviderKeys } from '../edge/providers/project-keys.ts';
import { AppError } from '../shared/errors.ts';
import { ConfigError, loadConfig } from '../runner/config.ts';
import { KEYS_USAGE, runKeysCli } from '../runner/keys-cli.ts';
import { openDatabase, providerRegistry } from '../runner/server-deps.ts';

const COMMANDS = ['create', 'list', 'revoke', 'provider', 'hosted'];

/** One line of stdin (a prompt on stderr when it is a terminal). */
async function readLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('paste the key, then Enter: ');
  const lines = createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return '';
}

/** `npm run keys`: API keys in the database that `npm start` uses (DATA_DIR / DATABASE_URL). */
async function main(args: string[]): Promise<number> {
  if (!COMMANDS.includes(args[0] ?? '')) {
    console.error(KEYS_USAGE);
    return 2;
  }
  const config = loadConfig(process.env);
  const db = await openDatabase(config);
  return runKeysCli(args, {
    store: new ApiKeyStore(db),
    providerKeys: new ProjectProviderKeys(db),
    hostedModels: new ProjectHostedModels(db),
    registry: () => providerRegistry(config),
    env: process.env,
    readStdin: readLine,
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof AppError) console.error(`keys: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
