import { AppError } from '../shared/errors.ts';
import { ConfigError, loadConfig } from '../runner/config.ts';
import { loadCatalog } from '../runner/models/catalog.ts';
import { Downloads } from '../runner/models/downloader.ts';

/** A one-line progress bar on a TTY, a line every 10% otherwise. */
function progressBar(name: string, out: NodeJS.WriteStream = process.stderr) {
  let lastDecile = -1;
  return (fraction: number) => {
    const pct = Math.floor(fraction * 100);
    if (out.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      out.write(`\r${name} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%`);
      if (fraction >= 1) out.write('\n');
    } else if (Math.floor(pct / 10) > lastDecile) {
      lastDecile = Math.floor(pct / 10);
      out.write(`${name} ${pct}%\n`);
    }
  };
}

/** `npm run pull -- <name> [<name>…]`: downloads catalog models into MODELS_DIR, as loading would. */
async function main(names: string[]): Promise<number> {
  if (names.length === 0) {
    console.error('usage: npm run pull -- <model name> [<model name>…]   (names from models.json)');
    return 2;
  }
  const config = loadConfig(process.env);
  const catalog = await loadCatalog(config.modelsFile);
  const downloads = new Downloads({
    modelsDir: config.modelsDir,
    hfToken: config.hfToken,
    hfEndpoint: config.hfEndpoint,
    onLockWait: (name, holder) =>
      console.error(
        `pull: ${name} is being downloaded by ${holder ? `process ${holder.pid} on ${holder.hostname}` : 'another process'}; waiting for it`,
      ),
  });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  for (const name of names) {
    const entry = catalog.models[name];
    if (!entry) {
      console.error(
        `pull: no model "${name}" in ${config.modelsFile}; known: ${Object.keys(catalog.models).join(', ')}`,
      );
      return 1;
    }
    const result = await downloads.download(name, entry, { signal: stop.signal, onProgress: progressBar(name) });
    console.log(`${name}: ${result.status === 'exists' ? 'already present' : 'downloaded'} at ${result.path}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof AppError) console.error(`pull: ${err.message}`);
    else if (err instanceof Error && err.name === 'AbortError')
      console.error('pull: interrupted; run it again to resume');
    else console.error(err);
    process.exit(1);
  },
);
