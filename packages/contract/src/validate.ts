/**
 * Ajv 2020 validators compiled once from our own schemas.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject } from 'ajv';
import { WeftError } from './errors.js';

// ajv-formats ships CJS with a default export; normalise the interop shape.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** A shared Ajv instance configured for JSON Schema 2020-12 with formats. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

const shared = createAjv();

/** One field-level problem reported under `details.errors`. */
export interface FieldError {
  path: string;
  message: string;
}

/** Turns Ajv errors into short, input-free field errors. */
export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).slice(0, 20).map((e) => {
    let path = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') {
      path = `${e.instancePath}/${String((e.params as { additionalProperty?: string }).additionalProperty)}`;
      return { path, message: 'unknown property' };
    }
    if (e.keyword === 'unevaluatedProperties') {
      path = `${e.instancePath}/${String((e.params as { unevaluatedProperty?: string }).unevaluatedProperty)}`;
      return { path, message: 'unknown property' };
    }
    return { path, message: e.message ?? 'invalid' };
  });
}

/** A compiled validator that either returns the typed value or throws `validation_error`. */
export type Validator<T> = (value: unknown, what?: string) => T;

/** Compiles `schema` once; the returned function throws {@link WeftError} on failure. */
export function compileValidator<T>(schema: object, ajv: Ajv2020 = shared): Validator<T> {
  const fn = ajv.compile(schema);
  return (value: unknown, what = 'request body'): T => {
    if (!fn(value)) {
      throw new WeftError('validation_error', `The ${what} is invalid.`, { errors: toFieldErrors(fn.errors) });
    }
    return value as T;
  };
}
