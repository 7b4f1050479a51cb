import { describe, expect, it } from 'vitest';
import { applySamplerDefault } from '../../platform/telemetry.ts';

describe('the default trace sampler', () => {
  it('keeps one trace in ten in production, parent-based', () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'production' };
    applySamplerDefault(env);
    expect(env).toMatchObject({
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
  });

  it('leaves the SDK default (every trace) outside production', () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'development' };
    applySamplerDefault(env);
    expect(env.OTEL_TRACES_SAMPLER).toBeUndefined();
  });

  it('never overrides an operator choice', () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'production', OTEL_TRACES_SAMPLER: 'always_on' };
    applySamplerDefault(env);
    expect(env.OTEL_TRACES_SAMPLER).toBe('always_on');
    expect(env.OTEL_TRACES_SAMPLER_ARG).toBeUndefined();
  });
});
