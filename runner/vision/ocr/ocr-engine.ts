import type { OcrRequest, OcrResult } from '../../../shared/schemas/images.ts';
import { modelOfKind } from '../../host/model-choice.ts';
import type { HostedModel, ModelHost, ModelLoader } from '../../host/model-host.ts';
import { onnxLoader } from '../../onnx/onnx-loader.ts';
import { withImageModel } from '../image-request.ts';
import { OcrPipeline } from './ocr-pipeline.ts';

/** The files an OCR catalog entry names (`files`), by role. */
const ROLES = ['detection', 'recognition', 'dictionary'] as const;

export interface OcrEngineOptions {
  /** The model host shared with the other engines; the `ocr` loader is registered on it. */
  host: ModelHost<HostedModel>;
  /** onnxruntime threads per model; default onnxruntime's own. */
  threads?: number;
}

/**
 * OCR over the shared model host: PaddleOCR models from the catalog (`kind: "ocr"`, `files` naming `detection`,
 * `recognition` and `dictionary`), loaded once, leased per request.
 */
export class OcrEngine {
  readonly #host: ModelHost<HostedModel>;

  constructor({ host, threads }: OcrEngineOptions) {
    this.#host = host;
    host.register('ocr', ocrLoader({ threads }));
  }

  /** The text of the request's image. Bad images are 400s naming `image`; `signal` stops between model runs. */
  async read(
    request: OcrRequest,
    { signal, download }: { signal?: AbortSignal; download?: boolean } = {},
  ): Promise<OcrResult> {
    const model = modelOfKind(this.#host, 'ocr', request.model, 'an OCR');
    return withImageModel(this.#host, model, request.image, { signal, download }, async (ocr: OcrPipeline, image) => ({
      model,
      ...(await ocr.read(image, { signal })),
    }));
  }
}

/** The OCR loader: the three files of a PaddleOCR pair. */
export function ocrLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return onnxLoader(ROLES, (files) => OcrPipeline.create(files, { threads }));
}
