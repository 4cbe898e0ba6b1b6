/** API routes: paths a message may name that are no file. */
const ROUTES = /^\/(?:v1|llm-exec|_runner|_edge)(?:\/|$)/;

/** An absolute file path (POSIX with two or more segments, or a Windows drive path) not inside a URL or a JSON pointer. */
const ABSOLUTE = /(?<![\w:/.#~-])(?:\/[\w.@+-]+(?:\/[\w.@+ -]*[\w.@+-])+|[A-Za-z]:\\(?:[\w.@+ -]+\\)*[\w.@+-]+)/g;

/**
 * A message fit for a client: each absolute file path becomes its last
 * segment (`/home/me/models/x.gguf` → `x.gguf`), so errors from the file
 * system, the downloader or llama.cpp never show where the server keeps its
 * files. API routes and URLs are kept.
 */
export function redactPaths(message: string): string {
  return message.replace(ABSOLUTE, (path) => {
    if (ROUTES.test(path)) return path;
    return path.split(/[\\/]/).filter(Boolean).at(-1) ?? path;
  });
}
