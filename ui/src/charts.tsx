/**
 * Line graphs of the monitor's history (uPlot, loaded on demand). Each graph is a figure whose
 * caption (and the plot's aria-label) tells the latest value of every line, so the numbers can be
 * read without seeing the canvas.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { SeriesUnit } from './api.js';
import { bytes, time } from './format.js';

/** One line of a graph: its name in the legend and a value (or null) per time. */
export interface Line {
  label: string;
  values: (number | null)[];
}

type UPlotClass = typeof uPlot;
let loading: Promise<UPlotClass> | undefined;
const loadUPlot = (): Promise<UPlotClass> =>
  (loading ??= import('./uplot.js').then((module) => module.default));

/** Colours that read on the light and the dark background. */
const palette = ['#2f7ed8', '#e0662c', '#2aa35a', '#a35bd6', '#c9a400', '#d6457c', '#2aa3a3'];

/** A value with its unit: `12.5 %`, `1.5 GiB`. */
export function withUnit(value: number, unit: SeriesUnit): string {
  if (unit === 'percent')
    return `${value >= 10 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1)} %`;
  if (unit === 'bytes') return bytes(Math.round(value));
  return value.toFixed(unit === 'load' ? 2 : 0);
}

/** The last non-null value of a line. */
function latest(values: (number | null)[]): number | undefined {
  for (let i = values.length - 1; i >= 0; i--) {
    const value = values[i];
    if (value !== null && value !== undefined) return value;
  }
  return undefined;
}

/** "CPU: 12 %" per line, or that there is no value yet. */
export function summary(lines: Line[], unit: SeriesUnit): string {
  if (lines.length === 0) return 'nothing measured yet';
  return lines
    .map((line) => {
      const value = latest(line.values);
      return `${line.label} ${value === undefined ? 'no value' : withUnit(value, unit)}`;
    })
    .join(', ');
}

const cssVar = (name: string, fallback: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

function options(
  width: number,
  lines: Line[],
  unit: SeriesUnit,
  max: number | undefined,
): uPlot.Options {
  const muted = cssVar('--muted', '#5b6575');
  const grid = { stroke: cssVar('--line', '#d8dde5'), width: 1 };
  const format = (value: number | null | undefined) =>
    value === null || value === undefined ? '-' : withUnit(value, unit);
  return {
    width,
    height: 180,
    ms: 1,
    legend: { show: true },
    cursor: { y: false },
    series: [
      { label: 'Time', value: (_u, at: number | null) => (at === null ? '-' : time(new Date(at))) },
      ...lines.map((line, i) => ({
        label: line.label,
        stroke: palette[i % palette.length] ?? '#2f7ed8',
        width: 1.5,
        value: (_u: uPlot, value: number | null) => format(value),
      })),
    ],
    scales: {
      y: {
        range: (_u, _min, dataMax): uPlot.Range.MinMax => [
          0,
          max ?? (dataMax > 0 ? dataMax * 1.15 : unit === 'percent' ? 1 : 1024),
        ],
      },
    },
    axes: [
      { stroke: muted, grid, ticks: grid },
      {
        stroke: muted,
        grid,
        ticks: grid,
        size: 72,
        values: (_u, splits) => splits.map((split) => format(split)),
      },
    ],
  };
}

/**
 * A graph of lines over `times` (epoch ms) in `unit`; `max` fixes the top of the scale (100 for
 * a share of the machine), else it follows the data.
 */
export function Chart(props: {
  id: string;
  title: string;
  unit: SeriesUnit;
  times: number[];
  lines: Line[];
  max?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const [failed, setFailed] = useState<string>();
  const labels = props.lines.map((line) => line.label).join('\n');
  const data: uPlot.AlignedData = [props.times, ...props.lines.map((line) => line.values)];
  const dataRef = useRef(data);
  dataRef.current = data;

  // A new set of lines (an app installed or removed) makes a new plot; new values only update it.
  useEffect(() => {
    let gone = false;
    const element = box.current;
    if (!element) return;
    let observer: ResizeObserver | undefined;
    loadUPlot().then(
      (UPlot) => {
        if (gone) return;
        const made = new UPlot(
          options(element.clientWidth || 300, props.lines, props.unit, props.max),
          dataRef.current,
          element,
        );
        plot.current = made;
        observer = new ResizeObserver(() => {
          made.setSize({ width: element.clientWidth || 300, height: 180 });
        });
        observer.observe(element);
      },
      (error: unknown) => {
        setFailed(error instanceof Error ? error.message : String(error));
      },
    );
    return () => {
      gone = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
    // The lines' values are read through dataRef; only their names make a new plot.
  }, [labels, props.unit, props.max]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  const text = summary(props.lines, props.unit);
  const points = props.times.length;
  return (
    <figure class="chart" data-testid={props.id}>
      <div
        ref={box}
        class="plot"
        role="img"
        aria-label={`${props.title} over time; latest: ${text}`}
      />
      <figcaption id={`${props.id}-caption`}>
        <strong>{props.title}</strong>: {text}{' '}
        <span class="quiet">
          ({points} {points === 1 ? 'point' : 'points'})
        </span>
      </figcaption>
      {failed && <p class="error">The graph cannot be drawn: {failed}</p>}
    </figure>
  );
}
