import type { CallOptions, Inference } from '../../../shared/inference.ts';
import type { ImageGenerationTool } from '../../../shared/schemas/exec.ts';
import { GenerateRequest, type ImageDone } from '../../../shared/schemas/images.ts';
import type { ExecTool } from '../tool.ts';

/** A drawing may take minutes on a CPU runner with real weights: longer than the round's default tool limit. */
const IMAGE_TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * The `image_generation` adapter: a function (`name`, default `generate_image`) taking `prompt` and optionally
 * `negative_prompt`, `width`, `height`, `steps` and `seed`, run as `/v1/images/generate` on the round's inference
 * (the definition's `model_type`, else the default image model). The client gets the PNG in the `tool_result`
 * (`{image, mime_type, model, seed, width, height}`); the model reads only that an image was made, its size and seed.
 */
export function imageGenerationAdapter(inference: Inference, call: CallOptions) {
  return (definition: ImageGenerationTool): ExecTool[] => [
    {
      name: definition.name ?? 'generate_image',
      description:
        definition.description ??
        'Draws an image from a description (Stable Diffusion). The image goes to the user; you are told its size and seed.',
      parameters: {
        type: 'object',
        properties: {
          prompt: { type: 'string', minLength: 1, description: 'What the image shows, in English, as a caption.' },
          negative_prompt: { type: 'string', description: 'What the image should not show.' },
          width: { type: 'integer', minimum: 64, maximum: 2048, multipleOf: 8 },
          height: { type: 'integer', minimum: 64, maximum: 2048, multipleOf: 8 },
          steps: { type: 'integer', minimum: 1, maximum: 150 },
          seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
        },
        required: ['prompt'],
      },
      timeoutMs: IMAGE_TOOL_TIMEOUT_MS,
      run: async (args, { signal }) => {
        const parsed = GenerateRequest.safeParse({ ...args, model_type: definition.model_type });
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          return { result: `Error: ${issue.path.join('.') || 'arguments'}: ${issue.message}`, isError: true };
        }
        let done: ImageDone | undefined;
        for await (const event of await inference.generateImage(parsed.data, { ...call, signal }))
          if ('status' in event) done = event;
        if (!done) return { result: 'Error: the image stream ended without an image', isError: true };
        const { image, model, seed, width, height } = done;
        return {
          result: { image, mime_type: 'image/png', model, seed, width, height },
          modelText: `Generated a ${width}×${height} PNG image with ${model} (seed ${seed}); the user receives it with this result.`,
        };
      },
    },
  ];
}
