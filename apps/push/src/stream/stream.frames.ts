import { ErrorCode } from '@paynet/contracts';

/** Frames of the stream (API.md, push: WebSocket stream), built in one place. */

/** The event's exact published bytes, wrapped: no re-serialization per client. */
export function eventFrame(payload: string): string {
  return `{"type":"event","event":${payload}}`;
}

export function errorFrame(code: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { code, message } });
}

export type ClientMessage = { type: 'resume'; after: string };

export type ClientMessageResult = { ok: true; message: ClientMessage } | { ok: false; frame: string };

const event_id_pattern = /^evt_[0-9A-Za-z]{8,64}$/;

/** Pure: what a client sent, or the error frame to answer it with. */
export function parseClientMessage(text: string): ClientMessageResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, frame: errorFrame(ErrorCode.invalid_json, 'Messages must be JSON text.') };
  }
  const message = json as { type?: unknown; after?: unknown } | null;
  if (typeof message !== 'object' || message === null || message.type !== 'resume') {
    return { ok: false, frame: errorFrame(ErrorCode.parameter_invalid, "Unknown message; send { \"type\": \"resume\", \"after\": \"evt_...\" }.") };
  }
  const unknown = Object.keys(message).find((key) => key !== 'type' && key !== 'after');
  if (unknown !== undefined) return { ok: false, frame: errorFrame(ErrorCode.unknown_parameter, `Received unknown parameter: ${unknown}`) };
  if (typeof message.after !== 'string' || message.after === '') {
    return { ok: false, frame: errorFrame(ErrorCode.parameter_missing, 'Missing required param: after.') };
  }
  if (!event_id_pattern.test(message.after)) {
    return { ok: false, frame: errorFrame(ErrorCode.resource_missing, `No such event: '${message.after.slice(0, 100)}'`) };
  }
  return { ok: true, message: { type: 'resume', after: message.after } };
}

/** After a resume: `replayed` events were sent, or (null) the gap could not be replayed and the client re-reads over HTTP. */
export function resumedFrame(replayed: number | null): string {
  return JSON.stringify(replayed === null ? { type: 'resumed', recovered: false } : { type: 'resumed', recovered: true, replayed });
}
