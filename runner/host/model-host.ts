import { AppError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';

/** Where model files come from (the downloader): resolves a catalog entry to a file on disk. */
export interface ModelFiles {
  ensure(
    name: string,
    entry: CatalogEntry,
    options: { signal?: AbortSignal; onProgress?: (fraction: number) => void; download?: boolean },
  ): Promise<{ path: string; status: 'exists' | 'completed' }>;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  onFile?: (status: 'exists' | 'completed') => void;
  /** False: only a file already on disk is loaded (a caller who may not download); default true. */
  download?: boolean;
}

/** Bytes of memory: system RAM, and GPU memory (0 where there is no GPU). */
export interface Memory {
  ram: number;
  vram: number;
}

/** A model in memory, as an engine's loader made it. `kind` tells the engines' records apart. */
export interface HostedModel {
  readonly kind: string;
  /** Refuses new work and fails what waits for the model (it is about to be disposed). */
  close?(reason: AppError): void;
  dispose(): Promise<void>;
}

/** What a loader returns: the model and what it holds, for the memory check of later loads. */
export interface Loaded<T extends HostedModel> {
  model: T;
  /** Memory held; `mapped` is RAM of memory-mapped weights, which the kernel counts as available although in use. */
  holds: Memory & { mapped: number };
}

/** One load, planned before memory is made for it. */
export interface LoadPlan<T extends HostedModel> {
  /** What the preferred configuration needs (the host evicts idle models until it fits, if it can). */
  need: Memory;
  /** Loads in `free` memory: the preferred configuration, or a smaller one that fits; 507 when none does. */
  load(free: Memory): Promise<Loaded<T>>;
}

/** Turns a model file into a plan; one per catalog kind the host serves. */
export type ModelLoader<T extends HostedModel> = (file: {
  name: string;
  entry: CatalogEntry;
  path: string;
  signal?: AbortSignal;
}) => Promise<LoadPlan<T>>;

/** A model lent to one piece of work: while any lease is held, the model is neither evicted nor unloaded for idleness. */
export interface Lease<T extends HostedModel> {
  readonly name: string;
  readonly model: T;
  /** Ends the lease (idempotent). */
  release(): void;
}

export interface ModelHostOptions<T extends HostedModel> {
  models: Record<string, CatalogEntry>;
  files: ModelFiles;
  /** A loader per catalog kind (`llm`, `embedding`, …); kinds without one are refused. More: `register`. */
  loaders?: Partial<Record<CatalogEntry['kind'], ModelLoader<T>>>;
  /** Idle time before a model is unloaded (MODEL_KEEP_ALIVE); -1 never; default 5 min. */
  keepAliveMs?: number;
  /** Memory that can be allocated now (the host takes off the mapped weights of the models it holds). */
  memory: () => Memory | Promise<Memory>;
  /** Where failures nobody awaits (an idle unload) are reported; default none. */
  logger?: Logger;
}

interface Resident<T extends HostedModel> extends Loaded<T> {
  name: string;
  leases: number;
  lastUsed: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

/**
 * Keeps models in memory for the engines that share it: downloads what is
 * missing, loads one model at a time (so two loads cannot both pass the
 * memory check), evicts idle models least recently used first to make room,
 * unloads models left idle for `keepAliveMs`, and counts the work in flight
 * on each model (leases) so that none is disposed under a request.
 */
export class ModelHost<T extends HostedModel> {
  readonly #resident = new Map<string, Resident<T>>();
  readonly #pending = new Map<string, Promise<Resident<T>>>();
  /** Callers inside `acquire` per model: a model someone is about to lease is not evicted (no load/evict ping-pong). */
  readonly #acquiring = new Map<string, number>();
  #loadLock: Promise<unknown> = Promise.resolve();
  readonly #opts: Required<Omit<ModelHostOptions<T>, 'logger' | 'loaders'>> & { logger?: Logger };
  readonly #loaders: Partial<Record<CatalogEntry['kind'], ModelLoader<T>>>;

  constructor({ loaders = {}, ...options }: ModelHostOptions<T>) {
    this.#opts = { keepAliveMs: 300_000, ...options };
    this.#loaders = { ...loaders };
  }

  /** Adds the loader of a catalog kind: an engine sharing this host brings its own. */
  register(kind: CatalogEntry['kind'], loader: ModelLoader<T>): void {
    this.#loaders[kind] = loader;
  }

  /** Whether a loader for `kind` is registered. */
  loads(kind: CatalogEntry['kind']): boolean {
    return this.#loaders[kind] !== undefined;
  }

  /** The catalog (name → entry). */
  get catalog(): Record<string, CatalogEntry> {
    return this.#opts.models;
  }

  /** The catalog entry of `name`; 404 `model_not_found` when there is none. */
  entry(name: string): CatalogEntry {
    const entry = this.#opts.models[name];
    if (!entry) throw new AppError(404, `Model ${name} not found`, { code: 'model_not_found', param: 'model' });
    return entry;
  }

  isLoaded(name: string): boolean {
    return this.#resident.has(name);
  }

  get loadedNames(): string[] {
    return [...this.#resident.keys()];
  }

  /** The loaded models (for engines' status). */
  get models(): T[] {
    return [...this.#resident.values()].map((r) => r.model);
  }

  /** Leases held on `name` (0 when it is not loaded). */
  leases(name: string): number {
    return this.#resident.get(name)?.leases ?? 0;
  }

  /**
   * Lends `name`, downloading and loading it first when it is not in memory.
   * `onFile` hears how the file was found (only when it had to be looked up);
   * `onProgress` the download's progress. `download: false` loads only a file already on disk (a 403 otherwise).
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<Lease<T>> {
    const { signal } = options;
    this.#acquiring.set(name, (this.#acquiring.get(name) ?? 0) + 1);
    try {
      for (;;) {
        signal?.throwIfAborted();
        const resident = this.#resident.get(name) ?? (await this.#load(name, options));
        // Between the load and here an unload may have taken it: take the lease only on what is still resident.
        if (this.#resident.get(name) === resident) return this.#lease(resident);
      }
    } finally {
      const n = this.#acquiring.get(name)! - 1;
      if (n) this.#acquiring.set(name, n);
      else this.#acquiring.delete(name);
    }
  }

  /** Frees the model's memory, failing the work still on it. False when it was not loaded. */
  async unload(name: string): Promise<boolean> {
    const resident = this.#resident.get(name);
    if (!resident) return false;
    this.#resident.delete(name);
    clearTimeout(resident.idleTimer);
    resident.model.close?.(new AppError(503, `Model ${name} was unloaded`, { headers: { 'Retry-After': '1' } }));
    await resident.model.dispose();
    return true;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.loadedNames.map((n) => this.unload(n)));
  }

  #lease(resident: Resident<T>): Lease<T> {
    resident.leases++;
    resident.lastUsed = Date.now();
    clearTimeout(resident.idleTimer);
    let released = false;
    return {
      name: resident.name,
      model: resident.model,
      release: () => {
        if (released) return;
        released = true;
        resident.leases--;
        resident.lastUsed = Date.now();
        if (resident.leases === 0) this.#scheduleIdle(resident);
      },
    };
  }

  /** Downloads what is missing (each caller hears its own progress: the downloader shares one download), then loads once. */
  async #load(name: string, { signal, onProgress, onFile, download }: AcquireOptions): Promise<Resident<T>> {
    const entry = this.entry(name);
    const loader = this.#loaders[entry.kind];
    if (!loader) throw new AppError(400, `Model ${name} is a ${entry.kind} model, which this server does not load`);
    const file = await this.#opts.files.ensure(name, entry, { signal, onProgress, download });
    onFile?.(file.status);
    const resident = this.#resident.get(name);
    if (resident) return resident;
    let pending = this.#pending.get(name);
    if (!pending) {
      // Shared by every caller waiting for this model: no one caller's signal cancels it.
      pending = this.#serialised(() => this.#loadFile(loader, { name, entry, path: file.path })).finally(() =>
        this.#pending.delete(name),
      );
      this.#pending.set(name, pending);
    }
    return pending;
  }

  /** Plans the load, evicts idle models (least recently used first) until the plan fits, then loads. */
  async #loadFile(
    loader: ModelLoader<T>,
    file: { name: string; entry: CatalogEntry; path: string; signal?: AbortSignal },
  ): Promise<Resident<T>> {
    const already = this.#resident.get(file.name);
    if (already) return already;
    const plan = await loader(file);
    file.signal?.throwIfAborted();
    const idle = [...this.#resident.values()]
      .filter((r) => r.leases === 0 && !this.#acquiring.has(r.name))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    let free = await this.#free();
    while (!fits(plan.need, free) && idle.length) {
      await this.unload(idle.shift()!.name);
      free = await this.#free();
    }
    const loaded = await plan.load(free);
    const resident: Resident<T> = { ...loaded, name: file.name, leases: 0, lastUsed: Date.now() };
    this.#resident.set(file.name, resident);
    this.#scheduleIdle(resident);
    return resident;
  }

  #serialised<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#loadLock.then(task, task);
    this.#loadLock = run.catch(() => undefined);
    return run;
  }

  /** What can be allocated now: the reading, less the mapped weights of loaded models (counted as available by the kernel). */
  async #free(): Promise<Memory> {
    const now = await this.#opts.memory();
    let mapped = 0;
    for (const r of this.#resident.values()) mapped += r.holds.mapped;
    return { ram: Math.max(0, now.ram - mapped), vram: now.vram };
  }

  #scheduleIdle(resident: Resident<T>): void {
    clearTimeout(resident.idleTimer);
    const ms = this.#opts.keepAliveMs;
    if (ms < 0) return;
    resident.idleTimer = setTimeout(() => {
      if (this.#resident.get(resident.name) !== resident) return;
      if (resident.leases > 0) return; // the last lease's release schedules the next check
      this.unload(resident.name).catch((err: unknown) =>
        this.#opts.logger?.error('idle unload failed', { model: resident.name, error: (err as Error)?.message }),
      );
    }, ms);
    resident.idleTimer.unref();
  }
}

/** Whether `need` fits in `free`. */
export function fits(need: Memory, free: Memory): boolean {
  return need.ram <= free.ram && need.vram <= free.vram;
}
