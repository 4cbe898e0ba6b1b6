import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { physicalCores } from '../llm/llama-runtime.ts';

let providers: readonly string[] | undefined;

/**
 * onnxruntime's execution providers this runner uses, best first: `cuda` when onnxruntime-node's CUDA provider
 * library is installed beside its binding (an install with `--onnxruntime-node-install=cuda`, not the default
 * `skip`) and `ONNX_CUDA` is not `0`; `cpu` always, as the fallback for what CUDA cannot run.
 */
export function onnxExecutionProviders(): readonly string[] {
  if (providers) return providers;
  providers = process.env.ONNX_CUDA !== '0' && hasCudaProvider() ? ['cuda', 'cpu'] : ['cpu'];
  return providers;
}

function hasCudaProvider(): boolean {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
    return readdirSync(bin).some((napi) =>
      existsSync(join(bin, napi, process.platform, process.arch, 'libonnxruntime_providers_cuda.so')),
    );
  } catch {
    return false;
  }
}

/**
 * Session options of every ONNX model here: full graph optimisation, explicit threads, no spinning, the providers
 * above.
 */
export function onnxSessionOptions(threads?: number): Record<string, unknown> {
  // Explicit threads and full graph optimisation: ~1.5× onnxruntime-node's defaults on the OCR models here.
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads ?? physicalCores(),
    interOpNumThreads: 1,
    executionProviders: [...onnxExecutionProviders()],
    // onnxruntime's pool threads spin after each run by default, waiting for the next. Here they share the cores
    // with the HTTP server, the LLMs and the worker threads, and the spinning takes the CPU from them: a diffusion
    // request (many short runs) was 1.7× slower with it; long runs (OCR) do not notice.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
