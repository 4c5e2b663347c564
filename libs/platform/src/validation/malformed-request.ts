import { ApiError, ErrorCode } from '@paynet/contracts';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Requests Node itself cannot parse (headers or request line over its limit,
 * broken framing) never reach Express: Node would answer a bare 431 or 400.
 * They are bad input like any other, so they get a 400 in the API.md shape.
 * Other client errors (a reset, a timeout) just close the connection.
 */
export function answerMalformedRequestsInApiShape(server: Server): void {
  // Node answers an HTTP/1.1 request without Host with a bare 400 of its own;
  // requestPathMiddleware refuses it instead, in the API shape.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const parse_error = typeof error.code === 'string' && error.code.startsWith('HPE_');
    if (!parse_error || !socket.writable) {
      socket.destroy();
      return;
    }
    const message = error.code === 'HPE_HEADER_OVERFLOW' ? 'The request line or headers are too large.' : 'The request is not valid HTTP.';
    const body = JSON.stringify(ApiError.badRequest(ErrorCode.parameter_invalid, message).toBody());
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
