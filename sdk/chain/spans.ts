import type { Tracer } from '@opentelemetry/api';
import { inSpan } from '../telemetry/tracing.ts';
import type { Element } from './types.ts';

/** An element whose every Request and Close is a span named after it, with the connection id; nested spans are its `next`. */
export function spanned(element: Element, tracer: Tracer): Element {
  const request = element.request?.bind(element);
  const close = element.close?.bind(element);
  return {
    ...element,
    request: request && ((ctx, req, next) => inSpan(tracer, `${element.name} request`, { 'nsm.connection.id': req.connection?.id ?? '', 'nsm.element': element.name }, () => request(ctx, req, next))),
    close: close && ((ctx, conn, next) => inSpan(tracer, `${element.name} close`, { 'nsm.connection.id': conn.id, 'nsm.element': element.name }, () => close(ctx, conn, next))),
  };
}
