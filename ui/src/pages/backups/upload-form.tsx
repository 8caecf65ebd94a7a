import { useState } from 'preact/hooks';
import { archivePath, uploadFile, type BackupEntry } from '../../api.js';
import { bytes } from '../../format.js';
import { FileField, FormCard, SubmitRow, TextField, useForm } from '../../forms.js';

/** The bytes sent so far, then that the manager checks the archive. */
function Progress(props: { share: number; file: File | undefined }) {
  const { share, file } = props;
  return (
    <div class="progress" aria-live="polite">
      <label for="upload-progress">
        {share < 1
          ? `Uploading ${file ? bytes(file.size * share) : ''}… ${Math.round(share * 100)}%`
          : 'Uploaded; checking the archive…'}
      </label>
      <progress id="upload-progress" max={1} {...(share < 1 ? { value: share } : {})} />
    </div>
  );
}

/**
 * Upload an archive (one downloaded from this or another platform) into the backup folder,
 * under its file name or another; once there it is restored like any other.
 */
export function UploadForm(props: { onUploaded: (entry: BackupEntry) => void }) {
  const [file, setFile] = useState<File>();
  const [name, setName] = useState('');
  const [share, setShare] = useState<number>();
  // A damaged file is about the file input; a taken or bad name (field `file`) about the name.
  const { action, errors } = useForm(['file', 'upload'], { BACKUP_INVALID: 'upload' });
  const target = name.trim() || file?.name || '';
  return (
    <FormCard
      labelledBy="upload-title"
      onSubmit={() => {
        if (!file || !target) return;
        setShare(0);
        void action
          .run(() => uploadFile<BackupEntry>('PUT', archivePath(target), file, setShare))
          .then((entry) => {
            setShare(undefined);
            if (entry) props.onUploaded(entry);
          });
      }}
    >
      <h2 id="upload-title">Upload an archive</h2>
      <FileField
        id="upload-archive"
        label="Archive"
        hint="A backup archive, from this platform or another; encrypted ones too"
        error={errors.field.upload}
        name="archive"
        required
        disabled={action.busy}
        onFile={(chosen) => {
          setFile(chosen);
          action.clear();
        }}
      />
      <TextField
        id="upload-name"
        label="Name in the backup folder (optional)"
        hint="Default: the file's name. An existing archive is never replaced."
        error={errors.field.file}
        value={name}
        disabled={action.busy}
        placeholder={file?.name}
        onValue={setName}
      />
      {share !== undefined && <Progress share={share} file={file} />}
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        disabled={!file}
        label="Upload"
        busyLabel="Uploading…"
      />
    </FormCard>
  );
}
