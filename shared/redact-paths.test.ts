import { describe, expect, it } from 'vitest';
import { redactPaths } from './redact-paths.ts';

describe('redactPaths', () => {
  it('keeps only the last segment of absolute file paths', () => {
    expect(redactPaths("ENOENT: no such file or directory, open '/home/me/data/models/x.gguf'")).toBe(
      "ENOENT: no such file or directory, open 'x.gguf'",
    );
    expect(redactPaths('Cannot create a context for m: failed to load /tmp/edgerunner-1/tiny.gguf')).toBe(
      'Cannot create a context for m: failed to load tiny.gguf',
    );
    expect(redactPaths('bad file C:\\Users\\me\\models\\x.gguf here')).toBe('bad file x.gguf here');
  });

  it('keeps routes, URLs, JSON pointers and plain text', () => {
    for (const text of [
      'Route GET /v1/models/x/load not found',
      'OpenAI could not be reached: https://api.openai.com/v1/chat/completions',
      '$ref "#/$defs/a" names nothing',
      'tokens 3/4 used, and/or more',
    ]) {
      expect(redactPaths(text)).toBe(text);
    }
  });
});
