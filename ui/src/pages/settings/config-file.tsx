import { useState } from 'preact/hooks';
import {
  call,
  type ConfigDocument,
  type ConfigExportBody,
  type ConfigImportBody,
  type ImportResult,
} from '../../api.js';
import { ErrorText } from '../../components.js';
import { Field, formErrors } from '../../forms.js';
import { useAction } from '../../hooks.js';

/** Offers a document as a file download, named as the API names it. */
function download(document_: ConfigDocument): void {
  const name = (document_.source ?? 'appvisor').replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 60);
  const day = (document_.exportedAt ?? new Date().toISOString()).slice(0, 10);
  const blob = new Blob([`${JSON.stringify(document_, null, 2)}\n`], {
    type: 'application/json',
  });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `appvisor-config-${name}-${day}.json`;
  link.click();
  setTimeout(() => {
    URL.revokeObjectURL(link.href);
  }, 10_000);
}

function PassphraseField(props: {
  id: string;
  hint: string;
  value: string;
  error: string | undefined;
  onInput: (value: string) => void;
}) {
  return (
    <Field id={props.id} label="Passphrase" hint={props.hint} error={props.error}>
      {(aria) => (
        <input
          {...aria}
          type="password"
          autocomplete="new-password"
          value={props.value}
          onInput={(event) => {
            props.onInput(event.currentTarget.value);
          }}
        />
      )}
    </Field>
  );
}

function ExportForm(props: { onDone: (text: string) => void }) {
  const [secrets, setSecrets] = useState(false);
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  const errors = formErrors(action.error, ['passphrase']);
  return (
    <form
      aria-labelledby="config-export-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: ConfigExportBody = secrets
          ? { includeSecrets: true, passphrase }
          : { includeSecrets: false };
        void action
          .run(() => call<ConfigDocument>('POST', '/config/export', body))
          .then((document_) => {
            if (!document_) return;
            download(document_);
            props.onDone('The configuration file was downloaded.');
          });
      }}
    >
      <h3 id="config-export-title">Download</h3>
      <label class="check">
        <input
          type="checkbox"
          checked={secrets}
          onChange={(event) => {
            setSecrets(event.currentTarget.checked);
          }}
        />{' '}
        Include the certificate, instance passwords and backup target credentials (encrypted)
      </label>
      {secrets && (
        <PassphraseField
          id="config-export-passphrase"
          hint="At least 8 characters; needed again to import the file"
          value={passphrase}
          error={errors.field.passphrase}
          onInput={setPassphrase}
        />
      )}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Exporting…' : 'Download configuration'}
        </button>
      </div>
    </form>
  );
}

/** The plan of an import: one line per change, as the CLI prints it. */
function PlanList(props: { result: ImportResult }) {
  const work = props.result.changes.filter((change) => change.action !== 'keep');
  if (work.length === 0) return <p data-testid="config-plan">Nothing to change.</p>;
  return (
    <div data-testid="config-plan">
      <p>
        {work.length} change{work.length === 1 ? '' : 's'}
        {props.result.dryRun ? ' would be made:' : ' were made:'}
      </p>
      <pre class="plan">{props.result.changes.map((change) => change.text).join('\n')}</pre>
    </div>
  );
}

function ImportForm(props: { onDone: (text: string) => void }) {
  const [file, setFile] = useState<File>();
  const [passphrase, setPassphrase] = useState('');
  const [plan, setPlan] = useState<ImportResult>();
  const action = useAction();
  const errors = formErrors(action.error, ['passphrase']);
  const send = (dryRun: boolean) =>
    action.run(async () => {
      const body: ConfigImportBody = { file: await file!.text(), dryRun };
      if (passphrase) body.passphrase = passphrase;
      return call<ImportResult>('POST', '/config/import', body);
    });
  const canApply = plan?.dryRun && plan.changes.some((change) => change.action !== 'keep');
  return (
    <form
      aria-labelledby="config-import-title"
      onSubmit={(event) => {
        event.preventDefault();
        void send(true).then((result) => {
          if (result) setPlan(result);
        });
      }}
    >
      <h3 id="config-import-title">Upload</h3>
      <Field
        id="config-import-file"
        label="File to import"
        hint="Checked first; nothing changes until you apply it. Adds and changes, never removes."
      >
        {(aria) => (
          <input
            {...aria}
            type="file"
            accept=".json,application/json"
            required
            onChange={(event) => {
              setFile(event.currentTarget.files?.[0]);
              setPlan(undefined);
              action.clear();
            }}
          />
        )}
      </Field>
      <PassphraseField
        id="config-import-passphrase"
        hint="Only for a file with secrets"
        value={passphrase}
        error={errors.field.passphrase}
        onInput={setPassphrase}
      />
      <ErrorText message={errors.form} />
      {plan && <PlanList result={plan} />}
      <div class="actions">
        <button type="submit" disabled={action.busy || !file}>
          {action.busy && !plan ? 'Checking…' : 'Check'}
        </button>
        <button
          type="button"
          class="primary"
          disabled={action.busy || !canApply}
          onClick={() => {
            void send(false).then((result) => {
              if (!result) return;
              setPlan(result);
              props.onDone('The configuration was imported.');
            });
          }}
        >
          Apply
        </button>
      </div>
    </form>
  );
}

/** Download and upload of the configuration file (`appvisor config export|import`). */
export function ConfigFileSection(props: { onDone: (text: string) => void }) {
  return (
    <div class="card" role="group" aria-labelledby="config-file-title">
      <h2 id="config-file-title">Configuration file</h2>
      <p class="hint">
        Settings, app stores, apps, instances, backup targets and the backup schedule as one JSON
        file: to move or rename the platform, or to keep its set-up. Instance data is in backups,
        not here.
      </p>
      <div class="columns">
        <ExportForm onDone={props.onDone} />
        <ImportForm onDone={props.onDone} />
      </div>
    </div>
  );
}
