/**
 * docs/SCALE.md's examples, checked and run here without a cluster:
 *   - the Kubernetes Indexed Job and merge Job manifests against the Job schema fields they use
 *     (types, enums, required fields, Indexed-Job rules, volumes), then their container commands
 *     run as the pods would (JOB_COMPLETION_INDEX 0..N-1, the shared volume a folder);
 *   - the Slurm array script run once per array task (SLURM_ARRAY_TASK_*), then the merge;
 *   - the GNU parallel script (skipped, saying so, when `parallel` is not installed).
 * Each run's merge must equal the unsharded `stats` byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CLI_PATH, runCli } from './helpers/cli.js';
import { testDir } from './helpers/tree.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/scale/', import.meta.url));
const ISC = `${process.execPath} ${CLI_PATH}`;

// ---------------------------------------------------------------------------------------------
// The Kubernetes API fields the manifests use (batch/v1 Job, core/v1 PodSpec), from the API
// reference: type of each field, allowed values, required fields. Unknown fields are errors, as
// `kubectl apply --validate=strict` makes them.
// ---------------------------------------------------------------------------------------------
type FieldType = 'string' | 'int' | 'bool' | { object: string } | { array: string | 'string' } | { map: 'string' } | { enum: readonly string[] };
interface Kind {
  fields: Record<string, FieldType>;
  required?: readonly string[];
}
const K8S: Record<string, Kind> = {
  Job: { fields: { apiVersion: { enum: ['batch/v1'] }, kind: { enum: ['Job'] }, metadata: { object: 'ObjectMeta' }, spec: { object: 'JobSpec' } }, required: ['apiVersion', 'kind', 'metadata', 'spec'] },
  ObjectMeta: { fields: { name: 'string', namespace: 'string', labels: { map: 'string' }, annotations: { map: 'string' } } },
  JobSpec: {
    fields: {
      completionMode: { enum: ['NonIndexed', 'Indexed'] },
      completions: 'int',
      parallelism: 'int',
      backoffLimit: 'int',
      backoffLimitPerIndex: 'int',
      activeDeadlineSeconds: 'int',
      ttlSecondsAfterFinished: 'int',
      template: { object: 'PodTemplateSpec' },
    },
    required: ['template'],
  },
  PodTemplateSpec: { fields: { metadata: { object: 'ObjectMeta' }, spec: { object: 'PodSpec' } }, required: ['spec'] },
  PodSpec: {
    fields: { restartPolicy: { enum: ['Always', 'OnFailure', 'Never'] }, containers: { array: 'Container' }, volumes: { array: 'Volume' } },
    required: ['containers'],
  },
  Container: {
    fields: {
      name: 'string',
      image: 'string',
      command: { array: 'string' },
      args: { array: 'string' },
      workingDir: 'string',
      env: { array: 'EnvVar' },
      volumeMounts: { array: 'VolumeMount' },
      resources: { object: 'ResourceRequirements' },
    },
    required: ['name'],
  },
  EnvVar: { fields: { name: 'string', value: 'string' }, required: ['name'] },
  VolumeMount: { fields: { name: 'string', mountPath: 'string', readOnly: 'bool', subPath: 'string' }, required: ['name', 'mountPath'] },
  Volume: { fields: { name: 'string', persistentVolumeClaim: { object: 'PersistentVolumeClaimVolumeSource' } }, required: ['name'] },
  PersistentVolumeClaimVolumeSource: { fields: { claimName: 'string', readOnly: 'bool' }, required: ['claimName'] },
  ResourceRequirements: { fields: { requests: { map: 'string' }, limits: { map: 'string' } } },
};

function check(kind: string, value: unknown, path: string, errors: string[]): void {
  const spec = K8S[kind];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${path}: expected an object (${kind})`);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const r of spec.required ?? []) if (!(r in obj)) errors.push(`${path}.${r}: required in ${kind}`);
  for (const [k, v] of Object.entries(obj)) {
    const t = spec.fields[k];
    const at = `${path}.${k}`;
    if (!t) {
      errors.push(`${at}: not a field of ${kind}`);
      continue;
    }
    checkType(t, v, at, errors);
  }
}

function checkType(t: FieldType, v: unknown, at: string, errors: string[]): void {
  if (t === 'string') {
    if (typeof v !== 'string') errors.push(`${at}: expected a string`);
  } else if (t === 'int') {
    if (!Number.isInteger(v) || (v as number) < 0) errors.push(`${at}: expected a non-negative integer`);
  } else if (t === 'bool') {
    if (typeof v !== 'boolean') errors.push(`${at}: expected a boolean`);
  } else if ('enum' in t) {
    if (!t.enum.includes(v as string)) errors.push(`${at}: ${JSON.stringify(v)} is not one of ${t.enum.join(', ')}`);
  } else if ('object' in t) {
    check(t.object, v, at, errors);
  } else if ('map' in t) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) errors.push(`${at}: expected a map of strings`);
  } else {
    if (!Array.isArray(v)) {
      errors.push(`${at}: expected an array`);
      return;
    }
    v.forEach((x, i) => checkType(t.array === 'string' ? 'string' : { object: t.array }, x, `${at}[${i}]`, errors));
  }
}

interface Job {
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: { spec: { restartPolicy?: string; containers: { args?: string[]; command?: string[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[]; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] } };
  };
}

const loadJob = (name: string) => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8')) as Job;

/** Job rules beyond field types: what the API server and the Job controller require. */
function jobRules(job: Job, errors: string[]): void {
  const s = job.spec;
  const pod = s.template.spec;
  if (pod.restartPolicy !== 'Never' && pod.restartPolicy !== 'OnFailure') errors.push('a Job pod needs restartPolicy Never or OnFailure');
  if (s.completionMode === 'Indexed' && s.completions === undefined) errors.push('an Indexed Job needs completions');
  if (s.parallelism !== undefined && s.completions !== undefined && s.parallelism > s.completions) errors.push('parallelism above completions');
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  for (const c of pod.containers) for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) errors.push(`volumeMount ${m.name} has no volume`);
}

test('the Kubernetes manifests use only Job schema fields, with the right types, and follow the Indexed Job rules', () => {
  for (const name of ['k8s-shards-job.json', 'k8s-merge-job.json']) {
    const job = loadJob(name);
    const errors: string[] = [];
    check('Job', job, name, errors);
    jobRules(job, errors);
    assert.deepEqual(errors, [], name);
  }
  // The checker itself rejects what the API would.
  const broken = loadJob('k8s-shards-job.json') as unknown as { spec: Record<string, unknown> & { template: { spec: Record<string, unknown> } } };
  broken.spec.completionMode = 'indexed';
  broken.spec.completion = 8;
  delete broken.spec.completions;
  broken.spec.template.spec.restartPolicy = 'Always';
  const errors: string[] = [];
  check('Job', broken, 'broken', errors);
  jobRules(broken as unknown as Job, errors);
  for (const want of [/completionMode: "indexed" is not one of NonIndexed, Indexed/, /completion: not a field of JobSpec/, /restartPolicy Never or OnFailure/]) {
    assert.ok(errors.some((e) => want.test(e)), `${want} in ${errors.join('; ')}`);
  }

  // The shards Job and the merge Job fit together: N, the index, the shared claim, the file names.
  const shards = loadJob('k8s-shards-job.json');
  const merge = loadJob('k8s-merge-job.json');
  assert.equal(shards.spec.completionMode, 'Indexed');
  const sc = shards.spec.template.spec.containers[0];
  const cmd = sc.args!.join(' ');
  assert.match(cmd, new RegExp(`--shard auto/${shards.spec.completions}\\b`), 'the shard count is the number of completions');
  assert.match(cmd, /\$\{JOB_COMPLETION_INDEX\}/, 'each index writes its own file');
  const claim = (j: Job, mountPath: string) => {
    const pod = j.spec.template.spec;
    const m = pod.containers[0].volumeMounts!.find((x) => x.mountPath === mountPath)!;
    return { readOnly: m.readOnly === true, claim: pod.volumes!.find((v) => v.name === m.name)!.persistentVolumeClaim!.claimName };
  };
  assert.deepEqual(claim(shards, '/shards'), claim(merge, '/shards'), 'the merge reads the volume the shards wrote');
  assert.equal(claim(shards, '/shards').readOnly, false);
  assert.equal(claim(shards, '/library').readOnly, true, 'shards never write to the library');
});

/** Run a manifest's container command as its pod would, with the volumes as local folders. */
function runPodCommand(job: Job, env: Record<string, string>, mounts: Record<string, string>): number {
  const c = job.spec.template.spec.containers[0];
  assert.deepEqual(c.command, ['sh', '-c']);
  let script = c.args![0];
  for (const [from, to] of Object.entries(mounts)) script = script.replaceAll(from, to);
  script = script.replace(/^image-sidecar /, `${ISC} `);
  const r = spawnSync('sh', ['-c', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.status!;
}

async function library(t: { after: (fn: () => void) => void }): Promise<{ lib: string; out: string; unsharded: string }> {
  const base = testDir(t, 'isc-scale-');
  const lib = join(base, 'library');
  const out = join(base, 'shards');
  mkdirSync(out);
  assert.equal((await runCli(['sample', lib, '--images', '120', '--seed', '4', '-q', '-o', '/dev/null'])).code, 0);
  const r = await runCli(['stats', lib]);
  assert.equal(r.code, 0, r.stderr);
  return { lib, out, unsharded: r.stdout };
}

test('the Kubernetes example runs: N pods with JOB_COMPLETION_INDEX, then the merge Job, give the unsharded stats', async (t) => {
  const { lib, out, unsharded } = await library(t);
  const shards = loadJob('k8s-shards-job.json');
  const mounts = { '/library': lib, '/shards': out };
  for (let i = 0; i < shards.spec.completions!; i++) runPodCommand(shards, { JOB_COMPLETION_INDEX: String(i) }, mounts);
  assert.equal(readdirSync(out).length, shards.spec.completions);
  runPodCommand(loadJob('k8s-merge-job.json'), {}, mounts);
  assert.equal(readFileSync(join(out, 'stats.json'), 'utf8'), unsharded);
});

test('the Slurm array script runs once per task (--array=1-4 numbering) and the merge gives the unsharded stats', async (t) => {
  const { lib, out, unsharded } = await library(t);
  const script = join(EXAMPLES, 'slurm-shards.sbatch');
  assert.match(readFileSync(script, 'utf8'), /^#SBATCH --array=0-7$/m);
  for (let id = 1; id <= 4; id++) {
    execFileSync('bash', [script], {
      env: { ...process.env, LIBRARY: lib, SHARDS: out, IMAGE_SIDECAR: ISC, SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' },
      stdio: 'pipe',
    });
  }
  const files = readdirSync(out).map((f) => join(out, f));
  assert.equal(files.length, 4);
  const merged = await runCli(['merge', ...files]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, unsharded);
});

const hasParallel = spawnSync('parallel', ['--version'], { stdio: 'ignore' }).status === 0;

test('the GNU parallel script gives the unsharded stats', { skip: hasParallel ? false : 'GNU parallel is not installed (apt-get install parallel)' }, async (t) => {
  const { lib, out, unsharded } = await library(t);
  const r = spawnSync('bash', [join(EXAMPLES, 'parallel.sh'), lib, out, '3', 'stats'], { env: { ...process.env, IMAGE_SIDECAR: ISC }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'stats.merged'), 'utf8'), unsharded);
});
