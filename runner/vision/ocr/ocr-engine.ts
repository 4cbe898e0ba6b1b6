import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../../shared/errors.ts';
import { imageBase64, type OcrRequest, type OcrResult } from '../../../shared/schemas/images.ts';
import { fits, type HostedModel, type LoadPlan, type ModelHost, type ModelLoader } from '../../host/model-host.ts';
import { decodeImage } from '../image-decode.ts';
import { OcrPipeline } from './ocr-pipeline.ts';

const MB = 1024 ** 2;
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

  /** The model a request names, else the catalog's first OCR model (503 when there is none). */
  model(name?: string): string {
    if (name !== undefined) {
      const entry = this.#host.entry(name);
      if (entry.kind !== 'ocr')
        throw new AppError(400, `model: ${name} is a ${entry.kind} model, not an OCR model`, { param: 'model' });
      return name;
    }
    const found = Object.entries(this.#host.catalog).find(([, entry]) => entry.kind === 'ocr');
    if (!found)
      throw new AppError(503, 'OCR is not available here: the model catalog has no "ocr" model', {
        code: 'capability_unavailable',
      });
    return found[0];
  }

  /** The text of the request's image. Bad images are 400s naming `image`; `signal` stops between model runs. */
  async read(
    request: OcrRequest,
    { signal, download }: { signal?: AbortSignal; download?: boolean } = {},
  ): Promise<OcrResult> {
    const model = this.model(request.model);
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

/**
 * Plans an OCR load: onnxruntime holds the weights plus its arenas, about three times the files here; the rest
 * of a request's memory (the page, the batches) is small next to it.
 */
export function ocrLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return async ({ name, entry, path }): Promise<LoadPlan<HostedModel>> => {
    const files = Object.fromEntries(
      ROLES.map((role) => {
        const file = entry.files?.[role];
        if (!file)
          throw new AppError(500, `Model ${name}: an OCR model names its files.${role} in the catalog`, {
            code: 'invalid_catalog_entry',
          });
        return [role, join(path, file)];
      }),
    ) as Record<(typeof ROLES)[number], string>;
    let bytes = 0;
    for (const file of Object.values(files)) bytes += (await stat(file)).size;
    const need = { ram: 3 * bytes + 64 * MB, vram: 0 };
    return {
      need,
      load: async (free) => {
        if (!fits(need, free))
          throw new AppError(
            507,
            `Model ${name} needs ${Math.ceil(need.ram / MB)} MB of memory; ${Math.floor(free.ram / MB)} MB are free`,
            {
              code: 'insufficient_memory',
            },
          );
        const model = await OcrPipeline.create(files, { threads });
        return { model, holds: { ...need, mapped: 0 } };
      },
    };
  };
}
