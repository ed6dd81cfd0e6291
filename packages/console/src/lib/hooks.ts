/** Small React hooks shared by the views. */
import { useEffect, useRef, useState } from 'react';
import { errorText, isAbort } from './errors.ts';

/** The state of a request: loading, its value, or its error text. */
export interface Loaded<T> {
  value: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Runs the request again now. */
  reload(): void;
}

/**
 * Runs `load` when `deps` change and, with `everyMs`, again on that interval while the tab is
 * visible (live lists). An earlier request still in flight is aborted.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], everyMs?: number): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to reload
  useEffect(() => {
    const ctrl = new AbortController();
    setLoading(true);
    loadRef.current(ctrl.signal).then(
      (v) => {
        if (ctrl.signal.aborted) return;
        setValue(v);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (ctrl.signal.aborted || isAbort(err)) return;
        setError(errorText(err));
        setLoading(false);
      },
    );
    return () => ctrl.abort();
  }, [...deps, tick]);

  useEffect(() => {
    if (!everyMs) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, everyMs);
    return () => clearInterval(t);
  }, [everyMs]);

  return { value, error, loading, reload: () => setTick((n) => n + 1) };
}

/** A fresh random Idempotency-Key. */
export function newIdempotencyKey(): string {
  return `console-${crypto.randomUUID()}`;
}
