/** registry-client: the OCI distribution API over undici (pull, push, auth, tags, delete). Imports only layer-store/core. */
export { parseReference, formatReference, apiHost, isLoopbackRegistry, withDigest, DOCKER_HUB, DOCKER_HUB_API, type Reference } from './reference.js';
export {
  Credential, anonymousKeychain, staticKeychain, dockerKeychain, dockerConfigDir, dockerConfigKey, credentialHelperGet,
  saveDockerCredential, removeDockerCredential, type Keychain,
} from './keychain.js';
export { RegistryClient, DEFAULT_CHUNK_SIZE, DEFAULT_UPLOAD_CONCURRENCY, nextLink, type RegistryClientOptions } from './client.js';
export { RegistrySource, resolveImage, selectPlatform, MANIFEST_ACCEPT, type ResolvedImage } from './source.js';
export { RegistryDestination, type PutBlobOptions } from './destination.js';
export { DEFAULT_RETRY_POLICY, backoffDelay, parseRetryAfter, type RetryPolicy } from './retry.js';
export { parseChallenge, grantedScopes } from './challenge.js';
export { RegistryError, AuthError, InvalidReferenceError, InvalidManifestError, UnsupportedManifestError, UploadLostError, CredentialError, REGISTRY_REFERENCE_HINT, BlobDownloadError } from './errors.js';
export { webFetch } from './web-fetch.js';
export { readCaFile } from './dispatchers.js';
