import { useState } from 'preact/hooks';
import { call, type BackupSchedule, type BackupScheduleBody } from '../../api.js';
import { ErrorText } from '../../components.js';
import { FormCard, NumberField, SubmitRow, TextField, Toggle, useForm } from '../../forms.js';
import { dateTime } from '../../format.js';
import { templateHint } from './create-form.js';

/** What the schedule does, and when it runs next (or that it is off). */
function ScheduleHint(props: { nextRun: string | null }) {
  return (
    <p class="hint">
      Backs up every instance that is not excluded from backups.{' '}
      <span data-testid="next-run">
        {props.nextRun ? (
          <>
            Next run: <time dateTime={props.nextRun}>{dateTime(props.nextRun)}</time>
          </>
        ) : (
          'Off.'
        )}
      </span>
    </p>
  );
}

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
  const { action, errors } = useForm(['cron', 'template', 'slots', 'verify']);
  return (
    <FormCard
      labelledBy="schedule-title"
      onSubmit={() => {
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
      <ScheduleHint nextRun={schedule.nextRun} />
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
      <TextField
        id="schedule-cron"
        label="When (cron, UTC)"
        hint="minute hour day month weekday, e.g. 0 3 * * * is 03:00 UTC every day; a 6th field in front is seconds"
        error={errors.field.cron}
        value={cron}
        required={on}
        disabled={!on}
        onValue={setCron}
      />
      <TextField
        id="schedule-template"
        label="Name template"
        hint={templateHint}
        error={errors.field.template}
        value={template}
        required
        onValue={setTemplate}
      />
      <NumberField
        id="schedule-slots"
        label="Slots"
        hint="With #bn: at most this many archives per instance, the oldest overwritten"
        error={errors.field.slots}
        min={1}
        max={1000}
        required
        value={slots}
        onValue={setSlots}
      />
      <SubmitRow error={errors.form} busy={action.busy} label="Save schedule" busyLabel="Saving…" />
    </FormCard>
  );
}
