import fp from 'fastify-plugin';
import { AppError, type FieldError } from '../errors.js';

/** Query and path values that validation coerced to a non-finite number, as field errors. */
function nonFinite(root: string, values: unknown): FieldError[] {
  if (!values || typeof values !== 'object') return [];
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(values)) {
    const items = Array.isArray(value) ? value : [value];
    if (items.some((item) => typeof item === 'number' && !Number.isFinite(item))) errors.push({ field: `${root}.${name}`, message: 'must be a finite number' });
  }
  return errors;
}

/**
 * `?limit=Infinity` passes ajv: its string coercion turns "Infinity" into Infinity and its numeric
 * keywords (minimum, maximum) skip non-finite numbers. This runs after validation on every route
 * and refuses such a value as the validator should have: 400 VALIDATION_FAILED naming the field.
 * (JSON bodies cannot carry Infinity except as 1e400, which ajv's strictNumbers refuses.)
 */
export const finiteNumbersPlugin = fp(
  async (app) => {
    app.addHook('preHandler', async (request) => {
      const errors = [...nonFinite('query', request.query), ...nonFinite('params', request.params)];
      if (errors.length > 0) throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.field} ${e.message}`).join('; '), {}, errors);
    });
  },
  { name: 'finite-numbers' },
);
