import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { youtubeSite } from '../../test/helpers/youtube-site.ts';
import { createGuardedFetch } from '../net/ssrf.ts';
import { streamYoutube, type YoutubeStreamEvent } from './youtube-stream.ts';

const media = Buffer.from(Array.from({ length: 300_001 }, (_, i) => (i * 31) % 256));
let site: Awaited<ReturnType<typeof youtubeSite>>;
const fetch = createGuardedFetch({ allowlist: ['127.0.0.1'] });

beforeAll(async () => {
  site = await youtubeSite([
    { id: 'dQw4w9WgXcQ', title: 'Un été à Brest', author: 'Chaîne test', lengthSeconds: 212, media },
    {
      id: 'ageRestrict',
      title: 'x',
      author: 'y',
      lengthSeconds: 1,
      media,
      status: 'LOGIN_REQUIRED',
      reason: 'Sign in to confirm your age',
    },
    { id: 'cipheredVid', title: 'Chiffré', author: 'z', lengthSeconds: 3, media, ciphered: true },
  ]);
});
afterAll(() => site.close());

async function collect(videoId: string, origin = site.origin) {
  const events: YoutubeStreamEvent[] = [];
  try {
    for await (const event of streamYoutube(videoId, { fetch, origin })) events.push(event);
    return { events };
  } catch (err) {
    return { events, err: err as Error & { status?: number; code?: string } };
  }
}

describe('streamYoutube', () => {
  it('sends title, author and length, then the muxed MP4 stream as url_stream chunks, then completed', async () => {
    const { events, err } = await collect('dQw4w9WgXcQ');
    expect(err).toBeUndefined();
    expect(events[0]).toEqual({ title: 'Un été à Brest', author: 'Chaîne test', length: 212 });
    const chunks = events.slice(1, -1) as { chunk: string; progress: number; content_type: string }[];
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks.map((c) => Buffer.from(c.chunk, 'base64')))).toEqual(media);
    expect(chunks.every((c) => c.content_type === 'video/mp4')).toBe(true);
    expect(chunks.at(-1)!.progress).toBe(100);
    expect(events.at(-1)).toEqual({ status: 'completed', received: media.length });
    // One player request, from the client whose URLs need no deciphering, then the muxed format (itag 18).
    expect(site.requests.filter((r) => r.path === '/youtubei/v1/player').at(-1)?.client).toBe('ANDROID_VR');
    expect(site.requests.at(-1)).toEqual({ method: 'GET', path: '/videoplayback' });
  });

  it('an unknown video, an unplayable one or a ciphered stream fails with what YouTube said, after no chunk', async () => {
    const unknown = await collect('AAAAAAAAAAA');
    expect(unknown.events).toEqual([]);
    expect(unknown.err?.message).toMatch(/This video is unavailable/);
    expect(unknown.err?.code).toBe('youtube_unplayable');

    const login = await collect('ageRestrict');
    expect(login.events).toEqual([]);
    expect(login.err?.message).toBe('YouTube: Sign in to confirm your age (LOGIN_REQUIRED)');

    const ciphered = await collect('cipheredVid');
    expect(ciphered.events).toEqual([{ title: 'Chiffré', author: 'z', length: 3 }]);
    expect(ciphered.err?.code).toBe('youtube_no_stream');
  });

  it('YouTube unreachable (offline) fails cleanly; a bad id fails before any request', async () => {
    const offline = await collect('dQw4w9WgXcQ', 'http://127.0.0.1:9');
    expect(offline.events).toEqual([]);
    expect(offline.err?.status).toBe(502);

    const before = site.requests.length;
    const bad = await collect('not an id');
    expect(bad.err?.message).toMatch(/^config\.video_id/);
    expect(site.requests.length).toBe(before);
  });

  it('InnerTube requests go through the SSRF guard: a private origin is refused without the allow-list', async () => {
    const guarded = createGuardedFetch();
    const events: YoutubeStreamEvent[] = [];
    await expect(async () => {
      for await (const event of streamYoutube('dQw4w9WgXcQ', { fetch: guarded, origin: site.origin }))
        events.push(event);
    }).rejects.toMatchObject({ code: 'ssrf_blocked' });
    expect(events).toEqual([]);
  });
});
