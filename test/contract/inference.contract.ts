import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inference } from '../../shared/inference.ts';
import { TINY_CATALOG } from '../helpers/tiny-models.ts';

export interface ContractSubject {
  inference: Inference;
  cleanup?: () => void | Promise<void>;
}

/** The behaviour every `Inference` implementation owes the edge (local engines and remote runners alike). */
export function inferenceContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`Inference contract: ${name}`, () => {
    let subject: ContractSubject;
    beforeAll(async () => {
      subject = await make();
    });
    afterAll(async () => {
      await subject?.cleanup?.();
    });

    it('lists every catalog model with its kind, none loaded at start', async () => {
      const models = await subject.inference.listModels();
      const expected = Object.entries(TINY_CATALOG.models).map(([id, e]) => ({ id, kind: e.kind, loaded: false }));
      expect(models).toEqual(expected);
    });

    it('reports at least one runner with capacity and what it has loaded', async () => {
      const status = await subject.inference.status();
      expect(status.length).toBeGreaterThan(0);
      for (const s of status) {
        expect(s.id).toBeTruthy();
        expect(s.capacity).toBeGreaterThan(0);
        expect(s.busy).toBeGreaterThanOrEqual(0);
        expect(Array.isArray(s.loadedModels)).toBe(true);
      }
    });
  });
}
