import { describe, expect, it } from 'vitest';
import { createExecDeps } from './exec-deps.ts';

describe('createExecDeps', () => {
  it('reads YOUTUBE_ORIGIN as an http(s) origin and refuses anything else', () => {
    expect(createExecDeps().youtubeOrigin).toBeUndefined();
    expect(createExecDeps({ env: { YOUTUBE_ORIGIN: 'http://127.0.0.1:8088' } }).youtubeOrigin).toBe(
      'http://127.0.0.1:8088',
    );
    expect(createExecDeps({ env: { YOUTUBE_ORIGIN: 'https://yt.example.com/' } }).youtubeOrigin).toBe(
      'https://yt.example.com',
    );
    for (const bad of ['ftp://x.example', 'https://x.example/path', 'not a url', 42])
      expect(() => createExecDeps({ env: { YOUTUBE_ORIGIN: bad } })).toThrow(/^YOUTUBE_ORIGIN: /);
  });
});
