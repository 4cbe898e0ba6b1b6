import type { ChatEvent, ChatRequest } from './schemas/chat.ts';
import type { CompletionRequest } from './schemas/completions.ts';
import type { EmbedInput, EmbedResult } from './schemas/embeddings.ts';
import type {
  AnalyzeRequest,
  AnalyzeResult,
  GenerateRequest,
  ImageEvent,
  OcrRequest,
  OcrResult,
  RefineRequest,
} from './schemas/images.ts';
import type { LoadEvent, ModelSummary } from './schemas/models.ts';
import type { SpeechEvent, SpeechModels, SpeechRequest } from './schemas/speech.ts';
import type { RunnerStatus } from './schemas/runner.ts';
import type { RunnerSample } from './schemas/system-metrics.ts';

export type { RunnerSample } from './schemas/system-metrics.ts';

/** Options every inference call accepts. */
export interface CallOptions {
  signal?: AbortSignal;
  /** The caller's session: a session's sequence (KV cache) lives on one runner. */
  sessionId?: string;
  /** The runner holding the session, if any (affinity hint). */
  runnerId?: string | null;
  /** The caller's project: its own provider keys win over the server's. */
  projectId?: string | null;
  /** Whether a model file not on disk may be downloaded for this call (admin callers); default true. */
  download?: boolean;
  /** Told which runner served the call, so the session can stick to it. */
  onRoute?: (runnerId: string) => void;
}

/**
 * What the edge asks of the engines. Embedded mode hands `createApp` the
 * local engines (`runner/local-inference.ts`); an edge hands it a client for
 * remote runners (`edge/runners/remote-inference.ts`). One contract suite
 * (`test/contract/inference.contract.ts`) runs against both.
 *
 * Streaming calls resolve once the work is accepted (so an unknown model or a
 * full queue surfaces as an HTTP status), then stream their events.
 */
export interface Inference {
  /** Every model this side can serve, with whether it is loaded now. */
  listModels(options?: CallOptions): Promise<ModelSummary[]>;
  /** Health and capacity: one entry per runner (embedded mode: one). */
  status(options?: CallOptions): Promise<RunnerStatus[]>;
  /** Downloads when missing, then loads: the document's SSE events. */
  loadModel(name: string, options?: CallOptions): Promise<AsyncIterable<LoadEvent>>;
  /** Frees a model's memory; false when it was not loaded. */
  unloadModel(name: string, options?: CallOptions): Promise<boolean>;
  /** Answers a chat request on the session's sequence. */
  chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>>;
  /** A text completion (`/v1/completions`, fill-in-the-middle with a suffix): the same events, text only. */
  complete(request: CompletionRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>>;
  /** Embeds each input (text, or token ids of the model's vocabulary) with an embedding model. */
  embed(model: string, inputs: EmbedInput[], options?: CallOptions): Promise<EmbedResult>;
  /** The text of an image, with an OCR model (`request.model`, default the catalog's first OCR model). */
  ocr(request: OcrRequest, options?: CallOptions): Promise<OcrResult>;
  /** CLIP labelling: each label's probability for the image (`request.model`, default the catalog's first CLIP). */
  analyzeImage(request: AnalyzeRequest, options?: CallOptions): Promise<AnalyzeResult>;
  /**
   * Draws an image (Stable Diffusion, `request.model_type`, default `sdxl-turbo` or the catalog's first image
   * model): resolves once the model is loaded and the request fits it, then `{progress}` per step and the image.
   */
  generateImage(request: GenerateRequest, options?: CallOptions): Promise<AsyncIterable<ImageEvent>>;
  /** img2img on the request's image, the same events. */
  refineImage(request: RefineRequest, options?: CallOptions): Promise<AsyncIterable<ImageEvent>>;
  /** Text-to-speech: resolves once the voice is chosen, then `{progress}` (0–100) per sentence and the WAV. */
  speak(request: SpeechRequest, options?: CallOptions): Promise<AsyncIterable<SpeechEvent>>;
  /** What this side can speak and transcribe (`list_speech_models`). */
  listSpeechModels(options?: CallOptions): Promise<SpeechModels>;
  /** Stops the session's running generation; false when nothing was running. */
  stop(sessionId: string, options?: CallOptions): Promise<boolean>;
  /** A reading of CPU, memory and GPUs: one per runner that answered (embedded mode: one, runner `embedded`). */
  systemMetrics(options?: CallOptions): Promise<RunnerSample[]>;
}
