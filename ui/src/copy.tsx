import { useState } from 'preact/hooks';
import { messageOf } from './api.js';

/**
 * A button that copies `text` to the clipboard and says, next to it, whether that worked (a
 * browser may refuse: then the text is to be selected by hand). `label` names what it copies
 * for screen readers ("Copy the password").
 */
export function CopyButton(props: { text: string; label?: string }) {
  const [said, setSaid] = useState<string>();
  return (
    <>
      <button
        type="button"
        aria-label={props.label}
        onClick={() => {
          navigator.clipboard.writeText(props.text).then(
            () => {
              setSaid('Copied.');
            },
            (error: unknown) => {
              setSaid(`Copy failed: ${messageOf(error)}; select the text instead.`);
            },
          );
        }}
      >
        Copy
      </button>{' '}
      <span aria-live="polite">{said}</span>
    </>
  );
}
