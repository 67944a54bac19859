/** Loggers are injected, never global. `--debug` attaches stderrLogger. */
export interface Logger {
  debug(msg: string, data?: Readonly<Record<string, unknown>>): void;
  info(msg: string, data?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, data?: Readonly<Record<string, unknown>>): void;
}

export const noopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

/** A Logger that writes `level: msg {json}` lines to `out` (stderr by default). */
export function stderrLogger(out: { write(s: string): unknown } = process.stderr): Logger {
  const w = (lvl: string) => (msg: string, data?: Readonly<Record<string, unknown>>) => {
    out.write(`${lvl}: ${msg}${data ? ' ' + JSON.stringify(data) : ''}\n`);
  };
  return { debug: w('debug'), info: w('info'), warn: w('warn') };
}

const SECRET_PARAMS = /^(access_token|token|password|passwd|secret|sig|signature|x-amz-signature|x-amz-credential|x-goog-signature|_state)$/i;

/** Returns `url` with userinfo and secret-looking query values replaced by `REDACTED`. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return String(url);
  }
  if (u.username) u.username = 'REDACTED';
  if (u.password) u.password = 'REDACTED';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(k)) u.searchParams.set(k, 'REDACTED');
  return u.toString();
}

/** Returns a copy of `headers` with Authorization, cookies and tokens redacted. */
export function redactHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = /^(authorization|proxy-authorization|cookie|set-cookie|x-registry-auth)$/i.test(k) ? 'REDACTED' : String(v);
  }
  return out;
}
