import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError } from '../../shared/errors.ts';

/**
 * The file a request's `voice_path` names, which must lie inside `modelsDir`: relative paths are taken from it, and
 * `..`, an absolute path outside it, or a symlink leading out of it are 400s naming `voice_path` (the real path is
 * checked, so no link can escape). A file that does not exist is a 400 too.
 */
export async function voiceFile(voicePath: string, modelsDir: string): Promise<string> {
  const refuse = (why: string) => new AppError(400, `voice_path: ${why}`, { param: 'voice_path' });
  if (voicePath.split(/[\\/]/).includes('..')) throw refuse('".." is not allowed; name a file inside MODELS_DIR');
  const root = await realpath(modelsDir).catch(() => resolve(modelsDir));
  const candidate = isAbsolute(voicePath) ? voicePath : resolve(root, voicePath);
  const real = await realpath(candidate).catch(() => undefined);
  if (!real) throw refuse('no such voice file inside MODELS_DIR');
  const inside = relative(root, real);
  if (!inside || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
    throw refuse('the voice file must be inside MODELS_DIR');
  return real;
}
