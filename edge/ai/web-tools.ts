import { z } from 'zod';
import type { Logger } from '../../shared/log.ts';
import { primed } from '../../shared/primed.ts';
import { toAppError } from '../middleware/errors.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { sseResponse } from '../sse-response.ts';
import { analyzeUrl } from '../web/url-analyze.ts';
import { extractUrl } from '../web/url-extract.ts';
import { chunkEventBytes, streamUrl, type UrlStreamEvent } from '../web/url-stream.ts';
import { streamYoutube, VIDEO_ID, type YoutubeStreamEvent } from '../web/youtube-stream.ts';
import { aiTool, type AiTool } from './ai-tool.ts';

const Url = z.object({ url: z.string().min(1).max(8192) });
const Extract = Url.extend({ selectors: z.array(z.string().min(1).max(1024)).max(64).optional() });
const Youtube = z.object({
  video_id: z.string().regex(VIDEO_ID, 'a YouTube video id: 11 characters of A–Z, a–z, 0–9, - and _'),
});

/** url_stream: SSE bytes prepared while the socket drains (reading upstream overlaps writing to the client). */
const STREAM_AHEAD_BYTES = 256 * 1024;

/** The document's error event of the web tools' streams: `{"error": "…"}`. */
const errorEvent = (err: unknown) => ({ error: toAppError(err).message });

/**
 * The web tools of the unified endpoint (`url_analyze`, `url_extract`, `url_stream`, `youtube_stream`), every
 * request through the one SSRF guard. Errors before the answer starts (a refused URL, an upstream error
 * status) are HTTP statuses; later ones are `{"error"}` events. `youtube_stream` answers every failure after
 * its config is checked as an `{"error"}` event (the document: offline, it fails with an error event).
 */
export function webTools(
  fetch: GuardedFetch,
  logger: Logger,
  { youtubeOrigin }: { youtubeOrigin?: string } = {},
): Record<string, AiTool> {
  return {
    url_analyze: aiTool(Url, async (c, { url }) => c.json(await analyzeUrl(url, { fetch, signal: c.req.raw.signal }))),
    url_extract: aiTool(Extract, async (c, { url, selectors }) => {
      const events = extractUrl(url, selectors, { fetch, signal: c.req.raw.signal });
      return sseResponse(c, await primed(events), { onError: errorEvent, logger });
    }),
    url_stream: aiTool(Url, async (c, { url }) => {
      const events = await streamUrl(url, { fetch, signal: c.req.raw.signal });
      return sseResponse(c, encodedChunks(events), { onError: errorEvent, logger, aheadBytes: STREAM_AHEAD_BYTES });
    }),
    youtube_stream: aiTool(Youtube, async (c, { video_id }) => {
      const events = streamYoutube(video_id, { fetch, signal: c.req.raw.signal, origin: youtubeOrigin });
      return sseResponse(c, encodedChunks(events), { onError: errorEvent, logger, aheadBytes: STREAM_AHEAD_BYTES });
    }),
  };
}

/** url_stream's chunk events written as SSE bytes directly; the others go through as JSON. */
async function* encodedChunks(events: AsyncIterable<UrlStreamEvent | YoutubeStreamEvent>): AsyncGenerator<unknown> {
  for await (const event of events) yield 'chunk' in event ? chunkEventBytes(event) : event;
}
