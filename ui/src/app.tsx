import { useEffect, useState } from 'preact/hooks';
import { call, messageOf, whenUnauthorized, type PlatformSettings } from './api.js';
import { ErrorText, Link } from './components.js';
import { AlarmsPage } from './pages/alarms.js';
import { AppPage } from './pages/app.js';
import { AppsPage } from './pages/apps.js';
import { BackupsPage } from './pages/backups.js';
import { InstancePage } from './pages/instance.js';
import { InstancesPage } from './pages/instances.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { SettingsPage } from './pages/settings.js';
import { StorePage } from './pages/store.js';
import { navigate, useRoute } from './router.js';

type Session = { state: 'checking' } | { state: 'out'; message?: string } | { state: 'in' };

const sections = [
  { route: '/', label: 'Overview' },
  { route: '/apps', label: 'Apps' },
  { route: '/instances', label: 'Instances' },
  { route: '/backups', label: 'Backups' },
  { route: '/alarms', label: 'Alarms' },
  { route: '/store', label: 'App store' },
  { route: '/settings', label: 'Settings' },
] as const;

function sectionOf(route: string): string {
  const first = `/${route.split('/')[1] ?? ''}`;
  return sections.some((s) => s.route === first) ? first : '/';
}

function Page(props: { route: string; onLoggedOut: (message: string) => void }) {
  const parts = props.route.split('/').filter(Boolean).map(decodeURIComponent);
  const [section, id] = parts;
  if (section === undefined) return <OverviewPage />;
  if (section === 'apps' && id !== undefined) return <AppPage id={id} />;
  if (section === 'apps') return <AppsPage />;
  if (section === 'instances' && id !== undefined) return <InstancePage id={id} />;
  if (section === 'instances') return <InstancesPage />;
  if (section === 'backups') return <BackupsPage />;
  if (section === 'alarms') return <AlarmsPage />;
  if (section === 'store') return <StorePage />;
  if (section === 'settings') return <SettingsPage onLoggedOut={props.onLoggedOut} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{props.route}</code>. <Link to="/">Go to the overview</Link>.
      </p>
    </section>
  );
}

/** The admin UI: the login until there is a session, then the pages. */
export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session>({ state: 'checking' });
  const [label, setLabel] = useState('');
  const [logoutError, setLogoutError] = useState<string>();

  useEffect(() => {
    whenUnauthorized((message) => {
      setSession({ state: 'out', message });
    });
    call('GET', '/auth/session').then(
      () => {
        setSession({ state: 'in' });
      },
      (error: unknown) => {
        setSession({
          state: 'out',
          ...((error as { code?: string }).code === 'UNAUTHORIZED'
            ? {}
            : { message: messageOf(error) }),
        });
      },
    );
  }, []);

  useEffect(() => {
    if (session.state !== 'in') return;
    call<PlatformSettings>('GET', '/settings').then(
      (settings) => {
        setLabel(settings.label);
      },
      () => undefined,
    );
  }, [session.state, route]);

  useEffect(() => {
    const name = sections.find((s) => s.route === sectionOf(route))?.label ?? 'appvisor';
    document.title = `${session.state === 'in' ? name : 'Log in'} · ${label || 'appvisor'}`;
  }, [route, session.state, label]);

  if (session.state === 'checking') return <p class="loading">Loading…</p>;
  if (session.state === 'out') {
    return (
      <LoginPage
        message={session.message}
        onLoggedIn={() => {
          setSession({ state: 'in' });
          if (route === '/login') navigate('/', { replace: true });
        }}
      />
    );
  }

  const logout = () => {
    setLogoutError(undefined);
    call('POST', '/auth/logout').then(
      () => {
        setSession({ state: 'out', message: 'You are logged out.' });
      },
      (error: unknown) => {
        setLogoutError(messageOf(error));
      },
    );
  };
  const current = sectionOf(route);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <Link to="/">appvisor</Link>
          {label && <span class="label">{label}</span>}
        </div>
        <nav aria-label="Sections">
          <ul>
            {sections.map((s) => (
              <li key={s.route}>
                <a
                  href={`/manager${s.route}`}
                  aria-current={current === s.route ? 'page' : undefined}
                  onClick={(event) => {
                    if (event.button !== 0 || event.metaKey || event.ctrlKey) return;
                    event.preventDefault();
                    navigate(s.route);
                  }}
                >
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorText message={logoutError && `Logging out failed: ${logoutError}`} />
        <Page
          key={route}
          route={route}
          onLoggedOut={(message) => {
            setSession({ state: 'out', message });
          }}
        />
      </main>
    </>
  );
}
