import type { Fields } from './transport';

/**
 * Reply messages: what a worker sends back to the submitter's reply queue (the `reply_to` field).
 * Flat fields, like task messages; results use the wire contract's `schema_id`/`type`/`payload`.
 */
export const ReplyField = {
  KIND: 'kind',
  EXECUTION_ID: 'execution_id',
  IDEMPOTENCY_KEY: 'idempotency_key',
  SCHEMA_ID: 'schema_id',
  TYPE: 'type',
  PAYLOAD: 'payload',
  ERROR_CODE: 'error_code',
  ERROR_MESSAGE: 'error_message',
  PROGRESS: 'progress',
  /** On an error reply: the id of the item's dead letter, when one was written (in the item's queue's dead letters). */
  DEAD_LETTER_ID: 'dead_letter_id',
} as const;

/** What a reply carries. */
export type ReplyKind = 'result' | 'error' | 'progress';

/** A parsed reply. */
export type Reply =
  | { kind: 'result'; executionId: string; idempotencyKey: string; schemaId: string; type: string; payload: Buffer }
  | { kind: 'error'; executionId: string; idempotencyKey: string; code: string; message: string; deadLetterId?: string }
  | { kind: 'progress'; executionId: string; idempotencyKey: string; progress: string };

const str = (f: Fields, k: string): string => {
  const v = f[k];
  return v === undefined ? '' : typeof v === 'string' ? v : v.toString('utf8');
};

/** Reads a reply; `undefined` for a message that is not one (it is then acked and ignored). */
export function parseReply(f: Fields): Reply | undefined {
  const executionId = str(f, ReplyField.EXECUTION_ID);
  if (!executionId) return undefined;
  const idempotencyKey = str(f, ReplyField.IDEMPOTENCY_KEY);
  switch (str(f, ReplyField.KIND)) {
    case 'result': {
      const p = f[ReplyField.PAYLOAD];
      return { kind: 'result', executionId, idempotencyKey, schemaId: str(f, ReplyField.SCHEMA_ID), type: str(f, ReplyField.TYPE),
        payload: p === undefined ? Buffer.alloc(0) : typeof p === 'string' ? Buffer.from(p, 'latin1') : p };
    }
    case 'error':
      return {
        kind: 'error', executionId, idempotencyKey, code: str(f, ReplyField.ERROR_CODE), message: str(f, ReplyField.ERROR_MESSAGE),
        ...(str(f, ReplyField.DEAD_LETTER_ID) ? { deadLetterId: str(f, ReplyField.DEAD_LETTER_ID) } : {}),
      };
    case 'progress':
      return { kind: 'progress', executionId, idempotencyKey, progress: str(f, ReplyField.PROGRESS) };
    default:
      return undefined;
  }
}

/** Fields of a result reply. */
export function resultReply(executionId: string, idempotencyKey: string, schemaId: string, type: string, payload: Uint8Array): Fields {
  return {
    [ReplyField.KIND]: 'result', [ReplyField.EXECUTION_ID]: executionId, [ReplyField.IDEMPOTENCY_KEY]: idempotencyKey, [ReplyField.SCHEMA_ID]: schemaId,
    [ReplyField.TYPE]: type, [ReplyField.PAYLOAD]: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
  };
}

/** Fields of an error reply. */
export function errorReply(executionId: string, idempotencyKey: string, code: string, message: string): Fields {
  return { [ReplyField.KIND]: 'error', [ReplyField.EXECUTION_ID]: executionId, [ReplyField.IDEMPOTENCY_KEY]: idempotencyKey, [ReplyField.ERROR_CODE]: code,
    [ReplyField.ERROR_MESSAGE]: message };
}

/** Fields of a progress reply. */
export function progressReply(executionId: string, idempotencyKey: string, progress: unknown): Fields {
  return { [ReplyField.KIND]: 'progress', [ReplyField.EXECUTION_ID]: executionId, [ReplyField.IDEMPOTENCY_KEY]: idempotencyKey,
    [ReplyField.PROGRESS]: JSON.stringify(progress ?? null) };
}
