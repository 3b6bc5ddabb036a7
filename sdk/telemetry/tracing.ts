import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';

/**
 * Traces over OTLP with the OpenTelemetry SDK, when the standard environment asks for them
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SERVICE_NAME names the
 * service). Off otherwise, and then nothing below does more than check `tracer` is unset: chains
 * are built without span wrappers and calls carry no trace context.
 */
let tracer: Tracer | undefined;

export const tracing = (): Tracer | undefined => tracer;

export interface Tracing {
  /**
   * Exports the spans not sent yet and stops. A collector that refuses them or does not take them
   * within `limitMs` loses them, never the process's exit: the answer says what went wrong.
   */
  shutdown(limitMs?: number): Promise<string | undefined>;
}

/** Where spans are posted: the traces endpoint as given, or /v1/traces under the OTLP endpoint (the OTLP/HTTP rule). */
const tracesUrl = (env: NodeJS.ProcessEnv) => env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/$/, '')}/v1/traces`;

/** Starts the SDK for this process; undefined when the environment does not ask for traces. */
export async function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }))],
  });
  provider.register();
  useTracerProvider(provider);
  return {
    async shutdown(limitMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`the collector did not take them within ${limitMs} ms`), limitMs);
      });
      try {
        return await Promise.race([provider.shutdown().then(() => undefined), late]);
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Traces into `provider` (tests give one with an in-memory exporter); undefined turns tracing off. */
export function useTracerProvider(provider: TracerProvider | undefined): void {
  tracer = provider?.getTracer('nsm');
}

/** Runs `f` in a span that is the active one meanwhile; a failure is recorded on it and rethrown. */
export async function inSpan<T>(t: Tracer, name: string, attributes: Attributes, f: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  return t.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await f(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

type Carrier = Record<string, string>;

/** The trace context of the active span, as gRPC metadata entries (W3C traceparent/tracestate). */
export function outgoingTraceContext(): Carrier {
  const carrier: Carrier = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `f` with the trace context a caller sent (metadata entries) as the active one. */
export function withIncomingTraceContext<T>(carrier: Carrier, f: () => T): T {
  return context.with(propagation.extract(ROOT_CONTEXT, carrier), f);
}
