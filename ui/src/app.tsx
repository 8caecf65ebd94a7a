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

/**
 * The admin session: checked at start, ended when the API answers 401 anywhere (then the
 * login page shows why). `loggedOut` ends it with a message; `loggedIn` starts it.
 */
function useSession() {
  const [session, setSession] = useState<Session>({ state: 'checking' });
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
  return {
    session,
    loggedIn: () => {
      setSession({ state: 'in' });
    },
    loggedOut: (message: string) => {
      setSession({ state: 'out', message });
    },
  };
}

/** The platform's label, read again on every page while logged in. */
function usePlatformLabel(loggedIn: boolean, route: string): string {
  const [label, setLabel] = useState('');
  useEffect(() => {
    if (!loggedIn) return;
    call<PlatformSettings>('GET', '/settings').then(
      (settings) => {
        setLabel(settings.label);
      },
      () => undefined,
    );
  }, [loggedIn, route]);
  return label;
}

/** The bar at the top: the brand and label, the sections, and Log out. */
function TopBar(props: { label: string; current: string; onLogout: () => void }) {
  return (
    <header class="top">
      <div class="brand">
        <Link to="/">appvisor</Link>
        {props.label && <span class="label">{props.label}</span>}
      </div>
      <nav aria-label="Sections">
        <ul>
          {sections.map((s) => (
            <li key={s.route}>
              <a
                href={`/manager${s.route}`}
                aria-current={props.current === s.route ? 'page' : undefined}
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
      <button type="button" class="logout" onClick={props.onLogout}>
        Log out
      </button>
    </header>
  );
}

/** The admin UI: the login until there is a session, then the pages. */
export function App() {
  const route = useRoute();
  const { session, loggedIn, loggedOut } = useSession();
  const label = usePlatformLabel(session.state === 'in', route);
  const [logoutError, setLogoutError] = useState<string>();

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
          loggedIn();
          if (route === '/login') navigate('/', { replace: true });
        }}
      />
    );
  }

  const logout = () => {
    setLogoutError(undefined);
    call('POST', '/auth/logout').then(
      () => {
        loggedOut('You are logged out.');
      },
      (error: unknown) => {
        setLogoutError(messageOf(error));
      },
    );
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <TopBar label={label} current={sectionOf(route)} onLogout={logout} />
      <main id="main" tabIndex={-1}>
        <ErrorText message={logoutError && `Logging out failed: ${logoutError}`} />
        <Page key={route} route={route} onLoggedOut={loggedOut} />
      </main>
    </>
  );
}
