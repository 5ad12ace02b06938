import type { RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors.js';
import { toAppError } from '../plugins/error-handler.js';
import { type CommandContext, commands } from './commands.js';
import { CLOSE, type Connection } from './connection.js';
import { type ParsedFrame, parseFrame } from './frames.js';

/** The `error` frame's data for anything a command threw; 503s (the database is away) are retryable. */
export function errorFrameData(error: unknown): Record<string, unknown> {
  const appError = toAppError(error);
  return {
    code: appError.code,
    message: appError.detail ?? appError.title,
    ...(appError.errors ? { errors: appError.errors } : {}),
    ...(appError.status === 503 ? { retryable: true } : {}),
  };
}

/**
 * A socket's inbound frames: flood limits, parsing, then one frame at a time in arrival order, after
 * `ready` (`setup`). Nothing a client sends can throw out of here: a command that fails answers an
 * `error` frame with its code (INTERNAL_ERROR for a bug, which is logged) and the socket goes on.
 * After the first frame is handled the connection releases what it held for a resume on connect.
 */
export function createFrameDispatcher(deps: { connection: Connection; context: CommandContext; setup: Promise<void>; rateLimit: number; rateWindowMs: number; log: FastifyBaseLogger }) {
  const { connection, context, rateLimit, rateWindowMs, log } = deps;
  let windowStart = Date.now();
  let framesInWindow = 0;
  let queue = deps.setup;

  async function handle(parsed: ParsedFrame): Promise<void> {
    if (!parsed.ok) {
      connection.send({ type: 'error', id: parsed.id, data: { code: parsed.code, message: parsed.message, ...(parsed.errors ? { errors: parsed.errors } : {}) } });
      return;
    }
    try {
      const command = commands.get(parsed.type);
      if (!command) throw new AppError('INTERNAL_ERROR', `no command for ${parsed.type}`);
      const result = await command(context, parsed.data);
      if (result) connection.send({ type: result.type, id: parsed.id, data: result.data });
    } catch (error) {
      const data = errorFrameData(error);
      if (data.code === 'INTERNAL_ERROR') log.error({ err: error, frame: parsed.type }, 'socket command failed');
      else if (data.retryable) log.warn({ err: error, frame: parsed.type }, 'socket command deferred: a dependency is unavailable');
      connection.send({ type: 'error', id: parsed.id, data });
    }
  }

  function parse(raw: RawData, isBinary: boolean): ParsedFrame {
    if (isBinary) return { ok: false, code: 'MALFORMED_FRAME', id: undefined, message: 'Frames are JSON text' };
    try {
      return parseFrame(String(raw));
    } catch (error) {
      log.error({ err: error }, 'frame parser failed');
      return { ok: false, code: 'MALFORMED_FRAME', id: undefined, message: 'The frame could not be read' };
    }
  }

  return function onMessage(raw: RawData, isBinary: boolean): void {
    if (Date.now() - windowStart > rateWindowMs) {
      windowStart = Date.now();
      framesInWindow = 0;
    }
    framesInWindow += 1;
    if (framesInWindow > rateLimit * 3) {
      connection.close(CLOSE.policy, 'too many frames');
      return;
    }
    const parsed = parse(raw, isBinary);
    const frame: ParsedFrame =
      framesInWindow > rateLimit ? { ok: false, code: 'RATE_LIMITED', id: parsed.id, message: `At most ${rateLimit} frames per 10 s` } : parsed;
    queue = queue
      .then(() => handle(frame))
      .catch((error: unknown) => log.error({ err: error }, 'socket frame handling failed'))
      .finally(() => connection.release());
  };
}
