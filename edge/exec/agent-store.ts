import { and, desc, eq, or } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { agents } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import type { AgentRequest } from '../../shared/schemas/exec.ts';
import type { Principal } from '../env.ts';
import { ownerFilter } from './thread-store.ts';
import type { StoredAgent } from './tools/callable.ts';

/** An agent as the API shows it. */
export interface AgentRecord extends StoredAgent {
  created_at: number;
  updated_at: number;
}

type Row = typeof agents.$inferSelect;

function toRecord(row: Row): AgentRecord {
  const config = row.config as Omit<AgentRequest, 'slug' | 'name'>;
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: config.description ?? null,
    model: config.model,
    instructions: config.instructions ?? null,
    tools: config.tools ?? null,
    llmConfig: config.llmConfig ?? null,
    config: config.config ?? null,
    created_at: row.createdAt.getTime(),
    updated_at: row.updatedAt.getTime(),
  };
}

function notFound(idOrSlug: string): AppError {
  return new AppError(404, `Agent ${idOrSlug} not found`, { code: 'agent_not_found' });
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as Error | undefined;
  return /UNIQUE/i.test(`${e?.message} ${(e?.cause as Error | undefined)?.message}`);
}

/** Agents of `/llm-exec/agents`, owned like threads (the caller's project, else the caller); slugs unique per owner. */
export class AgentStore {
  constructor(private readonly db: Db) {}

  async create(owner: Principal, body: AgentRequest): Promise<AgentRecord> {
    const { slug, name, ...config } = body;
    const id = `agent_${crypto.randomUUID().replace(/-/g, '')}`;
    try {
      await this.db.insert(agents).values({
        id,
        projectId: owner.projectId,
        principal: owner.id,
        slug,
        name: name ?? slug,
        config,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw slugTaken(slug);
      throw err;
    }
    return this.get(id, owner);
  }

  /** By id or slug, among the caller's; null when none. */
  async find(idOrSlug: string, owner: Principal): Promise<AgentRecord | null> {
    const [row] = await this.db
      .select()
      .from(agents)
      .where(and(ownerFilter(agents, owner), or(eq(agents.id, idOrSlug), eq(agents.slug, idOrSlug))))
      .limit(1);
    return row ? toRecord(row) : null;
  }

  async get(idOrSlug: string, owner: Principal): Promise<AgentRecord> {
    const found = await this.find(idOrSlug, owner);
    if (!found) throw notFound(idOrSlug);
    return found;
  }

  async list(owner: Principal): Promise<AgentRecord[]> {
    const rows = await this.db
      .select()
      .from(agents)
      .where(ownerFilter(agents, owner))
      .orderBy(desc(agents.createdAt), desc(agents.id))
      .limit(1000);
    return rows.map(toRecord);
  }

  /** Replaces the agent's definition (slug included). */
  async replace(idOrSlug: string, owner: Principal, body: AgentRequest): Promise<AgentRecord> {
    const current = await this.get(idOrSlug, owner);
    const { slug, name, ...config } = body;
    try {
      await this.db
        .update(agents)
        .set({ slug, name: name ?? slug, config, updatedAt: new Date() })
        .where(eq(agents.id, current.id));
    } catch (err) {
      if (isUniqueViolation(err)) throw slugTaken(slug);
      throw err;
    }
    return this.get(current.id, owner);
  }

  async delete(idOrSlug: string, owner: Principal): Promise<void> {
    const current = await this.get(idOrSlug, owner);
    await this.db.delete(agents).where(eq(agents.id, current.id));
  }
}

function slugTaken(slug: string): AppError {
  return new AppError(409, `slug: an agent "${slug}" already exists in this project`, {
    code: 'agent_slug_taken',
    param: 'slug',
  });
}
