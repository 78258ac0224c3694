import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ConfigInvalidError } from '../app/errors';

export type { Logger } from 'pino';

/** The levels Weft accepts, most severe first, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A pino level name, or `silent`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The level used when nothing chooses one (and `NODE_ENV` is not `test`). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Explicit level; wins over the environment. */
  readonly level?: string;
  /** Bound to every line as `name`. Default `weft`. */
  readonly name?: string;
  /** Where `WEFT_LOG_LEVEL` and `NODE_ENV` are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where lines go. Default: pino's default (stdout, synchronous). */
  readonly destination?: DestinationStream;
}

/**
 * The level a logger gets: `options.level`, else `WEFT_LOG_LEVEL`, else `silent` when
 * `NODE_ENV` is `test`, else {@link DEFAULT_LOG_LEVEL}.
 *
 * @throws {@link ConfigInvalidError} (`WEFT_CONFIG_INVALID`) for a name that is not a level.
 *
 * @example
 * ```ts
 * resolveLogLevel({ env: { WEFT_LOG_LEVEL: 'debug' } }); // 'debug'
 * resolveLogLevel({ env: { NODE_ENV: 'test' } });        // 'silent'
 * resolveLogLevel({ env: {} });                          // 'info'
 * ```
 */
export function resolveLogLevel(options: Pick<LoggerOptions, 'level' | 'env'> = {}): LogLevel {
  const env = options.env ?? process.env;
  if (options.level !== undefined) return checkLevel('log level', options.level);
  const fromEnv = env.WEFT_LOG_LEVEL;
  if (fromEnv !== undefined && fromEnv !== '') return checkLevel('WEFT_LOG_LEVEL', fromEnv.trim().toLowerCase());
  if (env.NODE_ENV === 'test') return 'silent';
  return DEFAULT_LOG_LEVEL;
}

/**
 * Creates Weft's default pino logger. The bootstrap registers one under `LOGGER` unless a plugin
 * provides a logger.
 *
 * @remarks
 * Plain pino, JSON lines: pretty-printing, transports and redaction are the caller's choice (pass
 * a logger of your own through a plugin that provides `logger`). Child loggers for tasks are made
 * by the runtime with `logger.child({ task, correlationId, ... })`.
 *
 * @throws {@link ConfigInvalidError} (`WEFT_CONFIG_INVALID`) for an unknown level.
 *
 * @example
 * ```ts
 * const log = createLogger({ name: 'billing' });      // level from WEFT_LOG_LEVEL, default info
 * log.info({ queue: 'etl' }, 'worker started');
 * const quiet = createLogger({ level: 'silent' });    // for tests
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = resolveLogLevel(options);
  const pinoOptions = { name: options.name ?? 'weft', level };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

function checkLevel(setting: string, value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new ConfigInvalidError(setting, value, `one of ${LOG_LEVELS.join(', ')}`);
}
