import type { IncomingMessage, ServerResponse } from 'node:http';
import { localSite } from './local-site.ts';

/** A video the stand-in knows. */
export interface StandInVideo {
  id: string;
  title: string;
  author: string;
  lengthSeconds: number;
  /** The muxed MP4 stream's bytes (any bytes: nothing decodes them). */
  media: Buffer;
  /** playabilityStatus.status, default OK; with `reason` when not OK. */
  status?: 'OK' | 'ERROR' | 'LOGIN_REQUIRED' | 'UNPLAYABLE';
  reason?: string;
  /** The stream offered only with a `signatureCipher` (what the web client gets), no plain URL. */
  ciphered?: boolean;
}

/**
 * A stand-in for YouTube on 127.0.0.1: `POST /youtubei/v1/player` answers InnerTube's player response in the
 * shape it has on the wire (responseContext, playabilityStatus, streamingData with muxed and adaptive formats,
 * videoDetails), for the video id in the request body; `GET /videoplayback?v=<id>&itag=<n>` serves the media
 * with its Content-Length, as googlevideo.com does. Every request is logged in `requests` (method, path,
 * the InnerTube client named in the body).
 */
export async function youtubeSite(videos: StandInVideo[]) {
  const byId = new Map(videos.map((v) => [v.id, v]));
  const requests: { method: string; path: string; client?: string }[] = [];
  let origin = '';

  const format = (video: StandInVideo, itag: number, mimeType: string, extra: Record<string, unknown>) => {
    const url = `${origin}/videoplayback?v=${video.id}&itag=${itag}&source=youtube&mime=${encodeURIComponent(mimeType.split(';')[0]!)}`;
    return {
      itag,
      ...(video.ciphered ? { signatureCipher: `s=${'A'.repeat(40)}&sp=sig&url=${encodeURIComponent(url)}` } : { url }),
      mimeType,
      bitrate: 503_000,
      lastModified: '1700000000000000',
      contentLength: String(video.media.length),
      projectionType: 'RECTANGULAR',
      approxDurationMs: String(video.lengthSeconds * 1000),
      ...extra,
    };
  };

  const playerResponse = (video: StandInVideo | undefined, id: string) => {
    const responseContext = { visitorData: 'CgtzdGFuZC1pbi0xMQ%3D%3D', serviceTrackingParams: [] };
    if (!video) return { responseContext, playabilityStatus: { status: 'ERROR', reason: 'This video is unavailable' } };
    const status = video.status ?? 'OK';
    if (status !== 'OK') return { responseContext, playabilityStatus: { status, reason: video.reason ?? '' } };
    return {
      responseContext,
      playabilityStatus: { status: 'OK', playableInEmbed: true },
      streamingData: {
        expiresInSeconds: '21540',
        formats: [
          format(video, 18, 'video/mp4; codecs="avc1.42001E, mp4a.40.2"', {
            width: 640,
            height: 360,
            quality: 'medium',
            fps: 30,
            qualityLabel: '360p',
            audioQuality: 'AUDIO_QUALITY_LOW',
            audioSampleRate: '44100',
            audioChannels: 2,
          }),
        ],
        adaptiveFormats: [
          format(video, 137, 'video/mp4; codecs="avc1.640028"', {
            width: 1920,
            height: 1080,
            quality: 'hd1080',
            fps: 30,
            qualityLabel: '1080p',
          }),
          format(video, 140, 'audio/mp4; codecs="mp4a.40.2"', {
            quality: 'tiny',
            audioQuality: 'AUDIO_QUALITY_MEDIUM',
            audioSampleRate: '44100',
            audioChannels: 2,
            audioTrack: { displayName: 'English original', id: 'en.4', audioIsDefault: true },
          }),
        ],
      },
      videoDetails: {
        videoId: id,
        title: video.title,
        lengthSeconds: String(video.lengthSeconds),
        channelId: 'UCstandin0000000000000000',
        isOwnerViewing: false,
        shortDescription: '',
        isCrawlable: true,
        thumbnail: { thumbnails: [{ url: `${origin}/vi/${id}/default.jpg`, width: 120, height: 90 }] },
        allowRatings: true,
        viewCount: '1234',
        author: video.author,
        isPrivate: false,
        isUnpluggedCorpus: false,
        isLiveContent: false,
      },
    };
  };

  const readBody = async (req: IncomingMessage) => {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    return Buffer.concat(parts).toString('utf8');
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'POST' && url.pathname === '/youtubei/v1/player') {
      const body = JSON.parse(await readBody(req)) as {
        videoId?: string;
        context?: { client?: { clientName?: string } };
      };
      requests.push({ method: 'POST', path: url.pathname, client: body.context?.client?.clientName });
      const id = body.videoId ?? '';
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(playerResponse(byId.get(id), id)));
      return;
    }
    requests.push({ method: req.method ?? 'GET', path: url.pathname });
    const video = byId.get(url.searchParams.get('v') ?? '');
    if (url.pathname === '/videoplayback' && video) {
      res.writeHead(200, {
        'content-type': url.searchParams.get('mime') ?? 'video/mp4',
        'content-length': video.media.length,
      });
      res.end(video.media);
      return;
    }
    res.writeHead(404).end();
  };
  const site = await localSite((req, res) => {
    route(req, res).catch(() => res.writeHead(500).end());
  });
  origin = site.origin;
  return { origin, requests, close: site.close };
}
