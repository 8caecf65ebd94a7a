/**
 * uPlot and its stylesheet, loaded on demand by the graphs (a chunk of its own, so pages
 * without graphs do not fetch it).
 */
import 'uplot/dist/uPlot.min.css';

export { default } from 'uplot';
