import { configKeys } from './keys.js';
import { otherEnvironment } from './load.js';

function cell(value: unknown): string {
  if (value === null) return 'empty';
  if (value === '') return '""';
  return `\`${JSON.stringify(value)}\``;
}

/** docs/configuration.md, rendered from the schema (`npm run docs:config` writes it). */
export function renderConfigDocs(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Rendered from src/core/config/schema.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'Each key can be set, strongest first, by a command-line flag (`--set key=value`, or the',
    'named flags of `appvisor daemon`), an environment variable, or the JSON file given with',
    '`--config FILE` (nested objects: `{"http": {"port": 8080}}`). Unknown keys, unknown',
    '`APPVISOR_*` variables and wrong types stop the start with a one-line message and exit code 2.',
    '',
    '| key | environment | type | default | meaning |',
    '|---|---|---|---|---|',
  ];
  for (const key of configKeys) {
    const type = key.choices ? key.choices.join(' \\| ') : key.type;
    lines.push(
      `| \`${key.key}\` | \`${key.env}\` | ${type}${key.nullable ? ', may be empty' : ''} | ${cell(key.default)} | ${key.description} |`,
    );
  }
  lines.push('', 'Other environment variables:', '', '| variable | meaning |', '|---|---|');
  for (const [name, text] of Object.entries(otherEnvironment))
    lines.push(`| \`${name}\` | ${text} |`);
  lines.push('');
  return lines.join('\n');
}
