import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { NatsContext } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { acceptId, runWithContext } from '../observability/request-context.js';
import { correlation_header } from './nats-transport.js';

/** Message handlers run inside the caller's correlation id, taken from the NATS headers. */
@Injectable()
export class RpcContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const nats = context.switchToRpc().getContext<NatsContext>();
    const correlation_id = acceptId(nats.getHeaders?.()?.get(correlation_header));
    return new Observable((subscriber) =>
      runWithContext({ request_id: randomUUID(), correlation_id }, () => next.handle().subscribe(subscriber)),
    );
  }
}
