import type { OnnxSession } from '../../onnx/onnx-worker.ts';
import { ClipPromptTokenizer, PROMPT_TOKENS } from './clip-prompt-tokenizer.ts';
import { floatOutput, outputOf } from './onnx-tensors.ts';

/** One text encoder of a pipeline and its tokenizer. */
export interface TextEncoder {
  session: OnnxSession;
  tokenizer: ClipPromptTokenizer;
}

/** What conditions the UNet: per batch entry 77 token states, and (SDXL) the pooled text embedding. */
export interface Conditioning {
  /** `[batch, 77, width]`, batch-major. */
  states: Float32Array;
  width: number;
  /** SDXL: `[batch, pooledWidth]`. */
  pooled?: Float32Array;
  pooledWidth?: number;
}

/**
 * Encodes the prompts (the negative one first when guidance needs it) with the pipeline's text encoders.
 * SD 1.x/2.x: the one encoder's last hidden state. SDXL: each encoder's penultimate hidden state (diffusers'
 * `hidden_states[-2]`), concatenated per token, and the second encoder's projected pooled output; with no negative
 * prompt, SDXL's negative conditioning is zeros (its `force_zeros_for_empty_prompt`).
 */
export async function encodePrompts(
  encoders: readonly TextEncoder[],
  prompts: readonly string[],
  { zeroFirst = false }: { zeroFirst?: boolean } = {},
): Promise<Conditioning> {
  const xl = encoders.length > 1;
  const batch = prompts.length;
  const parts: { states: Float32Array; width: number }[] = [];
  let pooled: Float32Array | undefined;
  for (const [index, encoder] of encoders.entries()) {
    const ids = new Int32Array(batch * PROMPT_TOKENS);
    prompts.forEach((prompt, b) => ids.set(encoder.tokenizer.encode(prompt), b * PROMPT_TOKENS));
    const { session } = encoder;
    const feed =
      session.inputs.input_ids?.type === 'int64'
        ? { type: 'int64' as const, data: BigInt64Array.from(ids, (id) => BigInt(id)), dims: [batch, PROMPT_TOKENS] }
        : { type: 'int32' as const, data: ids, dims: [batch, PROMPT_TOKENS] };
    const outputs = await session.run({ [session.inputNames[0]!]: feed });
    const hidden = outputOf(session, outputs, xl ? penultimate(session.outputNames) : 'last_hidden_state');
    parts.push({ states: floatOutput(hidden, 'text encoder'), width: hidden.dims[2]! });
    if (xl && index === encoders.length - 1)
      pooled = floatOutput(outputOf(session, outputs, 'text_embeds'), 'text encoder');
  }
  const width = parts.reduce((sum, p) => sum + p.width, 0);
  const states = concatTokens(parts, batch, width);
  const pooledWidth = pooled ? pooled.length / batch : undefined;
  if (zeroFirst) {
    states.fill(0, 0, PROMPT_TOKENS * width);
    pooled?.fill(0, 0, pooledWidth);
  }
  return { states, width, pooled, pooledWidth };
}

/** `hidden_states.{N−1}` of the outputs `hidden_states.0 … hidden_states.N` (else the last hidden state). */
function penultimate(names: readonly string[]): string {
  const layers = names.flatMap((n) => /^hidden_states\.(\d+)$/.exec(n)?.[1] ?? []).map(Number);
  return layers.length > 1 ? `hidden_states.${Math.max(...layers) - 1}` : 'last_hidden_state';
}

/** Each token's states of every encoder side by side: `[batch, 77, Σ widths]`. */
function concatTokens(parts: readonly { states: Float32Array; width: number }[], batch: number, width: number) {
  if (parts.length === 1) return parts[0]!.states;
  const out = new Float32Array(batch * PROMPT_TOKENS * width);
  for (let row = 0; row < batch * PROMPT_TOKENS; row++) {
    let offset = row * width;
    for (const part of parts) {
      out.set(part.states.subarray(row * part.width, (row + 1) * part.width), offset);
      offset += part.width;
    }
  }
  return out;
}
