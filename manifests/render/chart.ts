// Renders a Helm chart directory the way `helm template` / `helm install` do for the features the
// nsm chart uses: values.yaml coalesced with user values, validated against values.schema.json,
// every template parsed together (defines are shared), partials (`_*.tpl`) not emitted, each
// rendered file split into YAML documents on `---` lines, and NOTES.txt rendered separately.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { Executor } from './exec.ts';
import { makeFuncs, type Lookup } from './funcs.ts';
import { parseTemplate, type Node } from './parse.ts';
import { TemplateError, floats, isMap, strictMaps } from './values.ts';

export { TemplateError };
export type { Lookup };

export interface Release {
  name: string;
  namespace: string;
  isUpgrade?: boolean;
}

export interface RenderOptions {
  release: Release;
  /** User values, coalesced over values.yaml (a null removes a default, as in Helm). */
  values?: Record<string, unknown>;
  /** What `lookup` finds in the cluster; without it nothing is found, as under `helm template`. */
  lookup?: Lookup;
  now?: Date;
}

export interface RenderedObject {
  source: string;
  obj: Record<string, unknown>;
}

export interface Rendered {
  values: Record<string, unknown>;
  files: { source: string; text: string }[];
  objects: RenderedObject[];
  notes: string;
}

export interface Chart {
  dir: string;
  name: string;
  meta: Record<string, unknown>;
  values: Record<string, unknown>;
  schema: Record<string, unknown>;
  templates: Map<string, string>;
  crds: Map<string, string>;
}

/** YAML as Kubernetes tooling reads it (YAML 1.1 scalars: yes/no/on/off are booleans). */
export function readYaml(text: string): unknown {
  return parseYaml(text, { version: '1.1' });
}

function readDir(dir: string, allowed: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) throw new TemplateError(`${path}: sub-directories are not supported`);
    if (!allowed.test(f)) throw new TemplateError(`${path}: unexpected file`);
    out.set(f, readFileSync(path, 'utf8'));
  }
  return out;
}

export function loadChart(dir: string): Chart {
  const meta = readYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8'));
  const values = readYaml(readFileSync(join(dir, 'values.yaml'), 'utf8'));
  if (!isMap(meta) || typeof meta.name !== 'string') throw new TemplateError(`${dir}/Chart.yaml: needs a name`);
  if (!isMap(values)) throw new TemplateError(`${dir}/values.yaml: must be a map`);
  return {
    dir,
    name: meta.name,
    meta,
    values,
    schema: JSON.parse(readFileSync(join(dir, 'values.schema.json'), 'utf8')) as Record<string, unknown>,
    templates: readDir(join(dir, 'templates'), /^(_[\w.-]+\.tpl|[\w.-]+\.yaml|NOTES\.txt)$/),
    crds: readDir(join(dir, 'crds'), /^[\w.-]+\.yaml$/),
  };
}

/** Helm's coalescing of user values over defaults: maps merge, everything else replaces, null deletes. */
export function coalesce(defaults: Record<string, unknown>, user: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(defaults);
  for (const [k, v] of Object.entries(user)) {
    const d = out[k];
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(d)) out[k] = coalesce(d, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/** Validates values against the chart's schema; returns the error messages (empty when valid). */
export function validateValues(chart: Chart, values: unknown): string[] {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(chart.schema);
  if (validate(values)) return [];
  return validate.errors!.map((e) => {
    const allowed = 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : '';
    return `${e.instancePath || '/'} ${String(e.message)}${allowed}`;
  });
}

const CHART_FIELDS: Record<string, string> = {
  name: 'Name',
  version: 'Version',
  appVersion: 'AppVersion',
  description: 'Description',
  type: 'Type',
  apiVersion: 'APIVersion',
  kubeVersion: 'KubeVersion',
};

/** Splits rendered text into YAML documents and parses each non-empty one. */
export function splitDocuments(text: string, source: string): Record<string, unknown>[] {
  const objs: Record<string, unknown>[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new TemplateError(`${source}: invalid YAML: ${doc.errors[0]?.message}`);
    const obj: unknown = doc.toJS();
    if (obj === null || obj === undefined) continue;
    if (!isMap(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      throw new TemplateError(`${source}: every document must be an object with apiVersion and kind`);
    }
    objs.push(obj);
  }
  return objs;
}

export function renderChart(chart: Chart, opts: RenderOptions): Rendered {
  const values = coalesce(chart.values, opts.values ?? {});
  const errors = validateValues(chart, values);
  if (errors.length > 0) throw new TemplateError(`values don't meet the schema:\n  ${errors.join('\n  ')}`);

  const defines = new Map<string, Node[]>();
  const bodies = new Map<string, Node[]>();
  for (const [file, src] of chart.templates) {
    const source = `${chart.name}/templates/${file}`;
    const parsed = parseTemplate(src, source);
    for (const [name, nodes] of parsed.defines) {
      if (defines.has(name)) throw new TemplateError(`${source}: template "${name}" defined twice`);
      defines.set(name, nodes);
    }
    bodies.set(file, parsed.nodes);
  }

  const chartObj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(chart.meta)) if (CHART_FIELDS[k]) chartObj[CHART_FIELDS[k]] = v;
  const root = {
    Values: floats(values),
    Release: {
      Name: opts.release.name,
      Namespace: opts.release.namespace,
      Service: 'Helm',
      IsInstall: !opts.release.isUpgrade,
      IsUpgrade: Boolean(opts.release.isUpgrade),
    },
    Chart: chartObj,
  };
  for (const o of [root, root.Release, root.Chart]) strictMaps.add(o);
  const exec = new Executor(defines, makeFuncs({ lookup: opts.lookup, now: opts.now }));

  const files: Rendered['files'] = [];
  const objects: RenderedObject[] = [];
  let notes = '';
  for (const [file, nodes] of bodies) {
    if (file.startsWith('_')) continue;
    const source = `${chart.name}/templates/${file}`;
    const text = exec.run(nodes, root);
    if (file === 'NOTES.txt') {
      notes = text;
      continue;
    }
    files.push({ source, text });
    for (const obj of splitDocuments(text, source)) objects.push({ source, obj });
  }
  return { values, files, objects, notes };
}
