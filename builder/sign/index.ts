/** builder/sign: cosign-compatible key pairs, signatures stored as cosign stores them, and their verification. */
export { generateKeyPair, readPrivateKey, readPublicKey, pemDecode, ENCRYPTED_SIGSTORE_LABEL, ENCRYPTED_COSIGN_LABEL, type SigningKey, type VerifyingKey } from './keys.js';
export { makePayload, signPayload, verifyPayload, parsePayload, SIGNATURE_TYPE, SIMPLESIGNING_MEDIA_TYPE, SIGNATURE_ANNOTATION, type PayloadClaims } from './payload.js';
export { signatureTag, readSignatures, appendSignature, offersReferrers, fetchSignatureManifest, SIGNATURE_ARTIFACT_TYPE, type StoredSignature, type AttachResult } from './attach.js';
export { identityMatches, parseSignedIdentity, type SignedIdentity } from './identity.js';
export { signImage, signedIdentityOf, type SignImageOptions, type SignImageResult } from './sign.js';
export { verifyImage, type VerifyImageOptions, type VerifiedImage } from './verify.js';
export { loadPolicy, checkPolicy, requirementsFor, policyScopes, type Policy, type PolicyRequirement } from './policy.js';
export { pushSigned, type PushSignedOptions } from './push.js';
