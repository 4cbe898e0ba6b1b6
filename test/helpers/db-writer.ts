import { ApiKeyStore } from '../../edge/auth/api-keys.ts';
import { loadConfig } from '../../runner/config.ts';
import { openDatabase } from '../../runner/server-deps.ts';

/**
 * A second process writing the server's database, as `npm run keys` does while the server runs:
 * one API key every `WRITE_EVERY_MS` (default 20) until SIGTERM, then prints `{"written":N,"failed":N}`.
 */
const db = await openDatabase(loadConfig(process.env));
const keys = new ApiKeyStore(db);
const every = Number(process.env.WRITE_EVERY_MS ?? 20);
let written = 0;
let failed = 0;
let running = true;
process.once('SIGTERM', () => (running = false));
console.log('writing');
while (running) {
  await keys.create('second-writer').then(
    () => written++,
    (err: unknown) => {
      failed++;
      console.error(`write failed: ${(err as Error).message}`);
    },
  );
  await new Promise((r) => setTimeout(r, every));
}
console.log(JSON.stringify({ written, failed }));
process.exit(0);
