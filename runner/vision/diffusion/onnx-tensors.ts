import type { OnnxSession, WorkerTensor } from '../../onnx/onnx-worker.ts';

/**
 * Feeds and outputs of exported diffusion graphs, whatever float type they were exported in: the pipeline computes
 * in float32, and an input the graph declares float16 (the usual GPU export) is converted on the way in, a float16
 * output on the way out.
 */

/** A float input as the session declares it (float32 unless it says float16). */
export function floatFeed(
  session: OnnxSession,
  name: string,
  data: Float32Array,
  dims: readonly number[],
): WorkerTensor {
  if (session.inputs[name]?.type !== 'float16') return { type: 'float32', data, dims };
  const half = Float16Array.from(data);
  return { type: 'float16', data: new Uint16Array(half.buffer), dims };
}

/** A scalar input (a timestep) in the session's declared type and rank (`[1]` unless it declares a scalar). */
export function scalarFeed(session: OnnxSession, name: string, value: number): WorkerTensor {
  const declared = session.inputs[name];
  const dims = declared && declared.shape.length === 0 ? [] : [1];
  switch (declared?.type) {
    case 'int64':
      return { type: 'int64', data: BigInt64Array.of(BigInt(Math.round(value))), dims };
    case 'int32':
      return { type: 'int32', data: Int32Array.of(Math.round(value)), dims };
    default:
      return floatFeed(session, name, Float32Array.of(value), dims);
  }
}

/** A float output as float32 (float16 converted). */
export function floatOutput(tensor: WorkerTensor | undefined, what: string): Float32Array {
  if (!tensor) throw new Error(`the ${what} graph gave no output`);
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const bits = tensor.data as Uint16Array;
    return Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
  }
  throw new Error(`the ${what} graph gave ${tensor.type}, not floats`);
}

/** The output called `wanted`, else the first. */
export function outputOf(session: OnnxSession, outputs: Record<string, WorkerTensor>, wanted: string): WorkerTensor {
  return outputs[session.outputNames.includes(wanted) ? wanted : session.outputNames[0]!]!;
}
