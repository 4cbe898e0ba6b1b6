import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../shared/schemas/chat.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';
import { continueConversation, recordAnswer } from './conversation.ts';

const u = (content: string): ChatMessage => ({ role: 'user', content });
const a = (content: string): ChatMessage => ({ role: 'assistant', content });
const sys = (content: string): ChatMessage => ({ role: 'system', content });

describe('continueConversation', () => {
  it('takes a whole history as sent (OpenAI clients)', () => {
    expect(continueConversation([u('x'), a('y')], [u('1'), a('2'), u('3')])).toEqual([u('1'), a('2'), u('3')]);
  });
  it('continues the stored conversation when only a new user message comes (the document’s clients)', () => {
    expect(continueConversation([sys('s'), u('1'), a('2')], [u('3')])).toEqual([sys('s'), u('1'), a('2'), u('3')]);
  });
  it('a system message or the system field replaces the earlier one', () => {
    expect(continueConversation([sys('old'), u('1'), a('2')], [u('3')], 'new')).toEqual([
      sys('new'),
      u('1'),
      a('2'),
      u('3'),
    ]);
    expect(continueConversation([sys('old'), u('1'), a('2')], [sys('newer'), u('3')])).toEqual([
      sys('newer'),
      u('1'),
      a('2'),
      u('3'),
    ]);
  });
  it('starts over when the first question is asked again', () => {
    expect(continueConversation([u('1'), a('2')], [u('1')])).toEqual([u('1')]);
  });
});

describe('recordAnswer', () => {
  async function* events() {
    yield { type: 'text' as const, text: 'Hel' };
    yield { type: 'text' as const, text: 'lo' };
  }

  it('saves the whole answer before the stream completes', async () => {
    const saved: ChatMessage[] = [];
    for await (const _ of recordAnswer(events(), async (m) => void saved.push(m)));
    expect(saved).toEqual([{ role: 'assistant', content: 'Hello' }]);
  });

  it('fails the stream when the answer could not be saved (never a silent 200)', async () => {
    const drain = async () => {
      for await (const _ of recordAnswer(events(), () => Promise.reject(new Error('SQLITE_BUSY'))));
    };
    await expect(drain()).rejects.toThrow('SQLITE_BUSY');
  });
});

describe('session conversations through /v1/chat/completions', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.cleanup());
  const chat = (body: Record<string, unknown>, session?: string) =>
    t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
      body: JSON.stringify({ temperature: 0, ...body }),
    });
  const history = async (session: string) =>
    (await (await t.app.request('/v1/session/history', { headers: { 'x-session-id': session } })).json()).messages;

  it('keeps the conversation across turns; the system field replaces the earlier one; it can be cleared', async () => {
    const first = await chat({ model: 'tiny-chat', system: 'Be brief.', messages: [u('Hi')] });
    const session = first.headers.get('x-session-id')!;
    await chat({ messages: [u('And you?')] }, session);
    expect(await history(session)).toEqual([
      sys('Be brief.'),
      u('Hi'),
      a(SCRIPTED_ANSWER),
      u('And you?'),
      a(SCRIPTED_ANSWER),
    ]);
    await chat({ system: 'Be long.', messages: [u('More')] }, session);
    const after = await history(session);
    expect(after[0]).toEqual(sys('Be long.'));
    expect(after.filter((m: ChatMessage) => m.role === 'system')).toHaveLength(1);
    expect(after).toHaveLength(7);
    await t.app.request('/v1/session/history', { method: 'DELETE', headers: { 'x-session-id': session } });
    expect(await history(session)).toEqual([]);
  });

  it('keeps a stopped answer’s partial text in the history', async () => {
    const res = await chat({ model: 'tiny-loop', stream: true, max_tokens: 5000, messages: [u('go')] });
    const session = res.headers.get('x-session-id')!;
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    await t.app.request('/v1/stop', { method: 'POST', headers: { 'x-session-id': session } });
    while (!(await reader.read()).done);
    await expect.poll(async () => (await history(session)).length, { timeout: 5_000 }).toBe(2);
    const [, answer] = await history(session);
    expect(answer.role).toBe('assistant');
    expect(answer.content.length).toBeGreaterThan(0);
    expect(answer.content.length).toBeLessThan(5000 * 3);
  });
});
