import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/** Bytes the kernel says can be allocated without swapping (MemAvailable), else free memory. */
export function availableMemory(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}
