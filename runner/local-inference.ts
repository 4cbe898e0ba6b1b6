import type { CallOptions, Inference } from '../shared/inference.ts';
import type { Catalog } from '../shared/schemas/catalog.ts';
import type { ModelSummary } from '../shared/schemas/models.ts';
import type { RunnerStatus } from '../shared/schemas/runner.ts';

export interface LocalInferenceOptions {
  catalog: Catalog;
  runnerId: string;
  /** Calls this node runs at once; default 4. */
  capacity?: number;
}

/** `Inference` over the engines in this process (embedded server and runner rpc). */
export class LocalInference implements Inference {
  readonly #loaded = new Set<string>();
  readonly #busy = 0;

  constructor(readonly options: LocalInferenceOptions) {}

  async listModels(_options: CallOptions = {}): Promise<ModelSummary[]> {
    return Object.entries(this.options.catalog.models).map(([id, entry]) => ({
      id,
      kind: entry.kind,
      loaded: this.#loaded.has(id),
    }));
  }

  async status(_options: CallOptions = {}): Promise<RunnerStatus[]> {
    return [
      {
        id: this.options.runnerId,
        loadedModels: [...this.#loaded],
        capacity: this.options.capacity ?? 4,
        busy: this.#busy,
      },
    ];
  }
}
