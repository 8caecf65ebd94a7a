/**
 * Reads a tutorial written in Markdown into the steps a reader follows: files to write (a
 * fenced block right after `<!-- file: path -->`) and commands to run (`$ ` lines of a
 * `console` block, each followed by the output the reader should see; `...` stands for any
 * text). test/daemon/tutorial.test.ts follows docs/tutorial.md this way, so the tutorial
 * cannot drift from what the platform does.
 */

/** One thing the reader does. */
export type TutorialStep =
  | { kind: 'file'; path: string; content: string; line: number }
  | { kind: 'command'; command: string; expected: string; line: number };

const fileMarker = /^<!--\s*file:\s*(\S+)\s*-->$/;

/** The steps of a tutorial, in reading order. */
export function tutorialSteps(markdown: string): TutorialStep[] {
  const lines = markdown.split('\n');
  const steps: TutorialStep[] = [];
  let pendingFile: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = fileMarker.exec(line.trim());
    if (marker) {
      pendingFile = marker[1];
      continue;
    }
    const fence = /^(```+)(\S*)/.exec(line);
    if (!fence) {
      if (line.trim() !== '') pendingFile = undefined;
      continue;
    }
    const close = fence[1]!;
    const body: string[] = [];
    const start = i + 1;
    for (i++; i < lines.length && lines[i] !== close; i++) body.push(lines[i]!);
    if (pendingFile !== undefined) {
      steps.push({ kind: 'file', path: pendingFile, content: `${body.join('\n')}\n`, line: start });
    } else if (fence[2] === 'console') {
      steps.push(...commandsOf(body, start));
    }
    pendingFile = undefined;
  }
  return steps;
}

function commandsOf(body: readonly string[], start: number): TutorialStep[] {
  const steps: TutorialStep[] = [];
  let current: { command: string; expected: string[]; line: number } | undefined;
  const flush = () => {
    if (current) {
      steps.push({
        kind: 'command',
        command: current.command,
        expected: current.expected.join('\n'),
        line: current.line,
      });
    }
  };
  body.forEach((line, index) => {
    if (line.startsWith('$ ')) {
      flush();
      current = { command: line.slice(2), expected: [], line: start + index + 1 };
    } else if (current) {
      current.expected.push(line);
    }
  });
  flush();
  return steps;
}

/**
 * Whether `output` is what `expected` shows: the same lines (trailing blanks ignored), where
 * `...` matches any text, across lines too.
 */
export function outputMatches(expected: string, output: string): boolean {
  const pattern = expected
    .trimEnd()
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(output.trimEnd());
}
