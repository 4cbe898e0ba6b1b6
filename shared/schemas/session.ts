import { z } from 'zod';

/** `GET /v1/session`. */
export const SessionInfo = z.object({
  session_id: z.string(),
  current_model: z.string().nullable(),
  has_model_loaded: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
