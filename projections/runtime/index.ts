/** The projector runtime, shared by the event projectors (issue 4) and the CDC projectors (issue 5). */
export * from './dlq-replay.ts';
export * from './errors.ts';
export * from './lag.ts';
export * from './messages.ts';
export * from './metrics.ts';
export * from './projector-runtime.ts';
