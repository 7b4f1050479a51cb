import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../platform/logger.ts';
import { startup, StoppedDuringStartup, whenStarted } from '../../projections/startup.ts';

const logger = createLogger('test', 'silent');
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('whenStarted: announcing a projection process as ready', () => {
  const unhandled = vi.fn();
  beforeAll(() => process.on('unhandledRejection', unhandled));
  afterAll(() => process.off('unhandledRejection', unhandled));
  afterEach(() => unhandled.mockClear());

  it('announces once every part has started', async () => {
    const boot = startup(logger, 'test');
    const announce = vi.fn();
    whenStarted(
      boot.retry(() => Promise.resolve()),
      announce,
    );
    await settle();
    expect(announce).toHaveBeenCalledOnce();
  });

  it('a stop while a part is still failing to start is no unhandled rejection, and nothing is announced', async () => {
    // Given a broker that is down, so the first attempt fails and the startup waits to retry
    const boot = startup(logger, 'test');
    const ready = boot.retry(() => Promise.reject(new Error('broker down')));
    const announce = vi.fn();
    whenStarted(ready, announce);
    await settle();
    // When the process is stopped before it ever started
    boot.stop();
    await expect(ready).rejects.toBeInstanceOf(StoppedDuringStartup);
    await settle();
    // Then the stop is quiet: the ready announcement never runs and nothing rejects unhandled
    expect(announce).not.toHaveBeenCalled();
    expect(unhandled).not.toHaveBeenCalled();
  });

  it('any other failure of `ready` still surfaces', async () => {
    whenStarted(Promise.reject(new Error('a bug')), vi.fn());
    await settle();
    expect(unhandled).toHaveBeenCalledOnce();
    expect((unhandled.mock.calls[0]?.[0] as Error).message).toBe('a bug');
  });
});
