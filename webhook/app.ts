import type { Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpsOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from '../sdk/log.ts';
import { admissionReview, reviewAdmission, type AdmissionRequest, type AdmissionResponse, type NamespaceLookup, type Reviewed } from './admission.ts';
import { Injector, type SpeedDevices } from './injector.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface AppOptions {
  config: InjectionConfig;
  /** All on unless turned off (the benchmark measures each). */
  speedDevices?: SpeedDevices;
  namespaces: NamespaceLookup;
  /** True once TLS is loaded and the namespace cache has synced, false again while draining. */
  ready: () => boolean;
  metrics: WebhookMetrics;
  logger: Logger;
  bodyLimit?: number;
  /** Key and certificate; without them the app speaks plain HTTP (tests using app.inject()). */
  https?: { key: string | Buffer; cert: string | Buffer; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  debugEndpoints?: boolean;
}

const reviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { enum: ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] },
    kind: { const: 'AdmissionReview' },
    request: { type: 'object', required: ['uid'], properties: { uid: { type: 'string', minLength: 1 } } },
  },
} as const;

interface ReviewBody {
  apiVersion: string;
  request: AdmissionRequest;
}

/**
 * The AdmissionReview reply as JSON text. An injection's reply is mostly the base64 patch, which
 * needs no JSON escaping (its alphabet is letters, digits, `+`, `/` and `=`), so it is quoted as is.
 * One string, so the response headers and body leave in one write.
 */
function replyBody(apiVersion: string, response: AdmissionResponse): string {
  const { uid, allowed, patchType, patch, status, warnings } = response;
  if (allowed && patchType === 'JSONPatch' && patch !== undefined && status === undefined && warnings === undefined) {
    return `{"apiVersion":${JSON.stringify(apiVersion)},"kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patch}"}}`;
  }
  return JSON.stringify({ ...admissionReview(response), apiVersion });
}

function logDecision(logger: FastifyBaseLogger, r: Reviewed, uid: string, durationMs: number): void {
  const fields = { uid, namespace: r.pod.namespace, name: r.pod.name, generateName: r.pod.generateName, durationMs, ...r.outcome };
  if (r.outcome.decision === 'denied') logger.warn(fields, 'pod denied');
  else if (r.outcome.decision === 'injected') logger.info(fields, 'pod injected');
  else logger.debug(fields, 'pod skipped');
}

function count(metrics: WebhookMetrics, r: Reviewed, seconds: number): void {
  const o = r.outcome;
  metrics.requests.inc(o.decision);
  metrics.duration.observe(seconds, o.decision);
  if (o.decision === 'injected') metrics.injections.inc(o.source, String(o.native));
  else if (o.decision === 'skipped') metrics.skips.inc(o.reason);
  else metrics.denials.inc(o.reason);
}

/** Builds the admission app; never listens (server.ts does). */
export function buildApp(opts: AppOptions): FastifyInstance {
  const base: FastifyServerOptions = {
    loggerInstance: opts.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // Decisions are logged with the review's uid, so requests need no child logger of their own.
    childLoggerFactory: (logger) => logger,
    // Reviews are only read, and copied with spread (which defines keys, never sets a prototype);
    // no key of a review is ever assigned onto another object, so "__proto__" and "constructor"
    // keys are plain data here and the text need not be scanned for them.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
    keepAliveTimeout: 90_000,
    return503OnClosing: true,
  };
  const app = (
    opts.https ? Fastify({ ...base, https: { ...opts.https } } as FastifyHttpsOptions<HttpsServer>) : Fastify(base)
  ) as unknown as FastifyInstance;

  // AdmissionReviews are JSON only; anything else is answered 415.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const code = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    opts.metrics.httpErrors.inc({ code: String(code) });
    if (code >= 500) req.log.error({ err, url: req.url }, 'request failed');
    else req.log.debug({ code: err.code, url: req.url, message: err.message }, 'request refused');
    const message = code === 500 ? 'internal error; see the webhook log' : err.message;
    return reply.code(code).send({ error: err.code ?? 'ERROR', message });
  });

  const injector = new Injector(opts.config, opts.speedDevices);
  app.post<{ Body: ReviewBody }>('/mutate', { schema: { body: reviewSchema } }, async (req, reply) => {
    const started = performance.now();
    const reviewed = reviewAdmission(req.body.request, opts.namespaces, injector);
    const ms = performance.now() - started;
    count(opts.metrics, reviewed, ms / 1000);
    logDecision(req.log, reviewed, req.body.request.uid, Math.round(ms * 1000) / 1000);
    return reply.type('application/json; charset=utf-8').send(replyBody(req.body.apiVersion, reviewed.response));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => (opts.ready() ? reply.send({ status: 'ready' }) : reply.code(503).send({ status: 'not ready' })));

  if (opts.debugEndpoints) {
    app.get<{ Querystring: { namespace?: string; services?: string } }>('/debug/inject', async (req) => {
      const namespace = req.query.namespace ?? 'default';
      const annotations = req.query.services === undefined ? {} : { [opts.config.annotation]: req.query.services };
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace, annotations }, spec: { containers: [{ name: 'app', image: 'app' }] } };
      const d = injector.inject(pod, opts.namespaces(namespace));
      return d.kind === 'inject' ? { decision: 'inject', pod: d.patched } : d;
    });
  }
  return app;
}
