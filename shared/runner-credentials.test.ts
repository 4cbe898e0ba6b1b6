import { describe, expect, it } from 'vitest';
import { parseRunnerCredentials } from './runner-credentials.ts';

describe('RUNNER_CREDENTIALS', () => {
  it('reads id:secret pairs; a secret may hold colons', () => {
    const { credentials, problems } = parseRunnerCredentials(
      ' gpu-1 : secret-one-0123456789 ,gpu-2:a:b:c:0123456789abc,',
    );
    expect(problems).toEqual([]);
    expect(Object.fromEntries(credentials)).toEqual({
      'gpu-1': 'secret-one-0123456789',
      'gpu-2': 'a:b:c:0123456789abc',
    });
    expect(parseRunnerCredentials(undefined)).toEqual({ credentials: new Map(), problems: [] });
  });

  it('names each bad entry without showing a secret', () => {
    const secret = 'a-long-enough-secret';
    const { credentials, problems } = parseRunnerCredentials(
      `nocolon,:${secret},gpu:${secret},gpu:${secret}x,cpu:short,${'x'.repeat(129)}:${secret}`,
    );
    expect(problems).toEqual([
      'RUNNER_CREDENTIALS: entry 1 is not id:secret',
      'RUNNER_CREDENTIALS: entry 2 is not id:secret',
      'RUNNER_CREDENTIALS: runner "gpu" is listed twice',
      'RUNNER_CREDENTIALS: the secret of runner "cpu" must be at least 16 characters',
      'RUNNER_CREDENTIALS: entry 6 has an id longer than 128 characters',
    ]);
    expect(problems.join('\n')).not.toContain(secret);
    expect([...credentials.keys()]).toEqual(['gpu']);
  });
});
