import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** What the runner rpc and the configuration need from the edge lives in shared/ (DESIGN.md, Rooms). */
describe('runner files that must not reach into edge/', () => {
  for (const file of ['rpc.ts', 'config.ts']) {
    it(`runner/${file} imports nothing from edge/`, () => {
      const source = readFileSync(new URL(file, import.meta.url), 'utf8');
      const fromEdge = [...source.matchAll(/from '(\.\.\/edge\/[^']+)'/g)].map((m) => m[1]);
      expect(fromEdge).toEqual([]);
    });
  }
});
