import { describe, expect, it } from 'vitest';
import { nativeBuildSkipReason, onPath, type NativeBuildFacts } from './native-build.ts';

const cpuBox: NativeBuildFacts = { setting: 'auto', ci: false, buildType: 'prebuilt', gpu: false, has: () => true };

describe('building llama.cpp for this CPU', () => {
  it('starts on a CPU box running the prebuilt binary with cmake and a compiler', () => {
    expect(nativeBuildSkipReason(cpuBox)).toBeNull();
    expect(nativeBuildSkipReason({ ...cpuBox, has: (c) => c === 'cmake' || c === 'clang++' })).toBeNull();
  });

  it('says why it does not start: opted out, CI, built already, a GPU backend, no cmake, no compiler', () => {
    expect(nativeBuildSkipReason({ ...cpuBox, setting: 'off' })).toMatch(/LLM_NATIVE_BUILD=off/);
    expect(nativeBuildSkipReason({ ...cpuBox, ci: true })).toBe('CI');
    expect(nativeBuildSkipReason({ ...cpuBox, buildType: 'localBuild' })).toMatch(/already built/);
    expect(nativeBuildSkipReason({ ...cpuBox, gpu: 'cuda' })).toMatch(/cuda/);
    expect(nativeBuildSkipReason({ ...cpuBox, has: (c) => c !== 'cmake' })).toMatch(/cmake/);
    expect(nativeBuildSkipReason({ ...cpuBox, has: (c) => c === 'cmake' })).toMatch(/compiler/);
  });

  it('finds executables on PATH', () => {
    expect(onPath('node', process.env.PATH)).toBe(true);
    expect(onPath('no-such-command-edgerunner', process.env.PATH)).toBe(false);
    expect(onPath('node', '')).toBe(false);
  });
});
