import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnxExecutionProviders, onnxSessionOptions } from './onnx-session-options.ts';

describe('onnxruntime session options', () => {
  it('uses CUDA exactly when onnxruntime-node has its CUDA provider installed, CPU always last', () => {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
    const cuda = readdirSync(bin).some((napi) =>
      existsSync(join(bin, napi, process.platform, process.arch, 'libonnxruntime_providers_cuda.so')),
    );
    expect(onnxExecutionProviders()).toEqual(cuda && process.env.ONNX_CUDA !== '0' ? ['cuda', 'cpu'] : ['cpu']);
  });

  it('asks for full optimisation, the given threads and no spinning between runs', () => {
    expect(onnxSessionOptions(3)).toMatchObject({
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 3,
      interOpNumThreads: 1,
      executionProviders: onnxExecutionProviders(),
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  });
});
