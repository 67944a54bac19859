import { TsbuildError, redactUrl, type TsbuildErrorOptions } from '../layer-store/core/index.js';
import type { ProxySetting } from './proxy.js';

// One InvalidReferenceError, InvalidManifestError and UnsupportedManifestError for the store and the client (layer-store/core).
export { InvalidReferenceError, InvalidManifestError, UnsupportedManifestError } from '../layer-store/core/index.js';

/** How a registry reference is written (the hint of InvalidReferenceError from parseReference). */
export const REGISTRY_REFERENCE_HINT = 'write [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST] with a lowercase name, e.g. alpine:3.20 or localhost:5000/team/app:v1';

export interface RegistryErrorInit {
  readonly status: number;
  /** `errors[0].code` of the distribution JSON body, or '' when the body was not JSON. */
  readonly code: string;
  readonly detail?: string;
  readonly method: string;
  readonly url: string | URL;
  readonly retryable: boolean;
  readonly ref?: string;
  readonly hint?: string;
  readonly cause?: unknown;
}

/** A registry answered with an unexpected status (or the connection failed: status 0). */
export class RegistryError extends TsbuildError {
  readonly status: number;
  readonly registryCode: string;
  readonly method: string;
  /** The request URL, redacted (no credentials, no `_state`, no tokens). */
  readonly url: string;
  readonly retryable: boolean;
  constructor(message: string, init: RegistryErrorInit) {
    const url = redactUrl(init.url);
    const o: TsbuildErrorOptions = {
      hint: init.hint ?? defaultHint(init.status, init.code),
      ...(init.ref !== undefined ? { location: { ref: init.ref } } : {}),
      ...(init.cause !== undefined ? { cause: init.cause } : {}),
    };
    super('REGISTRY', `${message}: ${init.method} ${url} → ${init.status === 0 ? 'no response' : init.status}${init.code ? ' ' + init.code : ''}${init.detail ? ' (' + init.detail.slice(0, 300) + ')' : ''}`, o);
    this.name = 'RegistryError';
    this.status = init.status;
    this.registryCode = init.code;
    this.method = init.method;
    this.url = url;
    this.retryable = init.retryable;
  }
}

/** Node's error codes for a TLS certificate that does not verify (retrying cannot help). */
export const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REVOKED',
]);

function defaultHint(status: number, code: string): string {
  if (status === 0 && TLS_TRUST_CODES.has(code)) return 'the registry\'s TLS certificate is not trusted: pass its CA certificate with --ca-file FILE (or SSL_CERT_FILE), or fix the certificate';
  if (status === 0) return 'check that the registry is reachable (network, proxy, --insecure-registry for plain HTTP)';
  if (status === 404) return code === 'NAME_UNKNOWN' ? 'the repository does not exist on this registry' : 'the reference or blob does not exist on this registry';
  if (status === 429) return 'the registry is rate-limiting; wait and retry, or log in to raise the limit';
  if (status >= 500) return 'the registry failed; retry later (for a malformed reference some registries answer 500)';
  if (status === 405) return 'the registry does not allow this operation (deletion may be disabled)';
  return 'see the registry\'s error code above';
}

/** Authentication or authorisation failed; the message says, in one line, which credentials and scopes were involved. */
export class AuthError extends TsbuildError {
  readonly status: number;
  readonly registry: string;
  readonly source: string;
  readonly requestedScopes: readonly string[];
  readonly grantedScopes: readonly string[] | undefined;
  constructor(init: {
    status: number; registry: string; source: string; requested: readonly string[];
    granted: readonly string[] | undefined; detail?: string; ref?: string; cause?: unknown;
  }) {
    const granted = init.granted === undefined ? 'no token' : init.granted.length ? init.granted.join(' ') : 'nothing';
    const msg = `${init.status === 403 ? 'access denied' : 'authentication failed'} for ${init.registry} (${init.status || 'token error'}${init.detail ? ' ' + init.detail.slice(0, 200) : ''}): credentials: ${init.source}; requested scopes: ${init.requested.length ? init.requested.join(' ') : 'none'}; granted: ${granted}`;
    super('AUTH', msg, {
      hint: init.source === 'anonymous'
        ? `log in first: tsbuild login ${init.registry}`
        : `check the credentials (tsbuild login ${init.registry}) and that the account may access the requested repository`,
      ...(init.ref !== undefined ? { location: { ref: init.ref } } : {}),
      ...(init.cause !== undefined ? { cause: init.cause } : {}),
    });
    this.name = 'AuthError';
    this.status = init.status;
    this.registry = init.registry;
    this.source = init.source;
    this.requestedScopes = init.requested;
    this.grantedScopes = init.granted;
  }
}

/** An upload session was lost (the registry forgot it or the URL went stale); the upload must restart from byte 0. */
export class UploadLostError extends TsbuildError {
  constructor(readonly digest: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('REGISTRY', `upload of ${digest} was lost by the registry: ${detail}`, {
      hint: 'retry the push; a blob source that can be reopened lets tsbuild restart the upload itself',
      ...o,
    });
    this.name = 'UploadLostError';
  }
}

/** A blob download broke off on every attempt the retry policy allows; nothing of the blob was stored. */
export class BlobDownloadError extends TsbuildError {
  constructor(readonly digest: string, readonly registry: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('REGISTRY', `blob ${digest} could not be downloaded from ${registry}: ${detail}`, {
      hint: 'the registry or a proxy in front of it cuts the transfer short every time; check the network and any proxy, then retry (nothing of the blob was stored)',
      ...o,
    });
    this.name = 'BlobDownloadError';
  }
}

/** A credential helper or config.json could not be used. */
export class CredentialError extends TsbuildError {
  constructor(message: string, hint: string, o: TsbuildErrorOptions = {}) {
    super('AUTH', message, { hint, ...o });
    this.name = 'CredentialError';
  }
}

/** A RegistryError for a request that got no response; `via` names the proxy it went through. */
export function connectionError(spec: { method: string; url: URL; what: string; ref?: string | undefined }, e: unknown, via: ProxySetting | undefined): RegistryError {
  const code = (e as { code?: string }).code ?? '';
  return new RegistryError(`${spec.what}${viaProxy(via)} (${(e as Error).message ?? String(e)})`, {
    status: 0, code, method: spec.method, url: spec.url, retryable: !TLS_TRUST_CODES.has(code), cause: e, ...(spec.ref ? { ref: spec.ref } : {}),
  });
}

/** ` via proxy URL from VARIABLE` for messages about a request sent through a proxy; empty for a direct one. */
export function viaProxy(via: ProxySetting | undefined): string {
  return via ? ` via proxy ${redactUrl(via.url)} from ${via.variable}` : '';
}
