import { useState } from 'preact/hooks';
import {
  call,
  id,
  messageOf,
  type BackupTarget,
  type BackupTargetBody,
  type BackupTargetList,
  type TargetTest,
} from '../../api.js';
import { ListTable } from '../../components.js';
import { FormCard, SelectField, SubmitRow, TextField, useForm } from '../../forms.js';
import type { Polled } from '../../hooks.js';

/** The targets, each with Test and Remove; what the last of those said. */
function TargetsTable(props: { targets: BackupTarget[]; onChanged: () => void }) {
  const [said, setSaid] = useState<{ name: string; text: string; ok: boolean }>();
  const act = async (target: BackupTarget, how: 'test' | 'remove') => {
    try {
      if (how === 'test') {
        const done = await call<TargetTest>('POST', `/backup-targets/${id(target.name)}/test`);
        setSaid({ name: target.name, ok: true, text: `works (${done.ms} ms)` });
      } else {
        await call('DELETE', `/backup-targets/${id(target.name)}`);
        setSaid(undefined);
        props.onChanged();
      }
    } catch (error) {
      setSaid({ name: target.name, ok: false, text: messageOf(error) });
    }
  };
  return (
    <ListTable
      columns={['Name', 'Kind', 'URL', 'Endpoint', 'Credentials', 'Test']}
      actions
      labelledBy="targets-title"
    >
      {props.targets.map((target) => (
        <tr key={target.name} data-target={target.name}>
          <th scope="row" data-label="Name">
            {target.name}
          </th>
          <td data-label="Kind">{target.kind === 's3' ? 'S3' : 'WebDAV'}</td>
          <td data-label="URL">
            <code class="wrap">{target.url}</code>
          </td>
          <td data-label="Endpoint">
            {target.endpoint ?? (target.kind === 's3' ? `AWS ${target.region ?? ''}` : '')}
          </td>
          <td data-label="Credentials">{target.credentials ? 'set' : 'none'}</td>
          <td data-label="Test" role="status">
            {said?.name === target.name && (
              <span class={said.ok ? 'quiet' : 'error'}>{said.text}</span>
            )}
          </td>
          <td>
            <div class="buttons">
              <button type="button" onClick={() => void act(target, 'test')}>
                Test
              </button>
              <button
                type="button"
                aria-label={`Remove ${target.name}`}
                onClick={() => void act(target, 'remove')}
              >
                Remove
              </button>
            </div>
          </td>
        </tr>
      ))}
    </ListTable>
  );
}

/** Adds a target: S3 (bucket URL, endpoint, region, keys) or WebDAV (folder URL, user, password). */
function AddTargetForm(props: { onAdded: (target: BackupTarget) => void }) {
  const [kind, setKind] = useState<'s3' | 'webdav'>('s3');
  const [fields, setFields] = useState<Record<string, string>>({});
  const { action, errors } = useForm([
    'name',
    'url',
    'endpoint',
    'region',
    'accessKey',
    'secretKey',
    'user',
    'password',
  ]);
  const field = (name: string, label: string, hint?: string, secret = false) => (
    <TextField
      id={`target-${name}`}
      label={label}
      {...(hint ? { hint } : {})}
      error={errors.field[name]}
      value={fields[name] ?? ''}
      disabled={action.busy}
      {...(secret ? { type: 'password', autocomplete: 'new-password' } : {})}
      onValue={(value) => {
        setFields({ ...fields, [name]: value });
      }}
    />
  );
  return (
    <FormCard
      labelledBy="target-add-title"
      onSubmit={() => {
        const keys =
          kind === 's3'
            ? ['name', 'url', 'endpoint', 'region', 'accessKey', 'secretKey']
            : ['name', 'url', 'user', 'password'];
        const body: Record<string, string> = {};
        for (const key of keys) {
          const value = (fields[key] ?? '').trim();
          if (value) body[key] = value;
        }
        void action
          .run(() =>
            call<BackupTarget>('POST', '/backup-targets', body as unknown as BackupTargetBody),
          )
          .then((target) => {
            if (!target) return;
            // The credentials are not kept in the page once stored.
            setFields({});
            props.onAdded(target);
          });
      }}
    >
      <h3 id="target-add-title">Add a target</h3>
      <SelectField
        id="target-kind"
        label="Kind"
        value={kind}
        disabled={action.busy}
        options={[
          ['s3', 'S3-compatible (AWS, MinIO, Ceph)'],
          ['webdav', 'WebDAV (https)'],
        ]}
        onValue={setKind}
      />
      {field('name', 'Name')}
      {kind === 's3'
        ? field('url', 'Bucket', 's3://bucket/prefix')
        : field('url', 'Folder URL', 'https://host/path/to/folder (it must exist)')}
      {kind === 's3' &&
        field('endpoint', 'Endpoint (optional)', 'MinIO, Ceph: http(s)://host:port; empty for AWS')}
      {kind === 's3' && field('region', 'Region (optional)', 'Default us-east-1')}
      {kind === 's3' && field('accessKey', 'Access key')}
      {kind === 's3' &&
        field('secretKey', 'Secret key', 'Stored encrypted, never shown again', true)}
      {kind === 'webdav' && field('user', 'User (optional)')}
      {kind === 'webdav' &&
        field('password', 'Password', 'Stored encrypted, never shown again', true)}
      <SubmitRow error={errors.form} busy={action.busy} label="Add target" busyLabel="Adding…" />
    </FormCard>
  );
}

/** Remote targets: where backups can go off the machine (docs/backups.md#remote-targets). */
export function TargetsSection(props: { targets: Polled<BackupTargetList> }) {
  const { targets } = props;
  const list = targets.data?.targets ?? [];
  return (
    <section aria-labelledby="targets-title">
      <h2 id="targets-title">Remote targets</h2>
      {list.length === 0 ? (
        <p class="quiet">
          No remote target: archives stay in the backup folder. Add an S3 bucket or a WebDAV folder
          to send backups off the machine.
        </p>
      ) : (
        <TargetsTable targets={list} onChanged={() => void targets.reload()} />
      )}
      <AddTargetForm onAdded={() => void targets.reload()} />
    </section>
  );
}

/** A select of where archives are (the backup folder, or a target), for the page's forms. */
export function TargetSelect(props: {
  id: string;
  label: string;
  targets: BackupTarget[];
  value: string;
  disabled?: boolean;
  onValue: (value: string) => void;
}) {
  return (
    <SelectField
      id={props.id}
      label={props.label}
      value={props.value}
      disabled={Boolean(props.disabled)}
      options={[
        ['', 'the backup folder'],
        ...props.targets.map((target) => [target.name, target.name] as const),
      ]}
      onValue={props.onValue}
    />
  );
}
