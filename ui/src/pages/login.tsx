import { useState } from 'preact/hooks';
import { call, type LoginAnswer } from '../api.js';
import { ErrorText, Field, formErrors } from '../components.js';
import { useAction } from '../hooks.js';

/** The admin password form; the manager answers with the session cookie. */
export function LoginPage(props: { message: string | undefined; onLoggedIn: () => void }) {
  const [password, setPassword] = useState('');
  const action = useAction();
  // Every refusal of a login is about the password (wrong, or too many tries).
  const errors = formErrors(action.error, ['password'], {
    LOGIN_FAILED: 'password',
    RATE_LIMITED: 'password',
  });
  const passwordError = errors.field.password;
  return (
    <main class="login" id="main">
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault();
          void action
            .run(() => call<LoginAnswer>('POST', '/auth/login', { password }))
            .then((answer) => {
              if (answer) props.onLoggedIn();
            });
        }}
      >
        <h1>appvisor</h1>
        <p>Log in to administer this platform.</p>
        {props.message && !action.error && <p class="info">{props.message}</p>}
        <Field id="login-password" label="Admin password" error={passwordError}>
          {(aria) => (
            <input
              {...aria}
              type="password"
              name="password"
              autocomplete="current-password"
              required
              autofocus
              value={password}
              onInput={(event) => {
                setPassword(event.currentTarget.value);
              }}
            />
          )}
        </Field>
        <ErrorText message={errors.form} />
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Logging in…' : 'Log in'}
          </button>
        </div>
      </form>
    </main>
  );
}
