import { listeningUrl, start, type Child } from '../../test/helpers/child-processes.ts';

export interface EmbeddedServerOptions {
  /** DATA_DIR of the server. */
  dir: string;
  /** MODELS_FILE: the catalog of the models it serves. */
  catalog: string;
  threads: number;
  parallel: number;
}

/** `npm start` on 127.0.0.1 and a free port, for a benchmark: its URL once it listens, and the child to stop. */
export async function startEmbeddedServer(o: EmbeddedServerOptions): Promise<{ url: string; child: Child }> {
  const child = start({
    name: 'edgerunner',
    command: 'npm',
    args: ['start', '-s'],
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: o.dir,
      MODELS_FILE: o.catalog,
      LLM_THREADS: String(o.threads),
      LLM_PARALLEL: String(o.parallel),
      LOG_LEVEL: 'warn',
      // No background build of llama.cpp competing with the measurement.
      LLM_NATIVE_BUILD: 'off',
    },
  });
  return { url: await listeningUrl(child, { timeoutMs: 60_000 }), child };
}
