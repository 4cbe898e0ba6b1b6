import { imageBase64 } from '../../shared/schemas/images.ts';
import type { HostedModel, ModelHost } from '../host/model-host.ts';
import { decodeImage } from './image-decode.ts';
import type { RgbImage } from './ocr/line-crops.ts';

/**
 * One image request on a hosted model: the image field decoded (a 400 naming `image` when it is no image), the
 * model leased from the host (downloaded and loaded when needed), `work` run, the lease released. A model whose
 * onnxruntime thread died (`broken`) is unloaded, so the next request loads it afresh instead of failing too.
 */
export async function withImageModel<M extends { broken?: boolean }, T>(
  host: ModelHost<HostedModel>,
  model: string,
  imageField: string,
  { signal, download }: { signal?: AbortSignal; download?: boolean },
  work: (model: M, image: RgbImage) => Promise<T>,
): Promise<T> {
  const image = await decodeImage(Buffer.from(imageBase64(imageField), 'base64'), { param: 'image' });
  const lease = await host.acquire(model, { signal, download });
  try {
    return await work(lease.model as unknown as M, image);
  } finally {
    lease.release();
    if ((lease.model as { broken?: boolean }).broken) await host.unload(model).catch(() => false);
  }
}
