import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { openApiDocument } from '../openapi/openapi-document.ts';

/** `GET /openapi.json`: the API's OpenAPI 3.1 document, built once from the request schemas. */
export function openApiRoutes() {
  let document: Record<string, unknown> | undefined;
  return new Hono<AppEnv>().get('/openapi.json', (c) => c.json((document ??= openApiDocument())));
}
