import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { availableMemory } from './memory.ts';

describe('availableMemory', () => {
  const root = `${mkdtempSync(join(tmpdir(), 'edgerunner-mem-'))}/`;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'proc'));
  mkdirSync(join(root, 'sys/fs/cgroup'), { recursive: true });
  writeFileSync(join(root, 'proc/meminfo'), 'MemTotal: 16000000 kB\nMemAvailable:    8000000 kB\n');
  const cgroup = (max: string, current: number, inactiveFile: number) => {
    writeFileSync(join(root, 'sys/fs/cgroup/memory.max'), `${max}\n`);
    writeFileSync(join(root, 'sys/fs/cgroup/memory.current'), `${current}\n`);
    writeFileSync(join(root, 'sys/fs/cgroup/memory.stat'), `anon 1\ninactive_file ${inactiveFile}\nactive_file 5\n`);
  };

  it('is MemAvailable without a cgroup limit', () => {
    cgroup('max', 123, 0);
    expect(availableMemory({ root })).toBe(8_000_000 * 1024);
  });

  it('is at most the room under memory.max (reclaimable file cache counted as room)', () => {
    cgroup(String(2 * 1024 ** 3), 1024 ** 3, 256 * 1024 ** 2);
    expect(availableMemory({ root })).toBe(1024 ** 3 + 256 * 1024 ** 2);
    cgroup(String(64 * 1024 ** 3), 1024 ** 3, 0);
    expect(availableMemory({ root })).toBe(8_000_000 * 1024);
  });
});
