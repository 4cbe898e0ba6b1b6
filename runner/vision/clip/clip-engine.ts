import type { AnalyzeRequest, AnalyzeResult } from '../../../shared/schemas/images.ts';
import { modelOfKind } from '../../host/model-choice.ts';
import type { HostedModel, ModelHost, ModelLoader } from '../../host/model-host.ts';
import { onnxLoader } from '../../onnx/onnx-loader.ts';
import { withImageModel } from '../image-request.ts';
import { CLIP_ROLES, ClipModel } from './clip-model.ts';

/**
 * CLIP labelling over the shared model host: models of kind `clip` in the transformers.js layout (`files`:
 * `text`, `vision`, `tokenizer`, `tokenizer_config`, `config`, `preprocessor`), loaded once, leased per request.
 */
export class ClipEngine {
  readonly #host: ModelHost<HostedModel>;

  constructor({ host, threads }: { host: ModelHost<HostedModel>; threads?: number }) {
    this.#host = host;
    host.register('clip', clipLoader({ threads }));
  }

  /** Each label's probability for the image, most probable first, and the best. */
  async analyze(
    request: AnalyzeRequest,
    { signal, download }: { signal?: AbortSignal; download?: boolean } = {},
  ): Promise<AnalyzeResult> {
    const model = modelOfKind(this.#host, 'clip', request.model, 'a CLIP');
    return withImageModel(this.#host, model, request.image, { signal, download }, async (clip: ClipModel, image) => {
      const labels = await clip.classify(image, request.labels, { signal });
      return { model, labels, best_label: labels[0]!.label };
    });
  }
}

export function clipLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return onnxLoader(CLIP_ROLES, (files) => ClipModel.create(files, { threads }));
}
