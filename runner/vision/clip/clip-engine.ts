import { imageBase64, type AnalyzeRequest, type AnalyzeResult } from '../../../shared/schemas/images.ts';
import { modelOfKind } from '../../host/model-choice.ts';
import type { HostedModel, ModelHost, ModelLoader } from '../../host/model-host.ts';
import { onnxLoader } from '../../onnx/onnx-loader.ts';
import { decodeImage } from '../image-decode.ts';
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
    const image = await decodeImage(Buffer.from(imageBase64(request.image), 'base64'), { param: 'image' });
    const lease = await this.#host.acquire(model, { signal, download });
    try {
      const labels = await (lease.model as ClipModel).classify(image, request.labels, { signal });
      return { model, labels, best_label: labels[0]!.label };
    } finally {
      lease.release();
    }
  }
}

export function clipLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return onnxLoader(CLIP_ROLES, (files) => ClipModel.create(files, { threads }));
}
