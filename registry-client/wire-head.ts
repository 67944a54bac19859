/**
 * The heads of wire.ts's HTTP/1.1 exchange, pure: the request head we write (refusing any byte that could end a
 * line or a field early, and a body whose length disagrees with its Content-Length) and the response head we
 * read, with its framing (RFC 9112 section 6.3). A registry is an untrusted server: what llhttp (Node's parser) or
 * Go's net/http reject is rejected here too, and where they differ the stricter choice is taken, so that no
 * server can make us read a body's bytes differently from how a proxy in front of us would.
 */

/** Response headers as undici gives them (a repeated header is a list). */
export type Headers = Record<string, string | string[] | undefined>;

/** What an exchange needs to know of its request. */
export interface WireRequest {
  readonly method: string;
  /** `host[:port]` for the Host header. */
  readonly host: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | string | readonly Buffer[] | undefined;
}

/** How a response body is delimited. */
export type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

export interface ResponseHead {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly framing: Framing;
  /** The connection may carry another request after this response's body. */
  readonly keepAlive: boolean;
}

/** RFC 9110 token: a method or a field name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A byte a field value may not hold: controls other than HTAB (CR, LF, NUL among them), DEL, and for our own values anything past latin1. */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** What Node refuses in a request path (ERR_UNESCAPED_CHARACTERS): controls, spaces, anything past latin1. */
const BAD_PATH = /[^\x21-\xff]/;

export function protocolError(message: string): Error {
  return Object.assign(new Error(`bad HTTP response: ${message}`), { code: 'HPE_INVALID' });
}

function requestError(message: string): Error {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_CHAR' });
}

/** Byte length of a request body. */
function bodyLength(b: NonNullable<WireRequest['body']>): number {
  if (typeof b === 'string') return Buffer.byteLength(b);
  if (Buffer.isBuffer(b)) return b.length;
  let n = 0;
  for (const x of b) n += x.length;
  return n;
}

/**
 * Returns the request head. Throws (before anything is written) on a method, path or header that could split the
 * request, on Transfer-Encoding (bodies are sent with a length), and on a Content-Length that is not the body's:
 * either would leave bytes on the connection that the server reads as the next request. The body's
 * Content-Length is added when the caller gave none.
 */
export function requestHead(r: WireRequest): string {
  if (!TOKEN.test(r.method)) throw requestError(`invalid HTTP method ${JSON.stringify(r.method)}`);
  if (r.path === '' || BAD_PATH.test(r.path)) throw Object.assign(new TypeError(`request path ${JSON.stringify(r.path)} contains unescaped characters`), { code: 'ERR_UNESCAPED_CHARACTERS' });
  const given: [string, string][] = Object.entries(r.headers);
  let length: string | undefined;
  let host = false;
  for (const [k, v] of given) {
    if (!TOKEN.test(k)) throw requestError(`invalid header name ${JSON.stringify(k)}`);
    if (BAD_VALUE.test(v)) throw requestError(`invalid character in header ${k}`);
    const lk = k.toLowerCase();
    if (lk === 'content-length') length = v;
    else if (lk === 'transfer-encoding') throw requestError('transfer-encoding is not sent: a request body goes with its Content-Length');
    else if (lk === 'host') host = true;
  }
  if (!host && BAD_VALUE.test(r.host)) throw requestError(`invalid character in host ${JSON.stringify(r.host)}`);
  const n = r.body === undefined ? 0 : bodyLength(r.body);
  if (length !== undefined && (!/^\d+$/.test(length) || Number(length) !== n)) throw requestError(`content-length ${length} is not the body's length ${n} (${r.method} ${r.path})`);
  let s = `${r.method} ${r.path} HTTP/1.1\r\n${host ? '' : `host: ${r.host}\r\n`}`;
  for (const [k, v] of given) s += `${k}: ${v}\r\n`;
  if (length === undefined && (r.body !== undefined || r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')) s += `content-length: ${n}\r\n`;
  return `${s}\r\n`;
}

/** The comma-separated elements of a (possibly repeated) header, trimmed, empty ones dropped. */
function elements(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/** Strips RFC 9110's optional whitespace (SP and HTAB only) from both ends. */
function ows(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * Parses one field line (a header or a trailer) into [lowercase name, value]: the name a token right before its
 * colon (`Name : v` is refused, as llhttp and Go do), the value free of controls but HTAB.
 */
export function fieldLine(l: string): [string, string] {
  const c = l.indexOf(':');
  const k = c < 0 ? '' : l.slice(0, c);
  const v = ows(l.slice(c + 1));
  if (!TOKEN.test(k) || BAD_VALUE.test(v)) throw protocolError(`header line ${JSON.stringify(l.slice(0, 60))}`);
  return [k.toLowerCase(), v];
}

/**
 * Parses a response head (the status line and field lines, split at CRLF, without the blank line) of a response
 * to `method`. Returns undefined for a 1xx to skip (100 Continue, 103 Early Hints). Throws on a malformed head.
 */
export function parseResponseHead(h: string, method: string): ResponseHead | undefined {
  const lines = h.split('\r\n');
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/.exec(lines[0]!);
  if (!m) throw protocolError(`status line ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  const status = Number(m[2]);
  // 101 switches protocols: the bytes after it are not HTTP/1.1, and no request of ours asks for that.
  if (status === 101) throw protocolError('101 Switching Protocols to a request without Upgrade');
  if (status < 200) return undefined;
  const fields: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l[0] === ' ' || l[0] === '\t') {
      // obs-fold: a client replaces it with a space (RFC 9112 section 5.2), as Go does.
      const last = fields[fields.length - 1];
      const v = ows(l);
      if (!last || BAD_VALUE.test(v)) throw protocolError(`header line ${JSON.stringify(l.slice(0, 60))}`);
      last[1] = last[1] === '' ? v : v === '' ? last[1] : `${last[1]} ${v}`;
      continue;
    }
    fields.push(fieldLine(l));
  }
  // No prototype: a header named __proto__ or constructor is just a header.
  const headers: Headers = Object.create(null) as Headers;
  for (const [k, v] of fields) {
    const had = headers[k];
    headers[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  const conn = elements(headers['connection']).map((x) => x.toLowerCase());
  let keepAlive = m[1] === '1' ? !conn.includes('close') : conn.includes('keep-alive');
  const te = elements(headers['transfer-encoding']).map((x) => x.toLowerCase());
  const cl = elements(headers['content-length']);
  if (headers['content-length'] !== undefined) {
    // Repeated or listed values must agree (RFC 9110 section 8.6); Go refuses differing ones, llhttp any repeat.
    if (cl.length === 0 || !cl.every((x) => /^\d+$/.test(x) && x === cl[0]) || !Number.isSafeInteger(Number(cl[0]))) {
      throw protocolError(`content-length ${JSON.stringify(headers['content-length'])}`);
    }
  }
  let framing: Framing;
  if (method === 'HEAD' || status === 204 || status === 304) framing = { kind: 'none' };
  else if (headers['transfer-encoding'] !== undefined) {
    // Only chunked is spoken (as Go's client): any other coding, or chunked not alone, would hand out coded bytes.
    if (te.length !== 1 || te[0] !== 'chunked') throw protocolError(`unsupported transfer-encoding ${JSON.stringify(headers['transfer-encoding'])}`);
    framing = { kind: 'chunked' };
  } else if (cl.length > 0) {
    const n = Number(cl[0]);
    framing = n === 0 ? { kind: 'none' } : { kind: 'length', left: n };
  } else {
    framing = { kind: 'close' };
  }
  // Both Content-Length and Transfer-Encoding: chunked wins, and the connection is not trusted for another request.
  if (framing.kind === 'close' || (headers['transfer-encoding'] !== undefined && headers['content-length'] !== undefined)) keepAlive = false;
  return { statusCode: status, headers, framing, keepAlive };
}

/** Parses a chunk-size line (without its CRLF): hex digits, optional extensions (ignored). */
export function chunkSize(line: string): number {
  const m = /^([0-9a-fA-F]+)[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line);
  const n = m ? parseInt(m[1]!, 16) : NaN;
  if (!Number.isSafeInteger(n)) throw protocolError(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
  return n;
}
