/**
 * S3-compatible targets (AWS, MinIO, Ceph RGW) through the AWS SDK: a streamed multipart
 * upload (lib-storage) whose parts are the only buffers, so memory stays constant whatever the
 * archive's size.
 */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppvisorError } from '../errors/index.js';
import { remoteError, type ByteRange, type RemoteObject, type RemoteStore } from './remote.js';

/** Bytes of one part: at most 10,000 parts make a 100 GiB archive. */
const partSize = 10 * 1024 * 1024;
/** Parts uploaded at once; with the one being filled, about 3 parts are held in memory. */
const queueSize = 2;
/** Objects listed at most (a target holds archives, not millions of files). */
const maxObjects = 100_000;

/** Where and how an S3 target is reached. */
export interface S3Settings {
  name: string;
  bucket: string;
  /** Key prefix without leading or trailing `/`; empty for the bucket's root. */
  prefix: string;
  /** `http(s)://host:port` for MinIO, Ceph and others; AWS's from the region when absent. */
  endpoint?: string;
  region: string;
  /** Path-style addressing (`host/bucket/key`), which MinIO and most Ceph setups need. */
  pathStyle: boolean;
  accessKey: string;
  secretKey: string;
}

function statusOf(error: unknown): { status?: number; detail?: string } {
  if (error instanceof S3ServiceException) {
    return { status: error.$metadata.httpStatusCode, detail: error.name };
  }
  return {};
}

/** An S3 bucket (and prefix) as a {@link RemoteStore}. */
export function s3Store(settings: S3Settings): RemoteStore {
  const client = new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.pathStyle,
    credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey },
    // Checksums only where S3 demands them: many S3-compatible servers refuse the newer
    // trailing checksums of a streamed body.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
  });
  const { bucket, name } = settings;
  const keyOf = (key: string) => (settings.prefix ? `${settings.prefix}/${key}` : key);
  const fail = (operation: string, error: unknown) => {
    const { status, detail } = statusOf(error);
    return remoteError(name, operation, error, status, detail);
  };

  return {
    async put(key, body) {
      // lib-storage takes a `size` property of the body for its length (the archive's counter
      // has one, 0 at the start): it gets a plain stream of unknown length instead.
      const plain = new PassThrough();
      pipeline(body, plain).catch(() => undefined);
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: keyOf(key), Body: plain },
        partSize,
        queueSize,
        // Aborted below instead: lib-storage's own abort throws its error (a server without
        // AbortMultipartUpload answers 405) in place of the one that made the upload fail.
        leavePartsOnError: true,
      });
      try {
        await upload.done();
      } catch (error) {
        body.destroy();
        plain.destroy();
        await upload.abort().catch(() => undefined);
        // A failed upload is aborted, so no part is left behind to be billed or completed.
        const { uploadId } = upload as unknown as { uploadId?: string };
        if (uploadId) {
          await client
            .send(
              new AbortMultipartUploadCommand({
                Bucket: bucket,
                Key: keyOf(key),
                UploadId: uploadId,
              }),
            )
            .catch(() => undefined);
        }
        throw fail(`upload of ${key}`, error);
      }
    },

    async list() {
      const objects: RemoteObject[] = [];
      const root = settings.prefix ? `${settings.prefix}/` : '';
      let token: string | undefined;
      do {
        const page = await client
          .send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: root, ContinuationToken: token }),
          )
          .catch((error: unknown) => {
            throw fail('listing', error);
          });
        for (const item of page.Contents ?? []) {
          const key = (item.Key ?? '').slice(root.length);
          if (!key || key.split('/').some((part) => part.startsWith('.'))) continue;
          objects.push({
            key,
            size: item.Size ?? 0,
            modifiedAt: (item.LastModified ?? new Date(0)).toISOString(),
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token && objects.length < maxObjects);
      return objects;
    },

    async get(key, range?: ByteRange) {
      try {
        const answer = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: keyOf(key),
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        );
        return answer.Body as Readable;
      } catch (error) {
        if (error instanceof S3ServiceException && error.name === 'NoSuchKey') {
          throw new AppvisorError('BACKUP_NOT_FOUND', `no backup ${key} on target ${name}`);
        }
        throw fail(`download of ${key}`, error);
      }
    },

    async remove(key) {
      await client
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(key) }))
        .catch((error: unknown) => {
          throw fail(`removal of ${key}`, error);
        });
    },

    close() {
      client.destroy();
    },
  };
}
