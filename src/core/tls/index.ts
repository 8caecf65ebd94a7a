export {
  describeCertificate,
  generateSelfSigned,
  loadOrCreateCertificate,
  type CertificateInfo,
  type CertificatePair,
} from './certificates.js';
