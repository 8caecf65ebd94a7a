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
import { ErrorText, ListTable, PageHeading, useNotice, type PageNotice } from '../components.js';
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

/** What an install or update that ended well tells. */
function resultTitle(result: StoreResult): string {
  return result.changed
    ? `${result.app} ${result.to.version} (build ${result.to.build}) ${result.from ? `installed, was ${result.from.version ?? 'no version'}` : 'installed'}: ${result.status.state}`
    : `${result.app} is at ${result.to.version} already`;
}

/**
 * The page's one install or update at a time: `pending` while it runs, its outcome told in
 * `outcome`, the page reloaded (`reload`) when it ended either way.
 */
function useOperation(outcome: PageNotice<Outcome>, reload: () => Promise<void>) {
  const [pending, setPending] = useState<Pending>();
  const run = (next: Pending, body: StoreInstallBody, path: 'install' | 'update') => {
    setPending(next);
    outcome.clear();
    call<StoreResult>('POST', `/store/apps/${id(next.app)}/${path}`, body).then(
      (result) => {
        setPending(undefined);
        outcome.show({ kind: 'ok', title: resultTitle(result) });
        void reload();
      },
      (error: unknown) => {
        setPending(undefined);
        outcome.show(
          failureOutcome(next.app, path === 'install' ? 'Installing' : 'Updating', error),
        );
        void reload();
      },
    );
  };
  return { pending, run };
}

/** The button that asks the stores for updates now, and when they were last asked. */
function CheckForUpdates(props: { check: UpdateCheck | undefined; onChecked: () => void }) {
  const checking = useAction();
  const { check } = props;
  const updates = check?.updates.length ?? 0;
  return (
    <>
      <div class="inline-check">
        <button
          type="button"
          disabled={checking.busy}
          onClick={() => {
            void checking
              .run(() => call<UpdateCheck>('POST', '/store/check'))
              .then((result) => {
                if (result) props.onChecked();
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
    </>
  );
}

/** The stores that could not be read: their apps are missing from the list. */
function StoreProblems(props: { errors: StoreListing['errors'] }) {
  if (props.errors.length === 0) return null;
  return (
    <div class="warning" role="alert" data-testid="store-problems">
      <p>
        <strong>Some app stores could not be read</strong>; their apps are not listed:
      </p>
      <ul>
        {props.errors.map((problem) => (
          <li key={problem.store}>
            <strong>{problem.store}</strong>: <code>{problem.code}</code> {problem.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The app stores: what they offer, install, update, downgrade, the update check, the stores. */
export function StorePage() {
  const store = usePoll(loadStore, 10_000);
  const outcome = useNotice((shown: Outcome) => ({
    kind: shown.kind,
    children: (
      <>
        <p>{shown.title}</p>
        {shown.text && <p>{shown.text}</p>}
      </>
    ),
  }));
  const operation = useOperation(outcome, store.reload);
  const data = store.data;
  const told = (title: string) => {
    outcome.show({ kind: 'ok', title });
    void store.reload();
  };

  return (
    <section aria-labelledby="store-title">
      <PageHeading id="store-title" at={store.at} error={store.error}>
        App store
      </PageHeading>
      {outcome.view}
      {operation.pending && <OperationProgress pending={operation.pending} />}
      <CheckForUpdates
        check={data?.check}
        onChecked={() => {
          void store.reload();
        }}
      />
      {data && <StoreProblems errors={data.listing.errors} />}

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
              busy={operation.pending !== undefined}
              onRun={operation.run}
            />
          ))}
        </ListTable>
      )}

      <h2>Stores</h2>
      {data && (
        <SourcesTable
          sources={data.sources}
          onRemoved={(name) => {
            told(`App store ${name} removed.`);
          }}
        />
      )}
      <AddSourceForm
        onAdded={(source) => {
          told(`App store ${source.name} added.`);
        }}
      />
    </section>
  );
}
