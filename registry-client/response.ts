/**
 * Registry responses: the shape Transport returns and the bounded ways to read one. A body is never read
 * without a byte limit (a hostile registry could send anything); `readLimited` fails or truncates at the limit,
 * and destroys the rest of the body.
 */
import type { Headers, ResponseBody } from './http1.js';
import { TsbuildError, redactUrl } from '../layer-store/core/index.js';

export type { Headers } from './http1.js';

/** A response whose body the caller must consume (text/json/dump or iterate). */
export interface RegistryResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: ResponseBody;
  /** The final URL (after redirects). */
  readonly url: URL;
}

/** Returns one header value (first of a list). */
export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads at most `limit` bytes of the body as UTF-8 (the rest is discarded). */
export async function readLimitedText(res: RegistryResponse, limit: number): Promise<string> {
  return (await readLimited(res, limit, false)).toString('utf8');
}

/** Reads the body into a Buffer; throws (`tooLarge()`, if given) when it exceeds `limit` bytes (if `strict`), else truncates. */
export async function readLimited(res: RegistryResponse, limit: number, strict = true, tooLarge?: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      res.body.destroy();
      if (strict && tooLarge) throw tooLarge();
      if (strict) throw new TsbuildError('INVALID_MANIFEST', `response body larger than ${limit} bytes from ${redactUrl(res.url)}`, { hint: 'the registry sent more than a manifest may hold' });
      chunks.push(b.subarray(0, b.length - (n - limit)));
      break;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
