export {
  describeCertificate,
  generateSelfSigned,
  loadOrCreateCertificate,
  tlsServerOptions,
  type CertificateInfo,
  type CertificatePair,
} from './certificates.js';
export {
  CertificateStore,
  validateCertificate,
  type CertificateStatus,
} from './certificate-store.js';
