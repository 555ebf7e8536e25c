import { parsePointer, resolvePointer } from '../json-pointer.js';
import { invalidRequest } from '../oauth-error.js';

/** A provider's `mapping` with its pointers parsed once, at start. */
export interface CompiledMapping {
  subject: { pointer: string; tokens: string[] };
  fields: Array<{ name: string; tokens: string[] }>;
}

export function compileMapping(subjectPointer: string, mapping: Record<string, string>): CompiledMapping {
  return {
    subject: { pointer: subjectPointer, tokens: parsePointer(subjectPointer) },
    fields: Object.entries(mapping).map(([name, pointer]) => ({ name, tokens: parsePointer(pointer) })),
  };
}

/**
 * The upstream subject: a non-empty string (a number is accepted and written in decimal).
 * @throws OAuthError invalid_request when the document has none.
 */
export function readSubject(mapping: CompiledMapping, document: unknown, source: string): string {
  const value = resolvePointer(document, mapping.subject.tokens);
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw invalidRequest(`${source} has no subject at ${mapping.subject.pointer || '""'}`);
}

/** Reads each mapped field; `missing` collects the fields whose pointer found nothing. */
export function readFields(mapping: CompiledMapping, document: unknown, missing?: string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const { name, tokens } of mapping.fields) {
    const value = resolvePointer(document, tokens);
    if (value === undefined) missing?.push(name);
    else fields[name] = value;
  }
  return fields;
}
