/** Shared presentational pieces: status badges, JSON, schema forms, the virtual list, the DAG. */
import type { RunStatus } from '@weft/contract/types';
import { useEffect, useId, useMemo, useRef, useState, type ReactNode } from 'react';
import { layoutDag, type GraphInput } from './lib/dag-layout.ts';
import type { NodeStatus } from './lib/events.ts';
import type { Field } from './lib/schema-form.ts';

/** A run status as a badge (colour plus the word, never colour alone). */
export function StatusBadge({ status }: { status: RunStatus | NodeStatus | string }): ReactNode {
  return <span className={`badge status-${status}`}>{status}</span>;
}

/** A status message read out by screen readers; errors are `role=alert`. */
export function Notice({ kind, children }: { kind: 'error' | 'info' | 'success'; children: ReactNode }): ReactNode {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** Pretty JSON in a scrollable, focusable block. */
export function JsonView({ value, label }: { value: unknown; label: string }): ReactNode {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? 'undefined';
  } catch {
    text = String(value);
  }
  return (
    <section aria-label={label}>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: scrollable regions must be reachable by keyboard */}
      <pre className="json" tabIndex={0}>
        {text}
      </pre>
    </section>
  );
}

/** ISO time as local date and time, with the ISO text as a tooltip. */
export function Time({ iso }: { iso: string | undefined | null }): ReactNode {
  if (!iso) return <span className="muted">—</span>;
  const d = new Date(iso);
  return (
    <time dateTime={iso} title={iso}>
      {Number.isNaN(d.getTime()) ? iso : d.toLocaleString()}
    </time>
  );
}

/** The inputs of a generated form. */
export function SchemaFields({
  fields,
  texts,
  errors,
  onChange,
  idPrefix,
}: {
  fields: readonly Field[];
  texts: Record<string, string>;
  errors?: Record<string, string> | undefined;
  onChange(name: string, text: string): void;
  idPrefix: string;
}): ReactNode {
  return (
    <>
      {fields.map((f) => {
        const id = `${idPrefix}-${f.name}`;
        const text = texts[f.name] ?? f.initial;
        const err = errors?.[f.name];
        const describedBy = [f.description ? `${id}-desc` : '', err ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
        const common = { id, name: f.name, 'aria-describedby': describedBy, 'aria-invalid': err ? true : undefined, required: f.required };
        let input: ReactNode;
        switch (f.kind) {
          case 'boolean':
            input = (
              <input type="checkbox" {...common} required={false} checked={text === 'true'} onChange={(e) => onChange(f.name, String(e.target.checked))} />
            );
            break;
          case 'enum':
            input = (
              <select {...common} value={text} onChange={(e) => onChange(f.name, e.target.value)}>
                {!f.required && <option value="">—</option>}
                {(f.options ?? []).map((o) => (
                  <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
                    {typeof o === 'string' ? o : JSON.stringify(o)}
                  </option>
                ))}
              </select>
            );
            break;
          case 'textarea':
          case 'json':
            input = (
              <textarea
                {...common}
                rows={f.kind === 'json' ? 4 : 3}
                value={text}
                spellCheck={f.kind !== 'json'}
                onChange={(e) => onChange(f.name, e.target.value)}
              />
            );
            break;
          default:
            input = (
              <input
                {...common}
                type={f.kind === 'password' ? 'password' : f.kind === 'number' || f.kind === 'integer' ? 'number' : 'text'}
                step={f.kind === 'number' ? 'any' : undefined}
                value={text}
                autoComplete="off"
                onChange={(e) => onChange(f.name, e.target.value)}
              />
            );
        }
        return (
          <div className={`field field-${f.kind}`} key={f.name}>
            <label htmlFor={id}>
              {f.label}
              {f.required && <span aria-hidden="true"> *</span>}
              {f.kind === 'json' && <span className="muted"> (JSON)</span>}
            </label>
            {input}
            {f.description && (
              <small id={`${id}-desc`} className="muted">
                {f.description}
              </small>
            )}
            {err && (
              <small id={`${id}-err`} className="field-error">
                {err}
              </small>
            )}
          </div>
        );
      })}
    </>
  );
}

/**
 * A virtualised list of fixed-height rows: only the rows in view (plus a margin) are in the
 * DOM, so a 10,000-event timeline scrolls without freezing. Arrow keys, Home/End and
 * PageUp/PageDown move the active row; Enter selects it.
 */
export function VirtualList<T>({
  items,
  rowHeight,
  height,
  label,
  render,
  onSelect,
  selectedIndex,
  follow,
}: {
  items: readonly T[];
  rowHeight: number;
  height: number;
  label: string;
  render(item: T, index: number, active: boolean): ReactNode;
  onSelect(index: number): void;
  selectedIndex: number | undefined;
  /** Keep the last row in view while new rows arrive (until the user scrolls up). */
  follow: boolean;
}): ReactNode {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [active, setActive] = useState(0);
  const id = useId();
  const total = items.length * rowHeight;

  // biome-ignore lint/correctness/useExhaustiveDependencies: new rows (items.length) are what scrolls the list
  useEffect(() => {
    const el = ref.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [follow, items.length]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - 10);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + 10);
  const activeIndex = Math.min(active, Math.max(0, items.length - 1));

  const moveTo = (i: number): void => {
    const n = Math.max(0, Math.min(items.length - 1, i));
    setActive(n);
    const el = ref.current;
    if (!el) return;
    if (n * rowHeight < el.scrollTop) el.scrollTop = n * rowHeight;
    else if ((n + 1) * rowHeight > el.scrollTop + height) el.scrollTop = (n + 1) * rowHeight - height;
  };
  const onKey = (e: React.KeyboardEvent): void => {
    const page = Math.max(1, Math.floor(height / rowHeight) - 1);
    const keys: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in keys) moveTo(activeIndex + (keys[e.key] as number));
    else if (e.key === 'Home') moveTo(0);
    else if (e.key === 'End') moveTo(items.length - 1);
    else if (e.key === 'Enter' || e.key === ' ') onSelect(activeIndex);
    else return;
    e.preventDefault();
  };

  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      // biome-ignore lint/a11y/useKeyWithClickEvents lint/a11y/useFocusableInteractive: the listbox owns focus and keys (aria-activedescendant, onKey above)
      <div
        key={i}
        id={`${id}-row-${i}`}
        role="option"
        aria-selected={selectedIndex === i}
        className={`vrow${selectedIndex === i ? ' selected' : ''}${activeIndex === i ? ' active' : ''}`}
        style={{ top: i * rowHeight, height: rowHeight }}
        onClick={() => {
          setActive(i);
          onSelect(i);
        }}
      >
        {render(items[i] as T, i, activeIndex === i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className="vlist"
      role="listbox"
      aria-label={label}
      tabIndex={0}
      aria-activedescendant={items.length > 0 ? `${id}-row-${activeIndex}` : undefined}
      style={{ height }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKey}
      data-count={items.length}
    >
      <div className="vspacer" style={{ height: total }}>
        {rows}
      </div>
    </div>
  );
}

const NODE_W = 150;
const NODE_H = 44;
const GAP_X = 60;
const GAP_Y = 24;

/**
 * The workflow graph as SVG, nodes coloured (and labelled) by state. Nodes are buttons: Tab
 * reaches them, Enter or Space selects one for the inspector.
 */
export function Dag({
  graph,
  statuses,
  selected,
  onSelect,
}: {
  graph: GraphInput;
  statuses?: ReadonlyMap<string, NodeStatus>;
  selected?: string | undefined;
  onSelect?: (nodeId: string) => void;
}): ReactNode {
  const layout = useMemo(() => layoutDag(graph), [graph]);
  const pos = new Map(layout.nodes.map((n) => [n.id, { x: 10 + n.column * (NODE_W + GAP_X), y: 10 + n.row * (NODE_H + GAP_Y) }]));
  const width = 20 + layout.columns * (NODE_W + GAP_X) - GAP_X;
  const height = 20 + layout.rows * (NODE_H + GAP_Y) - GAP_Y;
  const markerId = useId().replace(/:/g, '');
  return (
    <figure className="dag" aria-label="Workflow graph">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
        <title>Workflow graph</title>
        <defs>
          <marker id={markerId} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {layout.edges.map((e) => {
          const a = pos.get(e.from);
          const b = pos.get(e.to);
          if (!a || !b) return null;
          const x1 = a.x + NODE_W;
          const y1 = a.y + NODE_H / 2;
          const x2 = b.x;
          const y2 = b.y + NODE_H / 2;
          const d =
            x2 > x1
              ? `M ${x1} ${y1} C ${x1 + GAP_X / 2} ${y1}, ${x2 - GAP_X / 2} ${y2}, ${x2} ${y2}`
              : `M ${a.x + NODE_W / 2} ${a.y + NODE_H} L ${b.x + NODE_W / 2} ${b.y}`;
          return <path key={e.id} d={d} className="dag-edge" markerEnd={`url(#${markerId})`} />;
        })}
        {layout.nodes.map((n) => {
          const p = pos.get(n.id) as { x: number; y: number };
          const status = statuses?.get(n.id) ?? 'pending';
          const activate = (): void => onSelect?.(n.id);
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
            <g
              key={n.id}
              transform={`translate(${p.x} ${p.y})`}
              className={`dag-node node-${status}${selected === n.id ? ' selected' : ''}`}
              role="button"
              tabIndex={onSelect ? 0 : -1}
              aria-label={`${n.label} (${n.typeId}): ${status}`}
              aria-pressed={onSelect ? selected === n.id : undefined}
              data-node={n.id}
              data-status={status}
              onClick={activate}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  activate();
                }
              }}
            >
              <rect width={NODE_W} height={NODE_H} rx="6" />
              <text x="10" y="18" className="dag-label">
                {n.label.length > 18 ? `${n.label.slice(0, 17)}…` : n.label}
              </text>
              <text x="10" y="35" className="dag-sub">
                {status}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
