import { imageBase64, type OcrRequest, type OcrResult } from '../../../shared/schemas/images.ts';
import { modelOfKind } from '../../host/model-choice.ts';
import type { HostedModel, ModelHost, ModelLoader } from '../../host/model-host.ts';
import { onnxLoader } from '../../onnx/onnx-loader.ts';
import { decodeImage } from '../image-decode.ts';
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
    const image = await decodeImage(Buffer.from(imageBase64(request.image), 'base64'), { param: 'image' });
    const lease = await this.#host.acquire(model, { signal, download });
    try {
      const result = await (lease.model as OcrPipeline).read(image, { signal });
      return { model, ...result };
    } finally {
      lease.release();
    }
  }
}

/** The OCR loader: the three files of a PaddleOCR pair. */
export function ocrLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return onnxLoader(ROLES, (files) => OcrPipeline.create(files, { threads }));
}
