import { useState } from 'preact/hooks';
import { call, type LoginAnswer } from '../api.js';
import { FormCard, SubmitRow, TextField, useForm } from '../forms.js';

/** The admin password form; the manager answers with the session cookie. */
export function LoginPage(props: { message: string | undefined; onLoggedIn: () => void }) {
  const [password, setPassword] = useState('');
  // Every refusal of a login is about the password (wrong, or too many tries).
  const { action, errors } = useForm(['password'], {
    LOGIN_FAILED: 'password',
    RATE_LIMITED: 'password',
  });
  return (
    <main class="login" id="main">
      <FormCard
        onSubmit={() => {
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
        <TextField
          id="login-password"
          label="Admin password"
          error={errors.field.password}
          type="password"
          name="password"
          autocomplete="current-password"
          required
          autofocus
          value={password}
          onValue={setPassword}
        />
        <SubmitRow error={errors.form} busy={action.busy} label="Log in" busyLabel="Logging in…" />
      </FormCard>
    </main>
  );
}
