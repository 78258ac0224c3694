/**
 * Observability: Weft's default pino logger.
 *
 * @example
 * ```ts
 * import { createLogger } from 'weft/core/observability';
 * const log = createLogger({ name: 'etl' }); // level from WEFT_LOG_LEVEL, default info
 * log.info('started');
 * ```
 *
 * @packageDocumentation
 */
export { createLogger, resolveLogLevel, LOG_LEVELS, DEFAULT_LOG_LEVEL } from './logger';
export type { Logger, LogLevel, LoggerOptions } from './logger';
