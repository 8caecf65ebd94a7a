/**
 * The parts of the UI's forms: a form card, labelled fields tied to their hint and error, the
 * controls whose value is a form's state, and the submit row. Each control renders what the
 * forms wrote by hand before: a `<Field>` around one input, its value from state.
 */
import type { ComponentChildren, JSX } from 'preact';
import { ApiError, messageOf } from './api.js';
import { ErrorText } from './components.js';
import { useAction } from './hooks.js';

/**
 * Splits an error for a form: the message goes next to the field the API named when the form
 * has that field (or the field `byCode` gives for the error's code), else to the form as a whole.
 */
export function formErrors(
  error: unknown,
  fields: readonly string[],
  byCode: Record<string, string> = {},
): { field: Record<string, string>; form: string | undefined } {
  if (error === undefined || error === null) return { field: {}, form: undefined };
  const field = error instanceof ApiError ? (error.field ?? byCode[error.code]) : undefined;
  if (error instanceof ApiError && field && fields.includes(field))
    return { field: { [field]: error.message }, form: undefined };
  const code = error instanceof ApiError ? `${error.code}: ` : '';
  return { field: {}, form: `${code}${messageOf(error)}` };
}

/** A form's one operation at a time ({@link useAction}) and its error split by field. */
export function useForm(fields: readonly string[], byCode?: Record<string, string>) {
  const action = useAction();
  return { action, errors: formErrors(action.error, fields, byCode) };
}

/** What a control's {@link Field} shows around it: its label, hint and error. */
interface FieldProps {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string;
}

/** A labelled form control with its hint and its error, tied together for screen readers. */
export function Field(
  props: FieldProps & {
    children: (aria: {
      id: string;
      'aria-invalid': boolean;
      'aria-describedby': string | undefined;
    }) => ComponentChildren;
  },
) {
  const described = [props.hint ? `${props.id}-hint` : '', props.error ? `${props.id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        'aria-invalid': Boolean(props.error),
        'aria-describedby': described || undefined,
      })}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <p id={`${props.id}-error`} class="field-error" role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/**
 * The attributes a control passes on to its element as given, in the order given: those the
 * forms use (the DOM's own names and meanings).
 */
interface Attributes {
  type?: 'text' | 'password' | 'url' | 'number';
  name?: string;
  autocomplete?: string;
  placeholder?: string | undefined;
  required?: boolean;
  disabled?: boolean;
  autofocus?: boolean;
  inputMode?: 'numeric';
  min?: number;
  max?: number;
  pattern?: string;
  accept?: string;
  rows?: number;
  spellcheck?: boolean;
}

/**
 * The attributes as an input takes them: preact types an input's attributes per `type`, and a
 * `type` known only as one of several matches none of them.
 */
function inputAttributes(
  attributes: Attributes | (Omit<Attributes, 'type'> & { type: 'file' }),
): JSX.IntrinsicElements['input'] {
  return attributes as JSX.IntrinsicElements['input'];
}

/** A text input whose value is the form's state `value`; typing calls `onValue`. */
export function TextField(
  props: FieldProps & { value: string; onValue: (value: string) => void } & Attributes,
) {
  const { id, label, error, hint, value, onValue, ...input } = props;
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <input
          {...aria}
          {...inputAttributes(input)}
          value={value}
          onInput={(event) => {
            onValue(event.currentTarget.value);
          }}
        />
      )}
    </Field>
  );
}

/** A whole number {@link TextField} (its text, as typed: empty may mean the default). */
export function NumberField(
  props: FieldProps & { value: string; onValue: (value: string) => void } & Attributes,
) {
  return <TextField type="number" inputMode="numeric" {...props} />;
}

/** A textarea whose value is the form's state `value`. */
export function TextAreaField(
  props: FieldProps & { value: string; onValue: (value: string) => void } & Attributes,
) {
  const { id, label, error, hint, value, onValue, ...textarea } = props;
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <textarea
          {...aria}
          {...textarea}
          value={value}
          onInput={(event) => {
            onValue(event.currentTarget.value);
          }}
        />
      )}
    </Field>
  );
}

/** A select of `options` (`[value, text]`) whose value is the form's state `value`. */
export function SelectField<V extends string>(
  props: FieldProps & {
    value: V;
    options: readonly (readonly [V, string])[];
    onValue: (value: V) => void;
  } & Attributes,
) {
  const { id, label, error, hint, value, options, onValue, ...select } = props;
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <select
          {...aria}
          value={value}
          {...select}
          onChange={(event) => {
            onValue(event.currentTarget.value as V);
          }}
        >
          {options.map(([option, text]) => (
            <option key={option} value={option}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A file input; choosing a file calls `onFile` with it (or undefined when none is left). */
export function FileField(
  props: FieldProps & { onFile: (file: File | undefined) => void } & Attributes,
) {
  const { id, label, error, hint, onFile, ...input } = props;
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <input
          {...aria}
          {...inputAttributes({ type: 'file', ...input })}
          onChange={(event) => {
            onFile(event.currentTarget.files?.[0]);
          }}
        />
      )}
    </Field>
  );
}

/** A checkbox in its label, the text after it. */
export function Checkbox(props: {
  checked: boolean;
  disabled?: boolean;
  class?: string;
  onChange: (checked: boolean) => void;
  children: ComponentChildren;
}) {
  return (
    <label class={props.class}>
      <input
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(event) => {
          props.onChange(event.currentTarget.checked);
        }}
      />{' '}
      {props.children}
    </label>
  );
}

/** A checkbox that reads as a switch. */
export function Toggle(props: {
  id: string;
  label: string;
  checked: boolean;
  disabled?: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <label class="toggle" for={props.id}>
      <input
        id={props.id}
        type="checkbox"
        role="switch"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(event) => {
          props.onChange(event.currentTarget.checked);
        }}
      />
      <span>{props.label}</span>
    </label>
  );
}

/** A form on a card, named by its heading (`labelledBy`); submitting calls `onSubmit`. */
export function FormCard(props: {
  labelledBy?: string;
  onSubmit: () => void;
  children: ComponentChildren;
}) {
  return (
    <form
      class="card"
      aria-labelledby={props.labelledBy}
      onSubmit={(event) => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      {props.children}
    </form>
  );
}

/**
 * The end of a form: its error, then the submit button (`busyLabel` while the form works,
 * disabled then and when `disabled`) and any other buttons.
 */
export function SubmitRow(props: {
  error: string | undefined;
  busy: boolean;
  disabled?: boolean;
  label: string;
  busyLabel: string;
  children?: ComponentChildren;
}) {
  return (
    <>
      <ErrorText message={props.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={props.busy || Boolean(props.disabled)}>
          {props.busy ? props.busyLabel : props.label}
        </button>
        {props.children}
      </div>
    </>
  );
}
