/** A strict enough reader of the Prometheus text exposition format (version 0.0.4) for tests. */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const metricName = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelName = '[a-zA-Z_][a-zA-Z0-9_]*';
const labelValue = '"(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
const value = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN)';
const helpLine = new RegExp(`^# HELP (${metricName}) .*$`);
const typeLine = new RegExp(`^# TYPE (${metricName}) (counter|gauge|histogram|summary|untyped)$`);
const sampleLine = new RegExp(
  `^(${metricName})(?:\\{((?:${labelName}=${labelValue})(?:,${labelName}=${labelValue})*,?)?\\})? (${value})(?: -?\\d+)?$`,
);
const labelPair = new RegExp(`(${labelName})=(${labelValue})`, 'g');

/** Parses the text; throws naming the first line that is not valid. */
export function parseExposition(text: string): PromSample[] {
  if (!text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const samples: PromSample[] = [];
  const typed = new Set<string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${index + 1}: ${line}`;
    if (line.startsWith('# HELP ')) {
      if (!helpLine.test(line)) throw new Error(`bad HELP, ${where}`);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const match = typeLine.exec(line);
      if (!match) throw new Error(`bad TYPE, ${where}`);
      if (typed.has(match[1]!)) throw new Error(`second TYPE for a metric, ${where}`);
      typed.add(match[1]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`bad sample, ${where}`);
    const name = match[1]!;
    if (!typed.has(name)) throw new Error(`sample before its TYPE, ${where}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(labelPair)) {
      // The format's escapes (\\, \", \n) are a subset of JSON's.
      labels[pair[1]!] = JSON.parse(pair[2]!) as string;
    }
    const text = match[3]!;
    samples.push({
      name,
      labels,
      value: /Inf$/.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text),
    });
  }
  return samples;
}

/** The samples of one metric whose labels include `labels`. */
export function find(
  samples: PromSample[],
  name: string,
  labels: Record<string, string> = {},
): PromSample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
