import { useState } from 'preact/hooks';
import {
  call,
  id,
  messageOf,
  type StoreInstallBody,
  type StoreListing,
  type StoreResult,
  type StoreSource,
  type StoreSourceList,
  type UpdateCheck,
} from '../api.js';
import { ErrorText, Freshness, Notice, ListTable } from '../components.js';
import { dateTime } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { AddSourceForm } from './store/add-source-form.js';
import { StoreAppRow } from './store/app-row.js';
import { OperationProgress, failureOutcome, type Outcome, type Pending } from './store/progress.js';
import { SourcesTable } from './store/sources-table.js';

/** Everything the page shows, loaded together. */
interface StoreData {
  sources: StoreSource[];
  listing: StoreListing;
  check: UpdateCheck;
}

async function loadStore(): Promise<StoreData> {
  const [sources, listing, check] = await Promise.all([
    call<StoreSourceList>('GET', '/store/sources'),
    call<StoreListing>('GET', '/store/apps'),
    call<UpdateCheck>('GET', '/store/updates'),
  ]);
  return { sources: sources.sources, listing, check };
}

/** The app stores: what they offer, install, update, downgrade, the update check, the stores. */
export function StorePage() {
  const store = usePoll(loadStore, 10_000);
  const [pending, setPending] = useState<Pending>();
  const [outcome, setOutcome] = useState<Outcome>();
  const checking = useAction();
  const data = store.data;

  const runOperation = (next: Pending, body: StoreInstallBody, path: 'install' | 'update') => {
    setPending(next);
    setOutcome(undefined);
    call<StoreResult>('POST', `/store/apps/${id(next.app)}/${path}`, body).then(
      (result) => {
        setPending(undefined);
        setOutcome({
          kind: 'ok',
          title: result.changed
            ? `${result.app} ${result.to.version} (build ${result.to.build}) ${result.from ? `installed, was ${result.from.version ?? 'no version'}` : 'installed'}: ${result.status.state}`
            : `${result.app} is at ${result.to.version} already`,
        });
        void store.reload();
      },
      (error: unknown) => {
        setPending(undefined);
        setOutcome(failureOutcome(next.app, path === 'install' ? 'Installing' : 'Updating', error));
        void store.reload();
      },
    );
  };

  const check = data?.check;
  const updates = check?.updates.length ?? 0;
  return (
    <section aria-labelledby="store-title">
      <div class="heading">
        <h1 id="store-title">App store</h1>
        <Freshness at={store.at} error={store.error} />
      </div>
      {outcome && (
        <Notice
          kind={outcome.kind}
          onDismiss={() => {
            setOutcome(undefined);
          }}
        >
          <p>{outcome.title}</p>
          {outcome.text && <p>{outcome.text}</p>}
        </Notice>
      )}
      {pending && <OperationProgress pending={pending} />}

      <div class="inline-check">
        <button
          type="button"
          disabled={checking.busy}
          onClick={() => {
            void checking
              .run(() => call<UpdateCheck>('POST', '/store/check'))
              .then((result) => {
                if (result) void store.reload();
              });
          }}
        >
          {checking.busy ? 'Checking…' : 'Check for updates'}
        </button>{' '}
        <span class="quiet" data-testid="last-check">
          {check?.checkedAt
            ? `Last checked ${dateTime(check.checkedAt)}: ${updates === 0 ? 'every app is up to date' : `${updates} update${updates === 1 ? '' : 's'} available`}.`
            : 'Not checked yet.'}
        </span>
      </div>
      <ErrorText
        message={checking.error === undefined ? undefined : `Check: ${messageOf(checking.error)}`}
      />

      {data && data.listing.errors.length > 0 && (
        <div class="warning" role="alert" data-testid="store-problems">
          <p>
            <strong>Some app stores could not be read</strong>; their apps are not listed:
          </p>
          <ul>
            {data.listing.errors.map((problem) => (
              <li key={problem.store}>
                <strong>{problem.store}</strong>: <code>{problem.code}</code> {problem.message}
              </li>
            ))}
          </ul>
        </div>
      )}

      <h2>Apps</h2>
      {data && data.listing.apps.length === 0 && (
        <p class="quiet">
          {data.sources.length === 0 ? 'Add an app store to see its apps.' : 'No app is offered.'}
        </p>
      )}
      {data && data.listing.apps.length > 0 && (
        <ListTable columns={['App', 'Description', 'Latest', 'Installed']} actions>
          {data.listing.apps.map((app) => (
            <StoreAppRow
              key={`${app.id}-${app.latest.build}`}
              app={app}
              busy={pending !== undefined}
              onRun={runOperation}
            />
          ))}
        </ListTable>
      )}

      <h2>Stores</h2>
      {data && (
        <SourcesTable
          sources={data.sources}
          onRemoved={(name) => {
            setOutcome({ kind: 'ok', title: `App store ${name} removed.` });
            void store.reload();
          }}
        />
      )}
      <AddSourceForm
        onAdded={(source) => {
          setOutcome({ kind: 'ok', title: `App store ${source.name} added.` });
          void store.reload();
        }}
      />
    </section>
  );
}
