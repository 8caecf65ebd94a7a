import { useState } from 'preact/hooks';
import { call, type BackupSchedule, type BackupScheduleBody } from '../../api.js';
import { ErrorText, Field, Toggle, formErrors } from '../../components.js';
import { dateTime } from '../../format.js';
import { useAction } from '../../hooks.js';
import { templateHint } from './create-form.js';

/** The schedule: cron (UTC), template, slots, on or off, and the next run. */
export function ScheduleForm(props: {
  schedule: BackupSchedule;
  onSaved: (schedule: BackupSchedule) => void;
}) {
  const { schedule } = props;
  const [on, setOn] = useState(schedule.cron !== null);
  const [cron, setCron] = useState(schedule.cron ?? '0 3 * * *');
  const [template, setTemplate] = useState(schedule.template);
  const [slots, setSlots] = useState(String(schedule.slots));
  const [verify, setVerify] = useState(schedule.verify);
  const action = useAction();
  const errors = formErrors(action.error, ['cron', 'template', 'slots', 'verify']);
  return (
    <form
      class="card"
      aria-labelledby="schedule-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: BackupScheduleBody = {
          cron: on ? cron.trim() : null,
          template: template.trim(),
          slots: Number(slots),
          verify,
        };
        void action
          .run(() => call<BackupSchedule>('PUT', '/backups/schedule', body))
          .then((saved) => {
            if (saved) props.onSaved(saved);
          });
      }}
    >
      <h2 id="schedule-title">Schedule</h2>
      <p class="hint">
        Backs up every instance that is not excluded from backups.{' '}
        <span data-testid="next-run">
          {schedule.nextRun ? (
            <>
              Next run: <time dateTime={schedule.nextRun}>{dateTime(schedule.nextRun)}</time>
            </>
          ) : (
            'Off.'
          )}
        </span>
      </p>
      <div class="checks">
        <Toggle id="schedule-on" label="Scheduled backups" checked={on} onChange={setOn} />
        <Toggle
          id="schedule-verify"
          label="Verify each backup (restore it into a scratch database, compare row counts)"
          checked={verify}
          onChange={setVerify}
        />
      </div>
      <ErrorText message={errors.field.verify} />
      <Field
        id="schedule-cron"
        label="When (cron, UTC)"
        hint="minute hour day month weekday, e.g. 0 3 * * * is 03:00 UTC every day; a 6th field in front is seconds"
        error={errors.field.cron}
      >
        {(aria) => (
          <input
            {...aria}
            value={cron}
            required={on}
            disabled={!on}
            onInput={(event) => {
              setCron(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="schedule-template"
        label="Name template"
        hint={templateHint}
        error={errors.field.template}
      >
        {(aria) => (
          <input
            {...aria}
            value={template}
            required
            onInput={(event) => {
              setTemplate(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="schedule-slots"
        label="Slots"
        hint="With #bn: at most this many archives per instance, the oldest overwritten"
        error={errors.field.slots}
      >
        {(aria) => (
          <input
            {...aria}
            type="number"
            inputMode="numeric"
            min={1}
            max={1000}
            required
            value={slots}
            onInput={(event) => {
              setSlots(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save schedule'}
        </button>
      </div>
    </form>
  );
}
