import { describe, expect, it } from 'vitest';
import { logFormat } from '../../platform/logger.ts';
import { parseConfig } from '../../platform/config.ts';

describe('logFormat', () => {
  it('is human-readable on a terminal while developing from the sources, JSON otherwise', () => {
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({ NODE_ENV: 'production' }, true)).toBe('json');
  });

  it('follows LOG_FORMAT when set', () => {
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });

  it('rejects any other LOG_FORMAT at start-up', () => {
    const result = parseConfig({ LOG_FORMAT: 'text' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toMatch(/LOG_FORMAT/);
  });
});
