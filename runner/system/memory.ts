import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/**
 * Bytes that can be allocated without swapping: the kernel's MemAvailable
 * (else free memory), and no more than the room left under the cgroup's
 * `memory.max` when one is set (a container's limit; reclaimable file cache
 * counted as room, as MemAvailable counts it).
 */
export function availableMemory({ root = '/' }: { root?: string } = {}): number {
  const read = (path: string) => {
    try {
      return readFileSync(`${root}${path}`, 'utf8');
    } catch {
      return undefined;
    }
  };
  const meminfo = /^MemAvailable:\s+(\d+) kB/m.exec(read('proc/meminfo') ?? '');
  const system = meminfo ? Number(meminfo[1]) * 1024 : freemem();
  const max = Number(read('sys/fs/cgroup/memory.max')?.trim());
  const current = Number(read('sys/fs/cgroup/memory.current')?.trim());
  if (!Number.isFinite(max) || !Number.isFinite(current)) return system; // "max" (no limit), or cgroup v1
  const inactiveFile = Number(/^inactive_file (\d+)$/m.exec(read('sys/fs/cgroup/memory.stat') ?? '')?.[1] ?? 0);
  return Math.max(0, Math.min(system, max - current + inactiveFile));
}
