import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DYNAMIC_CONFIG, NUM_HISTORY_SHARDS } from '../dev/cluster/index';
import { TEMPORAL_SERVER_VERSION } from '../dev/temporal-server';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev/dev-server';
import { WORKER_MALLOC_ARENA_MAX, WORKER_NODE_OPTIONS, workerEnv, workerNodeArgs } from '../worker/command';

const ROOT = join(__dirname, '..');

interface Service {
  image?: string;
  environment?: string[] | Record<string, string>;
  volumes?: string[];
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const env = (s: Service): Record<string, string> =>
  Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((e) => e.split('=', 2) as [string, string])) : (s.environment ?? {});

// docker-compose.yml cannot run here (no Docker); this keeps it saying what the cluster tests run.
describe('docker-compose.yml runs what the cluster tests run', () => {
  const { temporal, 'caretaker-setup': setup, 'caretaker-worker': worker } = compose.services;

  it('the same server version, PostgreSQL persistence and SQL visibility, shards and dynamic config', () => {
    expect(temporal!.image).toBe(`temporalio/auto-setup:${TEMPORAL_SERVER_VERSION.slice(1)}`);
    expect(env(temporal!)).toMatchObject({
      DB: 'postgres12',
      NUM_HISTORY_SHARDS: String(NUM_HISTORY_SHARDS),
      DYNAMIC_CONFIG_FILE_PATH: 'config/dynamicconfig/development-sql.yaml',
    });
    expect(temporal!.volumes).toContain(`./${relative(ROOT, join(DYNAMIC_CONFIG, '..'))}:/etc/temporal/config/dynamicconfig`);
  });

  it('the dev server (npm start, tests, benchmarks) runs with the same dynamic config values', () => {
    const cluster = parse(readFileSync(DYNAMIC_CONFIG, 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) expect(cluster[key]?.[0]?.value, key).toEqual(value);
  });

  it('the namespace and search attributes set up by the same code, before any worker starts', () => {
    expect(setup!.command).toEqual(['node', '--import', 'tsx', 'deploy/setup-temporal.ts']);
    expect(worker!.depends_on).toEqual({ 'caretaker-setup': { condition: 'service_completed_successfully' } });
  });

  it('the worker image and `npm run worker` start node as worker/command.ts says; NODE_OPTIONS of their own win', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!)).toEqual(['node', ...workerNodeArgs()]);
    expect(dockerfile).toContain(`ENV NODE_OPTIONS="${WORKER_NODE_OPTIONS}"`);
    expect(dockerfile).toContain(`ENV MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}`);
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.worker).toBe(
      `MALLOC_ARENA_MAX=\${MALLOC_ARENA_MAX:-${WORKER_MALLOC_ARENA_MAX}} NODE_OPTIONS="${WORKER_NODE_OPTIONS} $NODE_OPTIONS" exec node ${workerNodeArgs().join(' ')}`,
    );
    expect(workerEnv({ NODE_OPTIONS: '--max-old-space-size=2048' }).NODE_OPTIONS).toBe(`${WORKER_NODE_OPTIONS} --max-old-space-size=2048`);
    expect(workerEnv({}).MALLOC_ARENA_MAX).toBe(WORKER_MALLOC_ARENA_MAX);
    expect(workerEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });

  it('several worker replicas, each health-checked on /readyz', () => {
    expect(worker!.deploy?.replicas).toBeGreaterThan(1);
    expect(worker!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${env(worker!).CARETAKER_METRICS_PORT}/readyz`);
  });
});
