import type { ModelSummary } from './schemas/models.ts';
import type { RunnerStatus } from './schemas/runner.ts';

/** Options every inference call accepts. */
export interface CallOptions {
  signal?: AbortSignal;
  /** The caller's session, so a pool of runners can keep it on one runner. */
  sessionId?: string;
}

/**
 * What the edge asks of the engines. Embedded mode hands `createApp` the
 * local engines (`runner/local-inference.ts`); an edge hands it a client for
 * remote runners (`edge/runners/remote-inference.ts`). One contract suite
 * (`test/contract/inference.contract.ts`) runs against both.
 */
export interface Inference {
  /** Every model this side can serve, with whether it is loaded now. */
  listModels(options?: CallOptions): Promise<ModelSummary[]>;
  /** Health and capacity: one entry per runner (embedded mode: one). */
  status(options?: CallOptions): Promise<RunnerStatus[]>;
}
