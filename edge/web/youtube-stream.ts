import { AppError } from '../../shared/errors.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { streamUrl, type UrlStreamEvent } from './url-stream.ts';

/** A YouTube video id: 11 characters of base64url. */
export const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;

/** Where InnerTube requests go unless `YOUTUBE_ORIGIN` says otherwise. */
export const YOUTUBE_ORIGIN = 'https://www.youtube.com';

/** The hosts youtubei.js sends InnerTube requests to; `origin` replaces them all. */
const INNERTUBE_HOSTS = new Set(['www.youtube.com', 'youtube.com', 'm.youtube.com', 'youtubei.googleapis.com']);

/**
 * The InnerTube client asked for the player response. Android VR answers with stream URLs that need no
 * signature deciphering and no proof-of-origin token (the web client's need YouTube's player JavaScript
 * evaluated, which Workers cannot do and we will not do in-process).
 */
const CLIENT = 'ANDROID_VR';

/** How long InnerTube may take to answer, and most bytes of its answer. */
const INNERTUBE_TIMEOUT_MS = 30_000;
const INNERTUBE_MAX_BYTES = 16 * 1024 * 1024;

/** The first event: the video's metadata (`length` in seconds). */
export interface YoutubeVideo {
  title: string;
  author: string;
  length: number;
}

export type YoutubeStreamEvent = YoutubeVideo | UrlStreamEvent;

export interface YoutubeStreamOptions {
  /** The SSRF guard: InnerTube requests and the media download go through it. */
  fetch: GuardedFetch;
  signal?: AbortSignal;
  /** `YOUTUBE_ORIGIN`: InnerTube requests go there instead of youtube.com (a recording, a mirror). */
  origin?: string;
}

type Fetch = typeof globalThis.fetch;

/** youtubei.js's fetch: every request through the guard, InnerTube hosts mapped to `origin`, bounded. */
function innertubeFetch({ fetch, signal, origin }: YoutubeStreamOptions): Fetch {
  return async (input, init = {}) => {
    const request = input instanceof Request ? input : undefined;
    let url = new URL(request ? request.url : String(input));
    if (origin && INNERTUBE_HOSTS.has(url.hostname)) url = new URL(url.pathname + url.search, origin);
    const method = init.method ?? request?.method ?? 'GET';
    const body = init.body ?? (request && method !== 'GET' && method !== 'HEAD' ? await request.arrayBuffer() : null);
    const signals = [init.signal, request?.signal, signal].filter((s): s is AbortSignal => !!s);
    return fetch(url, {
      method,
      headers: new Headers(init.headers ?? request?.headers),
      body,
      signal: signals.length ? AbortSignal.any(signals) : undefined,
      timeoutMs: INNERTUBE_TIMEOUT_MS,
      maxBytes: INNERTUBE_MAX_BYTES,
    });
  };
}

/** What YouTube said about an unplayable video (youtubei.js keeps it in the error's `info`). */
function unplayable(err: unknown): AppError | undefined {
  const info = (err as { info?: { status?: string; reason?: string } })?.info;
  if (!(err instanceof Error) || typeof info?.status !== 'string') return undefined;
  return new AppError(422, `YouTube: ${info.reason ?? err.message} (${info.status})`, { code: 'youtube_unplayable' });
}

/** youtubei.js, loaded on first use (it is large, and most deployments never stream YouTube). */
const innertube = () => import('youtubei.js/cf-worker');

/**
 * `youtube_stream`: the video's `{title, author, length}`, then its best muxed MP4 stream (video and audio in
 * one file) as `url_stream` events, through youtubei.js (its web platform build: fetch and Web Crypto only, the
 * same in workerd and Node). Errors (YouTube unreachable, an unplayable or unknown video, no stream this
 * deployment can fetch) are thrown from the iteration; the tool sends them as `{"error"}` events.
 */
export async function* streamYoutube(
  videoId: string,
  options: YoutubeStreamOptions,
): AsyncGenerator<YoutubeStreamEvent> {
  if (!VIDEO_ID.test(videoId)) throw new AppError(400, 'config.video_id: not a YouTube video id (11 characters)');
  const { Innertube } = await innertube();
  const yt = await Innertube.create({
    fetch: innertubeFetch(options),
    // No request before the player one: no session page, no config, no player script (nothing to decipher).
    generate_session_locally: true,
    retrieve_innertube_config: false,
    retrieve_player: false,
    enable_session_cache: false,
  });
  let info: Awaited<ReturnType<typeof yt.getBasicInfo>>;
  try {
    info = await yt.getBasicInfo(videoId, { client: CLIENT });
  } catch (err) {
    throw unplayable(err) ?? err;
  }
  const status = info.playability_status;
  if (status && status.status !== 'OK')
    throw new AppError(422, `YouTube: ${status.reason || 'this video cannot be played'} (${status.status})`, {
      code: 'youtube_unplayable',
    });
  const details = info.basic_info;
  yield { title: details.title ?? '', author: details.author ?? '', length: Number(details.duration ?? 0) };

  let format: ReturnType<typeof info.chooseFormat>;
  try {
    format = info.chooseFormat({ type: 'video+audio', quality: 'best', format: 'mp4' });
  } catch {
    throw new AppError(422, 'YouTube offers no MP4 stream with both video and audio for this video', {
      code: 'youtube_no_stream',
    });
  }
  if (!format.url)
    throw new AppError(
      422,
      "YouTube's stream for this video needs its player's signature deciphering, which is not run here",
      {
        code: 'youtube_no_stream',
      },
    );
  yield* await streamUrl(format.url, { fetch: options.fetch, signal: options.signal });
}
