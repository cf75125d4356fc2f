/**
 * Config overrides as plain nested objects. Code passes them typed (`run(handle, { overrides: { train: { steps: 5 } } })`);
 * the command line's `--set train.steps=5` and a sweep's grid keys are parsed into the same objects, keys checked
 * against the schema so that a misspelt key is an error naming the keys that exist.
 */
import { z } from 'zod';
import { UsageError } from './define';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `overrides` merged into `base`: objects key by key, recursively; arrays, values and null replace. Copies, never mutates. */
export function deepMerge<T>(base: T, overrides: unknown): T {
  if (overrides === undefined) return structuredClone(base);
  if (!isPlainObject(overrides) || !isPlainObject(base)) return structuredClone(overrides) as T;
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  }
  return out as T;
}

/** The object schema inside defaults/optionals/nullables/effects, if any. */
function objectShape(schema: z.ZodTypeAny | undefined): Record<string, z.ZodTypeAny> | null {
  let s: z.ZodTypeAny | undefined = schema;
  while (s) {
    if (s instanceof z.ZodObject) return s.shape as Record<string, z.ZodTypeAny>;
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return null;
  }
  return null;
}

/**
 * Sets `dotted.key` to `value` in a nested overrides object (creating the path). With a schema, every part of the
 * key must exist there: `unknown config key "model.bogus" (at "bogus"; keys here: dModel, nLayers, ...)`.
 */
export function setPath(target: Record<string, unknown>, key: string, value: unknown, schema?: z.ZodTypeAny): void {
  const parts = key.split('.');
  let node = target;
  let shape = objectShape(schema);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (schema) {
      const known = shape ? Object.keys(shape) : [];
      if (!known.includes(part)) throw new UsageError(`unknown config key "${key}" (at "${part}"; keys here: ${known.join(', ') || '(none)'})`);
    }
    if (i === parts.length - 1) {
      node[part] = value;
      return;
    }
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
    shape = shape ? objectShape(shape[part]) : null;
  }
}

/** A command-line value: JSON when it parses (numbers, booleans, null, arrays, objects), else the raw string. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** `--set key.path=value` strings as one overrides object, keys checked against the schema. */
export function parseSets(sets: readonly string[] | string, schema?: z.ZodTypeAny): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const list = typeof sets === 'string' ? [sets] : sets; // one set given bare, not spread into characters
  if (!Array.isArray(list)) throw new UsageError(`parseSets takes key=value strings, got ${JSON.stringify(sets)}`);
  for (const s of list) {
    if (typeof s !== 'string') throw new UsageError(`--set needs key=value strings, got ${JSON.stringify(s)}`);
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set needs key=value, got "${s}"`);
    setPath(out, s.slice(0, eq), parseValue(s.slice(eq + 1)), schema);
  }
  return out;
}

/** Dotted keys of the values an overrides object sets ({a: {b: 1}} -> {'a.b': 1}); arrays are values. */
export function flattenOverrides(overrides: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (isPlainObject(overrides)) {
    for (const [k, v] of Object.entries(overrides)) flattenOverrides(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = overrides;
  }
  return out;
}

/** Overrides from dotted keys ({'a.b': 1} -> {a: {b: 1}}), checked against the schema. */
export function unflattenOverrides(flat: Record<string, unknown>, schema?: z.ZodTypeAny): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) setPath(out, k, v, schema);
  return out;
}
