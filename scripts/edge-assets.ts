import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { plotlyBundlePath } from '../runner/monitor-assets.ts';

/**
 * Fills the Worker's static-assets directory (wrangler.toml `[assets]`,
 * `dist/edge-assets`): Plotly's bundle at `/monitor/plotly.min.js`, which
 * the edge's `/monitor` page loads, Swagger UI's files for `/docs`, and a `_headers` file that caches them.
 * Run before `wrangler dev` (scripts/dev.ts does) and `wrangler deploy`.
 */
export const EDGE_ASSETS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'edge-assets');

export async function writeEdgeAssets(dir = EDGE_ASSETS_DIR): Promise<string> {
  await mkdir(join(dir, 'monitor'), { recursive: true });
  await copyFile(plotlyBundlePath(), join(dir, 'monitor', 'plotly.min.js'));
  await mkdir(join(dir, 'docs'), { recursive: true });
  const swagger = (file: string) => createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`);
  for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) await copyFile(swagger(file), join(dir, 'docs', file));
  const cached = ['/monitor/plotly.min.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css'];
  await writeFile(
    join(dir, '_headers'),
    cached
      .flatMap((path) => [path, '  Cache-Control: public, max-age=604800', '  X-Content-Type-Options: nosniff'])
      .concat('')
      .join('\n'),
  );
  return dir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`edge assets written to ${await writeEdgeAssets()}`);
}
