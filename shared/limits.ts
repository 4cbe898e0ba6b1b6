/** Default request body limit: 25 MB (`MAX_BODY_BYTES`). */
export const DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024;
