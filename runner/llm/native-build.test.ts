import { describe, expect, it } from 'vitest';
import { nativeBuildSkipReason, onPath, type NativeBuildFacts } from './native-build.ts';

const binding = (buildType: string, gpu: string | false) => async () => ({ buildType, gpu });
const cpuBox: NativeBuildFacts = { setting: 'auto', ci: false, binding: binding('prebuilt', false), has: () => true };
const loadsNothing = () => Promise.reject(new Error('llama.cpp must not be loaded for this'));

describe('building llama.cpp for this CPU', () => {
  it('starts on a CPU box running the prebuilt binary with cmake and a compiler', async () => {
    expect(await nativeBuildSkipReason(cpuBox)).toBeNull();
    expect(await nativeBuildSkipReason({ ...cpuBox, has: (c) => c === 'cmake' || c === 'clang++' })).toBeNull();
  });

  it('says why it does not start: opted out, CI (both without loading llama.cpp), built already, a GPU backend, no cmake, no compiler', async () => {
    expect(await nativeBuildSkipReason({ ...cpuBox, setting: 'off', binding: loadsNothing })).toMatch(
      /LLM_NATIVE_BUILD=off/,
    );
    expect(await nativeBuildSkipReason({ ...cpuBox, ci: true, binding: loadsNothing })).toBe('CI');
    expect(await nativeBuildSkipReason({ ...cpuBox, binding: binding('localBuild', false) })).toMatch(/already built/);
    expect(await nativeBuildSkipReason({ ...cpuBox, binding: binding('prebuilt', 'cuda') })).toMatch(/cuda/);
    expect(await nativeBuildSkipReason({ ...cpuBox, has: (c) => c !== 'cmake' })).toMatch(/cmake/);
    expect(await nativeBuildSkipReason({ ...cpuBox, has: (c) => c === 'cmake' })).toMatch(/compiler/);
  });

  it('finds executables on PATH', () => {
    expect(onPath('node', process.env.PATH)).toBe(true);
    expect(onPath('no-such-command-edgerunner', process.env.PATH)).toBe(false);
    expect(onPath('node', '')).toBe(false);
  });
});
