// SSE responses are built in shared/ (the runner rpc streams too); edge routes keep importing from here.
export { sseResponse } from '../shared/sse-response.ts';
