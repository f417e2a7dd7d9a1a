/**
 * The figures of issue #15 and their targets, in the order the SUMMARY line prints them. A part of the bench that
 * measures one calls `record(name, value)`; a figure nobody recorded prints as n/a beside its target. A new figure
 * is one line in FIGURES and one `record` call.
 */
export interface FigureSpec {
  /** The SUMMARY key. */
  name: string;
  /** What it is, for the table. */
  label: string;
  unit: string;
  digits: number;
  /** As printed, e.g. `>=1.0x`; `-` when there is none. */
  target: string;
  /** Whether a value meets the target; absent when the figure has none (it is shown, never a miss). */
  meets?: (value: number) => boolean;
}

const within = (target: number, share: number) => (v: number) => Math.abs(v - target) <= target * share;
const DEFAULT_RATE = 20; // PRIMERO_RATE_PER_SECOND's default (src/config.ts)

export const FIGURES: FigureSpec[] = [
  { name: 'ingest', label: 'ingest ratio, gateway / bare express', unit: 'x', digits: 2, target: '>=1.0x', meets: (v) => v >= 1.0 },
  { name: 'p99', label: 'gateway p99 acknowledgement latency', unit: 'ms', digits: 1, target: '<=25ms', meets: (v) => v <= 25 },
  { name: 'rss_all', label: 'all-in-one peak resident memory (VmHWM)', unit: 'MiB', digits: 0, target: '<=150', meets: (v) => v <= 150 },
  { name: 'rss_api', label: 'API process peak resident memory (VmHWM)', unit: 'MiB', digits: 0, target: '<=150', meets: (v) => v <= 150 },
  { name: 'rss_worker', label: 'worker process peak resident memory (VmHWM)', unit: 'MiB', digits: 0, target: '<=150', meets: (v) => v <= 150 },
  { name: 'drain0', label: 'drain, Primero at 0 ms', unit: '/s', digits: 0, target: '>=1000', meets: (v) => v >= 1000 },
  { name: 'drain200', label: 'drain, Primero at 200 ms', unit: '/s', digits: 0, target: '>=150', meets: (v) => v >= 150 },
  { name: 'drain_default', label: 'drain with default settings', unit: '/s', digits: 1, target: `${DEFAULT_RATE}±5%`, meets: within(DEFAULT_RATE, 0.05) },
  { name: 'drain_default200', label: 'drain with default settings, Primero at 200 ms', unit: '/s', digits: 1, target: `${DEFAULT_RATE}±5%`, meets: within(DEFAULT_RATE, 0.05) },
  { name: 'duplicates', label: 'duplicate creates seen by Primero', unit: '', digits: 0, target: '0', meets: (v) => v === 0 },
  { name: 'req_per_case', label: 'Primero requests per case', unit: '', digits: 1, target: '1.0', meets: (v) => v <= 1.0 },
  { name: 'cpu_per_case', label: 'worker CPU per case (0 ms drain)', unit: 'ms', digits: 2, target: '-' },
  { name: 'ack_to_case_p50', label: 'acknowledgement to case, p50', unit: 'ms', digits: 0, target: '-' },
  { name: 'ack_to_case_p99', label: 'acknowledgement to case, p99', unit: 'ms', digits: 0, target: '-' },
  { name: 'min_replicas_ack_cost', label: 'ingest with REDIS_MIN_REPLICAS_ACK / without', unit: 'x', digits: 2, target: '-' },
  { name: 'scale_ingest', label: 'ingest, 2 API processes / 1', unit: 'x', digits: 2, target: 'linear=2.0x' },
  { name: 'scale_drain', label: 'drain at 0 ms, 2 worker processes / 1', unit: 'x', digits: 2, target: 'linear=2.0x' },
];

const recorded = new Map<string, number>();

export function record(name: string, value: number): void {
  if (!FIGURES.some((f) => f.name === name)) throw new Error(`bench: no figure named ${name} in bench/figures.ts`);
  recorded.set(name, value);
}

const shown = (f: FigureSpec, v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(f.digits)}${f.unit}`);

/** One line per figure: PASS, MISS, or `-` when it has no target or was not measured. */
export function table(): string[] {
  return FIGURES.map((f) => {
    const v = recorded.get(f.name);
    const verdict = v === undefined || !f.meets ? '-   ' : f.meets(v) ? 'PASS' : 'MISS';
    return `${verdict}  ${f.label.padEnd(48)} ${shown(f, v).padEnd(12)} target ${f.target}`;
  });
}

/** Every figure and its target on one line, e.g. `SUMMARY ingest=1.02x(>=1.0x) p99=21.0ms(<=25ms) …`. */
export function summary(): string {
  return `SUMMARY ${FIGURES.map((f) => `${f.name}=${shown(f, recorded.get(f.name))}(${f.target})`).join(' ')}`;
}
