/**
 * Which scheme each registry is spoken to with. Loopback registries speak plain HTTP. An insecure registry
 * (`--insecure-registry`, skopeo's `--tls-verify=false`) is what docker and skopeo make of it: HTTPS without
 * certificate verification, or plain HTTP when its HTTPS ping fails to connect (containers/image's
 * detectProperties). Until that ping, an insecure registry is taken to speak HTTPS; URLs built before it are
 * moved to the scheme it found (`moved`).
 */
import { apiHost, isLoopbackRegistry } from './reference.js';

export type Scheme = 'https' | 'http';

export class RegistrySchemes {
  readonly #insecure: readonly string[];
  /** The scheme each insecure registry answered on at its ping. */
  readonly #found = new Map<string, Scheme>();

  constructor(insecure: readonly string[]) {
    this.#insecure = insecure;
  }

  /** True when `registry` was named insecure and is not loopback (which is plain HTTP anyway). */
  insecure(registry: string): boolean {
    return this.#insecure.includes(registry) && !isLoopbackRegistry(registry);
  }

  /** True when `registry` is insecure and its ping has not yet found its scheme. */
  unprobed(registry: string): boolean {
    return this.insecure(registry) && !this.#found.has(registry);
  }

  /** Records the scheme `registry`'s ping answered on. */
  found(registry: string, scheme: Scheme): void {
    this.#found.set(registry, scheme);
  }

  /** Returns the base URL (`https://host` or `http://host`) for `registry`. */
  baseUrl(registry: string): string {
    if (isLoopbackRegistry(registry)) return `http://${apiHost(registry)}`;
    return `${this.#found.get(registry) ?? 'https'}://${apiHost(registry)}`;
  }

  /** Returns `url` moved to plain HTTP when it was built before the ping found that `registry` speaks HTTP only. */
  moved(url: URL, registry: string): URL {
    if (this.#found.get(registry) !== 'http' || url.protocol !== 'https:' || url.host !== apiHost(registry)) return url;
    const u = new URL(url);
    u.protocol = 'http:';
    return u;
  }

  /** True when requests to `url` skip certificate checks: an insecure registry's own HTTPS host. */
  unverified(url: URL, registry: string | undefined): boolean {
    return url.protocol === 'https:' && registry !== undefined && this.insecure(registry) && url.host === apiHost(registry);
  }
}
